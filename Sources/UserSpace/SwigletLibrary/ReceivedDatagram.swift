/// A datagram received into a channel buffer and lent to the program until it gives it back.

/// A received datagram still in its channel buffer: the program reads it in place
/// (`ChannelEndpoint.bytes(of:)`) and must give the buffer back, either by `release` (the
/// buffer is posted for receive again) or by sending from it (`send(_:length:to:socket:)`,
/// a zero-copy reply).
public struct ReceivedDatagram: Equatable, Sendable {
    /// The socket it arrived on.
    public let socket: UInt16
    /// Who sent it.
    public let source: SocketAddress
    /// The buffer holding it.
    public let bufferIndex: UInt32
    /// Where the payload starts in the buffer.
    public let offset: UInt32
    /// The payload's length.
    public let length: UInt32

    /// A received datagram (made by the library from a `received` completion).
    public init(socket: UInt16, source: SocketAddress, bufferIndex: UInt32, offset: UInt32, length: UInt32) {
        self.socket = socket
        self.source = source
        self.bufferIndex = bufferIndex
        self.offset = offset
        self.length = length
    }
}
