// The persist timer: when the peer's window is zero and data waits, send one-byte probes with exponential backoff (RFC 9293 §3.8.6.1).

/// The persist timer of one connection — RFC 9293 §3.8.6.1 (zero-window probing).
///
/// It runs while the peer offers a zero window, we have data to send and nothing is in flight
/// (so no retransmission timer runs to notice a lost window update). Each expiry sends one
/// probe and doubles the interval up to the RTO maximum. RFC 9293 says the connection MUST NOT
/// be closed while the peer keeps answering probes: `unansweredProbes` counts only probes
/// after which no acceptable ACK came back, and only that count may end the connection.
public struct PersistTimer: Sendable {
    /// When the next probe is due, or `nil` when the timer is stopped.
    public private(set) var deadline: UInt64?
    /// The current interval between probes.
    public private(set) var interval: UInt64 = 0
    /// Probes sent since the peer last answered with an acceptable ACK.
    public private(set) var unansweredProbes = 0

    /// A stopped timer.
    public init() {}

    /// Starts the timer with `interval` (the current RTO) unless it runs already.
    public mutating func start(now: UInt64, interval: UInt64) {
        guard deadline == nil else { return }
        self.interval = interval
        deadline = now &+ interval
    }

    /// The window opened or data went in flight: stop and forget the backoff.
    public mutating func stop() {
        deadline = nil
        unansweredProbes = 0
    }

    /// Whether the timer runs and its deadline has come.
    public func hasExpired(now: UInt64) -> Bool {
        guard let deadline else { return false }
        return now >= deadline
    }

    /// A probe went out at `now`: back off exponentially, up to `maximumInterval`.
    public mutating func probeSent(now: UInt64, maximumInterval: UInt64) {
        unansweredProbes += 1
        interval = interval > maximumInterval / 2 ? maximumInterval : max(interval * 2, 1)
        deadline = now &+ interval
    }

    /// The peer answered (an acceptable ACK arrived): it is alive, whatever its window says.
    public mutating func peerAnswered() {
        unansweredProbes = 0
    }
}
