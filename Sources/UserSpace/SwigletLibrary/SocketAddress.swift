/// An IPv4 address and UDP port, as programs name the other end of a datagram.

/// An IPv4 address and a UDP port, both in host order.
public struct SocketAddress: Equatable, Sendable {
    /// The IPv4 address as a number: 10.0.2.2 is 0x0A00_0202.
    public var address: UInt32
    /// The UDP port.
    public var port: UInt16

    /// `address`:`port`.
    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `a.b.c.d`:`port`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        address = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
        self.port = port
    }
}
