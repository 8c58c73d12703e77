/// What happened on a program's TCP connections: the events `StreamEndpoint` hands out.

import Channels

/// Stream bytes received into a channel buffer and lent to the program until it gives the
/// buffer back (`StreamEndpoint.release`) or sends from it (`StreamEndpoint.send(_:on:)`).
public struct ReceivedBuffer: Equatable, @unchecked Sendable {
    /// The channel buffer holding the bytes.
    public let bufferIndex: UInt32
    /// The bytes, valid until the buffer is released or sent.
    public let bytes: UnsafeRawBufferPointer

    /// A lent buffer (made by the library from a `streamReceived` completion).
    public init(bufferIndex: UInt32, bytes: UnsafeRawBufferPointer) {
        self.bufferIndex = bufferIndex
        self.bytes = bytes
    }

    public static func == (left: ReceivedBuffer, right: ReceivedBuffer) -> Bool {
        left.bufferIndex == right.bufferIndex && left.bytes.baseAddress == right.bytes.baseAddress
            && left.bytes.count == right.bytes.count
    }
}

/// One thing that happened on the program's TCP connections, in the order the network core
/// reported it. Connection numbers are small integers below `StreamEndpoint.maximumConnections`.
public enum StreamEvent: Equatable, Sendable {
    /// A new connection arrived on a port this program listens on.
    case accepted(connection: UInt16, remote: SocketAddress, localPort: UInt16)
    /// A `connect` finished its handshake; `cookie` is what `connect` returned.
    case connected(connection: UInt16, cookie: UInt64)
    /// A `connect` failed (refused, timed out, no route, table full).
    case connectFailed(cookie: UInt64, error: SocketError)
    /// In-order bytes arrived; give the buffer back with `release` or send from it.
    case received(connection: UInt16, data: ReceivedBuffer)
    /// The network core's send buffer took `length` bytes of an earlier `send` (whose channel
    /// buffer is free again): room to send more.
    case sent(connection: UInt16, length: Int)
    /// The peer sent its FIN: no more bytes will arrive (we may still send).
    case finished(connection: UInt16)
    /// The connection is gone — after our `close` (error nil), or because it was reset or timed
    /// out (then its number is released by the library itself). The number is invalid from now on.
    case closed(connection: UInt16, error: SocketError?)
}
