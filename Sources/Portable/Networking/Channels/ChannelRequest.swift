/// The fixed 32-byte request a program puts in its request ring, field by field.

/// One request from a program to the network core: 32 bytes, two per cache line.
///
/// Every field is a plain integer, not an enum, because the program can write any bits: the
/// network core decodes `operation` with `ChannelRequest.Operation(rawValue:)` and validates
/// each field it uses (`RequestValidator`). Byte layout (host order, little-endian on x86-64):
///
/// ```
///  0      1      2         4            8         12        16        20     22        24              32
///  ┌──────┬──────┬─────────┬────────────┬─────────┬─────────┬─────────┬──────┬─────────┬───────────────┐
///  │ op   │ flags│ socket  │ bufferIndex│ offset  │ length  │ address │ port │ reserved│ cookie        │
///  │ UInt8│ UInt8│ UInt16  │ UInt32     │ UInt32  │ UInt32  │ UInt32  │UInt16│ UInt16  │ UInt64        │
///  └──────┴──────┴─────────┴────────────┴─────────┴─────────┴─────────┴──────┴─────────┴───────────────┘
/// ```
///
/// | operation | socket | bufferIndex, offset, length | address, port |
/// | --- | --- | --- | --- |
/// | `bind` | ignored (the network core picks one) | ignored | local port in `port` |
/// | `send` | a bound socket | the datagram's payload | destination |
/// | `postReceiveBuffer` | ignored (any socket of the channel) | the buffer (offset, length ignored) | ignored |
/// | `close` | a bound socket | ignored | ignored |
/// | `listen` | ignored | ignored | local TCP port in `port` |
/// | `connect` | ignored (the network core picks the connection) | ignored | destination |
/// | `streamSend` | a connection | the bytes to queue on it | ignored |
/// | `streamShutdown` | a connection | ignored | ignored |
/// | `streamClose` | a connection | ignored | ignored |
///
/// `flags` (offset 1): only `send` and `streamSend` have one, `postAfterSend` (bit 0); any other
/// bit, or a flag on another operation, makes the request `unknownRequest`.
///
/// For TCP the `socket` field names a connection: the number an `accepted` or `connected`
/// completion gave, valid until the `streamClosed` completion that answers `streamClose`.
public struct ChannelRequest: BitwiseCopyable, Equatable, Sendable {
    /// What the program asks for: an `Operation` raw value (offset 0).
    public var operation: UInt8
    /// `ChannelRequest.postAfterSend` on a `send` or `streamSend`, otherwise 0 (offset 1).
    public var flags: UInt8
    /// The socket the request is about, as the `bound` completion named it (offset 2).
    public var socket: UInt16
    /// A buffer of the channel's pool, 0 to bufferCount − 1 (offset 4).
    public var bufferIndex: UInt32
    /// Where the payload starts in that buffer (offset 8).
    public var offset: UInt32
    /// The payload's length in bytes (offset 12).
    public var length: UInt32
    /// The destination IPv4 address as a number in host order: 10.0.2.2 is 0x0A00_0202 (offset 16).
    public var address: UInt32
    /// A port in host order (offset 20): UDP's destination for `send` and local port for `bind`;
    /// TCP's local port for `listen` and remote port for `connect`.
    public var port: UInt16
    /// Must be 0 (offset 22).
    public var reserved1: UInt16
    /// Any value the program likes; the network core copies it into the request's completion
    /// so the program can match them (offset 24).
    public var cookie: UInt64

    /// What a request asks for.
    public enum Operation: UInt8, Sendable {
        /// Bind a UDP port to a new socket of this channel; completes with `bound` or `error`.
        case bind = 1
        /// Send the buffer's bytes `offset..<offset+length` as one UDP datagram from the
        /// socket's port; the buffer goes to the network core and comes back with `sent` or
        /// `error`.
        case send = 2
        /// Give a buffer to the network core to fill with a received datagram for any socket
        /// of this channel; it comes back with `received`. No completion on success.
        case postReceiveBuffer = 3
        /// Unbind the socket; completes with `closed` or `error`.
        case close = 4
        /// Accept TCP connections on `port`; completes with `listening` or `error`. Several
        /// channels may listen on one port: new connections are spread over them in turn, each
        /// announced to its channel with an `accepted` completion.
        case listen = 5
        /// Open a TCP connection to `address`:`port`; completes with `connected` (the new
        /// connection in `socket`) once the handshake is done, or `error` (refused, timed out).
        case connect = 6
        /// Queue the buffer's bytes `offset..<offset+length` on connection `socket`, after what
        /// was queued before. The network core keeps the buffer until the connection is done
        /// with every byte — with `tcp-send=lend` (the default) the buffer is lent to the
        /// connection and read in place until the peer acknowledges it; with `tcp-send=copy`
        /// until its send buffer has copied them — then gives it back with `streamSent` (with
        /// `postAfterSend`: posts it for receive, no completion). The program must not write the
        /// buffer meanwhile. A send after `streamShutdown` is refused (`notWritable`).
        case streamSend = 7
        /// Send a FIN after everything queued (half-close); completes with `streamShutDown`.
        case streamShutdown = 8
        /// The program is done with the connection: FIN after everything queued (a RST when
        /// received data was left unread), and the number is free for reuse after the
        /// `streamClosed` completion.
        case streamClose = 9
    }

    /// A request with every field given (zero by default).
    public init(operation: UInt8, socket: UInt16 = 0, bufferIndex: UInt32 = 0, offset: UInt32 = 0,
                length: UInt32 = 0, address: UInt32 = 0, port: UInt16 = 0, cookie: UInt64 = 0) {
        self.operation = operation
        flags = 0
        self.socket = socket
        self.bufferIndex = bufferIndex
        self.offset = offset
        self.length = length
        self.address = address
        self.port = port
        reserved1 = 0
        self.cookie = cookie
    }

    /// Bind local UDP `port`.
    public static func bind(port: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.bind.rawValue, port: port, cookie: cookie)
    }

    /// The `send` and `streamSend` flag that posts the buffer for receive once the network core
    /// is done with it (the datagram sent; the stream's bytes copied, or acknowledged when
    /// lent), instead of giving it back with a `sent` or `streamSent` completion: an echo or a
    /// request-answer server, which posts a buffer again for every one it answers from, saves
    /// a completion and a request per answer. A refused send is answered as without the flag
    /// (`error`, the buffer given back when `bufferReturned` is 1): the program counts the
    /// buffer posted when it sends, and uncounts it on a refusal (`ChannelEndpoint` and
    /// `StreamEndpoint` mark such sends by their cookie).
    public static let postAfterSend: UInt8 = 1

    /// Send `length` bytes at `offset` in buffer `bufferIndex` from `socket` to `address`:`port`;
    /// with `postAfterSend` the buffer is posted for receive once sent (no `sent` completion).
    public static func send(socket: UInt16, bufferIndex: UInt32, offset: UInt32, length: UInt32,
                            address: UInt32, port: UInt16, postAfterSend: Bool = false, cookie: UInt64 = 0) -> ChannelRequest {
        var request = ChannelRequest(operation: Operation.send.rawValue, socket: socket, bufferIndex: bufferIndex,
                                     offset: offset, length: length, address: address, port: port, cookie: cookie)
        if postAfterSend { request.flags = Self.postAfterSend }
        return request
    }

    /// Hand buffer `bufferIndex` to the network core to receive into.
    public static func postReceiveBuffer(_ bufferIndex: UInt32, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.postReceiveBuffer.rawValue, bufferIndex: bufferIndex, cookie: cookie)
    }

    /// Unbind `socket`.
    public static func close(socket: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.close.rawValue, socket: socket, cookie: cookie)
    }

    /// Listen for TCP connections on `port`.
    public static func listen(port: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.listen.rawValue, port: port, cookie: cookie)
    }

    /// Open a TCP connection to `address`:`port`.
    public static func connect(address: UInt32, port: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.connect.rawValue, address: address, port: port, cookie: cookie)
    }

    /// Queue `length` bytes at `offset` in buffer `bufferIndex` on connection `connection`; with
    /// `postAfterSend` the buffer is posted for receive once sent (no `streamSent` completion).
    public static func streamSend(connection: UInt16, bufferIndex: UInt32, offset: UInt32, length: UInt32,
                                  postAfterSend: Bool = false, cookie: UInt64 = 0) -> ChannelRequest {
        var request = ChannelRequest(operation: Operation.streamSend.rawValue, socket: connection, bufferIndex: bufferIndex,
                                     offset: offset, length: length, cookie: cookie)
        if postAfterSend { request.flags = Self.postAfterSend }
        return request
    }

    /// Half-close `connection` after its queued bytes.
    public static func streamShutdown(connection: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.streamShutdown.rawValue, socket: connection, cookie: cookie)
    }

    /// Be done with `connection`.
    public static func streamClose(connection: UInt16, cookie: UInt64 = 0) -> ChannelRequest {
        ChannelRequest(operation: Operation.streamClose.rawValue, socket: connection, cookie: cookie)
    }
}
