/// The stack's addresses are the one IPv4 address type of `InternetAddress`, seen by every user of the stack.
@_exported import InternetAddress
