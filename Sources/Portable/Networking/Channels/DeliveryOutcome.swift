/// What became of a datagram the network core delivered to a channel.

/// What became of a datagram given to `ServerChannel.deliver`. Every drop is counted in
/// the channel's `ChannelCounters`.
public enum DeliveryOutcome: Equatable, Sendable {
    /// Copied into a posted buffer, completion pushed.
    case delivered
    /// The channel had no posted receive buffer (`droppedNoReceiveBuffer`).
    case droppedNoReceiveBuffer
    /// The completion ring was full (`droppedCompletionRingFull`); the buffer stays posted.
    case droppedCompletionRingFull
    /// Longer than a buffer (`droppedTooLarge`).
    case droppedTooLarge
    /// The channel broke the protocol or the socket is not bound (`droppedNotDeliverable`).
    case droppedNotDeliverable
}
