// One end of a TCP connection: an IPv4 address and a port, independent of the Network module's types.

/// An IPv4 address and TCP port — one end of a connection's four-tuple (RFC 9293 §3.3.1).
public struct TCPEndpoint: Equatable, Hashable, Sendable {
    /// The IPv4 address in host order (10.0.2.15 is 0x0A00020F).
    public var address: UInt32
    /// The TCP port.
    public var port: UInt16

    /// Creates an endpoint.
    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }
}
