/// What the program side of a channel counts: asynchronous send errors and anything it had to drop.

import Channels

/// Counters kept by `ChannelEndpoint`. Sends complete asynchronously, so their errors are
/// not returned by `send`: they are counted here (and the buffer comes back regardless).
public struct EndpointStatistics: Sendable {
    /// Sends the network core took and gave the buffer back for (`sent` and `streamSent`
    /// completions).
    public var sendsCompleted: UInt64 = 0
    /// Sends (datagrams, or stream buffers with `StreamEndpoint.answersPostTheirBuffers`) made
    /// with `ChannelRequest.postAfterSend`: their buffers are posted for receive once sent, with
    /// no `sent` or `streamSent` completion (a refused one also counts in `sendErrors`, or in
    /// `StreamEndpoint.sendErrors`).
    public var sendsPostingTheirBuffer: UInt64 = 0
    /// Sends the network core refused (`error` completions for `send`).
    public var sendErrors: UInt64 = 0
    /// The error of the most recent refused send.
    public var lastSendError: ChannelError?
    /// Datagrams received (`received` completions).
    public var received: UInt64 = 0
    /// Receive buffers the network core refused to take (a library bug if ever non-zero).
    public var receivePostErrors: UInt64 = 0
    /// Datagrams that arrived while `bind` waited and did not fit its small holding queue:
    /// their buffers were posted again.
    public var droppedWhileWaiting: UInt64 = 0
    /// Completions the library could not make sense of (ignored).
    public var malformedCompletions: UInt64 = 0

    /// All zero.
    public init() {}
}
