/// What the network core supplies to serve channels: binding ports and sending datagrams through its stack.

/// The network stack as `ServerChannel` needs it. The network core implements it over its
/// `NetworkStack` (this module does not import Network, so the protocol stays portable and
/// testable with a fake). Generic, not existential: the calls inline into the server's loop.
public protocol ChannelRequestHandler {
    /// Claims UDP `port` for socket `socket` of channel `channel`, so that datagrams for it
    /// go to `ChannelServer.deliver(payload:from:channel:socket:)`. Fails with `portInUse` when
    /// anyone (any channel, or a service of the network core) has it.
    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError>

    /// Releases `port`, bound earlier by `bind` for this channel and socket.
    mutating func unbind(port: UInt16, channel: Int, socket: UInt16)

    /// Sends `payload` as one UDP datagram from local port `sourcePort` to `destination`.
    /// `payload` is in memory the program can write while this runs: read each byte once
    /// (copy it into the frame, checksum the copy). Fails with `datagramTooLarge`, `noRoute`, or
    /// `throttled` when the stack cannot take it now (transmit ring or ARP queue full).
    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError>
}
