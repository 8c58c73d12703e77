/// What the network core counts per channel: requests, completions, each error, drops, throttling.

/// Everything the network core counts for one channel. Plain integers: the network core is
/// their only writer.
public struct ChannelCounters: Sendable {
    /// Requests taken from the request ring (valid or not).
    public var requests: UInt64 = 0
    /// Completions pushed into the completion ring (of every kind).
    public var completions: UInt64 = 0
    /// Successful `bind`s.
    public var bound: UInt64 = 0
    /// Datagrams handed to the network stack by `send`.
    public var sent: UInt64 = 0
    /// Payload bytes of those datagrams.
    public var bytesSent: UInt64 = 0
    /// Buffers posted for receive.
    public var receiveBuffersPosted: UInt64 = 0
    /// Datagrams delivered into posted buffers.
    public var received: UInt64 = 0
    /// Payload bytes of those datagrams.
    public var bytesReceived: UInt64 = 0
    /// Successful `close`s.
    public var closed: UInt64 = 0
    /// Datagrams for this channel dropped because it had no posted receive buffer.
    public var droppedNoReceiveBuffer: UInt64 = 0
    /// Datagrams dropped because the completion ring was full (the program is not reading it).
    public var droppedCompletionRingFull: UInt64 = 0
    /// Datagrams dropped because they do not fit a buffer.
    public var droppedTooLarge: UInt64 = 0
    /// Datagrams dropped because the channel is broken or the socket is not bound.
    public var droppedNotDeliverable: UInt64 = 0
    /// Poll passes that stopped at the budget with requests still waiting (see `ChannelServer`).
    public var throttledPasses: UInt64 = 0
    /// Poll passes that stopped because the completion ring had no room for a reply.
    public var completionRingFullPasses: UInt64 = 0
    /// Stream bytes the send buffers took from `streamSend` buffers.
    public var streamBytesSent: UInt64 = 0
    /// Stream bytes delivered into posted buffers.
    public var streamBytesReceived: UInt64 = 0
    /// Connections announced with `accepted` or `connected`.
    public var connectionsOpened: UInt64 = 0
    /// Protocol violations on either ring (at most 1: the channel stops at the first).
    public var protocolViolations: UInt64 = 0
    /// `error` completions, one counter per `ChannelError` (index: raw value).
    private var errorCounts = InlineArray<32, UInt64>(repeating: 0)

    /// All zero.
    public init() {}

    /// How many `error` completions said `error`.
    public subscript(error error: ChannelError) -> UInt64 {
        errorCounts[Int(error.rawValue)]
    }

    /// Counts one `error` completion.
    public mutating func countError(_ error: ChannelError) {
        errorCounts[Int(error.rawValue)] &+= 1
    }

    /// The sum of all error counters.
    public var totalErrors: UInt64 {
        var total: UInt64 = 0
        var raw = 1
        while raw <= ChannelError.count {
            total &+= errorCounts[raw]
            raw += 1
        }
        return total
    }
}
