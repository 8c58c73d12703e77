/// An IPv4 address and port, as programs name the other end of a datagram or a connection.
@_exported import InternetAddress

/// An IPv4 address and a port. The channel's requests and completions carry the address as
/// its raw 32-bit value (the ABI, `docs/channels.md`); the library converts at that boundary.
public struct SocketAddress: Equatable, Sendable {
    /// The IPv4 address.
    public var address: IPv4Address
    /// The UDP or TCP port, in host order.
    public var port: UInt16

    /// `address`:`port`.
    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `a.b.c.d`:`port`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        address = IPv4Address(a, b, c, d)
        self.port = port
    }
}
