// One end of a TCP connection: an IPv4 address and a port.
import InternetAddress

/// An IPv4 address and TCP port — one end of a connection's four-tuple (RFC 9293 §3.3.1).
public struct TCPEndpoint: Equatable, Hashable, Sendable {
    /// The IPv4 address.
    public var address: IPv4Address
    /// The TCP port.
    public var port: UInt16

    /// Creates an endpoint.
    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }
}
