/// The fixed 32-byte completion the network core puts in a program's completion ring, field by field.

/// One completion from the network core to a program: 32 bytes, the same shape as
/// `ChannelRequest`. Byte layout (host order):
///
/// ```
///  0      1      2         4            8         12        16        20     22    23    24              32
///  ┌──────┬──────┬─────────┬────────────┬─────────┬─────────┬─────────┬──────┬─────┬─────┬───────────────┐
///  │ kind │ error│ socket  │ bufferIndex│ offset  │ length  │ address │ port │ req.│ buf.│ cookie        │
///  │ UInt8│ UInt8│ UInt16  │ UInt32     │ UInt32  │ UInt32  │ UInt32  │UInt16│UInt8│UInt8│ UInt64        │
///  └──────┴──────┴─────────┴────────────┴─────────┴─────────┴─────────┴──────┴─────┴─────┴───────────────┘
///  (req. = `requestOperation`, buf. = `bufferReturned`)
/// ```
///
/// | kind | socket | bufferIndex, offset, length | address, port | cookie |
/// | --- | --- | --- | --- | --- |
/// | `bound` | the new socket | 0 | 0, the bound port | the request's |
/// | `received` | the receiving socket | the filled buffer, the payload (offset 0) | the source | 0 |
/// | `sent` | the sending socket | the returned buffer, as requested | the destination | the request's |
/// | `closed` | the closed socket | 0 | 0, its port | the request's |
/// | `error` | as requested | as requested; the buffer is the program's again when `bufferReturned` | as requested | the request's |
/// | `listening` | 0 | 0 | 0, the port | the request's |
/// | `accepted` | the new connection | 0, 0, the local port | the peer | 0 |
/// | `connected` | the new connection | 0, 0, the local port | the peer | the `connect`'s |
/// | `streamReceived` | the connection | the filled buffer, the bytes (offset 0) | 0 | 0 |
/// | `streamSent` | the connection | the returned buffer, as requested | 0 | the request's |
/// | `peerFinished` | the connection | 0 | 0 | 0 |
/// | `streamShutDown` | the connection | 0 | 0 | the request's |
/// | `streamAborted` | the connection (still reserved: close it) | 0 | 0 | 0; `error` says why |
/// | `streamClosed` | the connection, now free | 0 | 0 | the request's |
///
/// The program trusts the network core (it is part of the kernel), but the library still
/// checks buffer indices before using them.
public struct ChannelCompletion: BitwiseCopyable, Equatable, Sendable {
    /// A `Kind` raw value (offset 0).
    public var kind: UInt8
    /// A `ChannelError` raw value for `error` completions, 0 otherwise (offset 1).
    public var error: UInt8
    /// The socket (offset 2).
    public var socket: UInt16
    /// The buffer that comes back to the program, if any (offset 4).
    public var bufferIndex: UInt32
    /// Where the payload starts in the buffer (offset 8).
    public var offset: UInt32
    /// The payload's length (offset 12).
    public var length: UInt32
    /// An IPv4 address in host order: the source of a received datagram, the destination of
    /// a sent one (offset 16).
    public var address: UInt32
    /// A UDP port in host order: the source of a received datagram, the destination of a sent
    /// one, the local port of `bound`/`closed` (offset 20).
    public var port: UInt16
    /// The raw `operation` of the request this answers; 0 for `received` (offset 22).
    public var requestOperation: UInt8
    /// 1 when an `error` completion gives the request's buffer back to the program (it had
    /// been handed over validly), 0 when the program kept it or never owned it (offset 23).
    public var bufferReturned: UInt8
    /// The request's cookie (offset 24).
    public var cookie: UInt64

    /// What a completion reports.
    public enum Kind: UInt8, Sendable {
        /// A `bind` succeeded: `socket` is the new socket, `port` its port.
        case bound = 1
        /// A datagram arrived in a posted buffer, now the program's again.
        case received = 2
        /// A `send` left (or waits for ARP in the network core's own memory); the buffer is the
        /// program's again.
        case sent = 3
        /// A `close` succeeded.
        case closed = 4
        /// A request was refused: `error` says why.
        case error = 5
        /// A `listen` succeeded.
        case listening = 6
        /// A new connection arrived on a port this channel listens on.
        case accepted = 7
        /// A `connect` finished its handshake.
        case connected = 8
        /// In-order stream bytes arrived in a posted buffer, now the program's again.
        case streamReceived = 9
        /// The send buffer took every byte of a `streamSend`; its buffer is the program's again.
        case streamSent = 10
        /// The peer sent its FIN: no more bytes will arrive on the connection.
        case peerFinished = 11
        /// A `streamShutdown` was carried out: our FIN is queued after the data.
        case streamShutDown = 12
        /// The connection died (reset or timed out; `error` says which). Its number stays
        /// reserved until the program's `streamClose`.
        case streamAborted = 13
        /// A `streamClose` was carried out: the number may name a new connection from now on.
        case streamClosed = 14
    }

    /// A completion with every field given (zero by default).
    public init(kind: Kind, error: ChannelError? = nil, socket: UInt16 = 0, bufferIndex: UInt32 = 0,
                offset: UInt32 = 0, length: UInt32 = 0, address: UInt32 = 0, port: UInt16 = 0,
                requestOperation: UInt8 = 0, bufferReturned: Bool = false, cookie: UInt64 = 0) {
        self.kind = kind.rawValue
        self.error = error?.rawValue ?? 0
        self.socket = socket
        self.bufferIndex = bufferIndex
        self.offset = offset
        self.length = length
        self.address = address
        self.port = port
        self.requestOperation = requestOperation
        self.bufferReturned = bufferReturned ? 1 : 0
        self.cookie = cookie
    }

    /// The decoded kind, nil for a value no network core sends.
    public var decodedKind: Kind? { Kind(rawValue: kind) }
    /// The decoded error, nil when there is none.
    public var decodedError: ChannelError? { ChannelError(rawValue: error) }
}
