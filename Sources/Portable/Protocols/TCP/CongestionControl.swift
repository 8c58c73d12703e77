// Congestion control of one connection: slow start and congestion avoidance (RFC 5681), fast retransmit and NewReno recovery (RFC 6582).

/// The sender's congestion state — RFC 5681 §3 with the NewReno modification of RFC 6582.
///
/// Counts bytes, not segments: slow start grows cwnd by the bytes acknowledged (at most one
/// SMSS per ACK, RFC 5681 §3.1 equation 2, which is RFC 3465 byte counting with L = 1 SMSS),
/// congestion avoidance by one SMSS per cwnd of acknowledged bytes (RFC 5681 §3.1, the byte
/// counting variant). The initial window follows RFC 6928 (about 10 segments), or 1 SMSS when the
/// SYN had to be retransmitted (RFC 5681 §3.1). Limited transmit (RFC 3042), SACK-based
/// recovery and the restart after idle (RFC 5681 §4.1) are not done.
///
/// The connection tells it about ACKs and timeouts and asks it what to resend; it never sends.
public struct CongestionControl: Sendable {
    /// cwnd in bytes.
    public private(set) var congestionWindow: UInt32
    /// ssthresh in bytes: arbitrarily high at first (RFC 5681 §3.1).
    public private(set) var slowStartThreshold: UInt32 = UInt32.max
    /// Duplicate ACKs in a row (RFC 5681 §2 definition), reset by an ACK of new data.
    public private(set) var duplicateAcknowledgments = 0
    /// `recover` of RFC 6582 §3.2: the highest sequence number sent when the last recovery
    /// (fast retransmit or timeout) began. A new fast retransmit needs an ACK beyond it.
    public private(set) var recover: SequenceNumber
    /// Whether NewReno fast recovery is in progress (RFC 6582 §3.2 steps 3–5).
    public private(set) var inFastRecovery = false
    /// SMSS: the largest segment we send.
    public let maximumSegmentSize: UInt32
    /// Bytes acknowledged in congestion avoidance since cwnd last grew.
    private var acknowledgedInAvoidance: UInt32 = 0

    /// The third duplicate ACK triggers fast retransmit — RFC 5681 §3.2.
    public static let duplicateThreshold = 3

    /// IW of RFC 6928 §2: min(10 * SMSS, max(2 * SMSS, 14600)).
    public static func initialWindow(maximumSegmentSize: UInt32) -> UInt32 {
        min(10 * maximumSegmentSize, max(2 * maximumSegmentSize, 14_600))
    }

    /// A sender with the initial window; `recover` starts at ISS (RFC 6582 §3.2 step 1).
    public init(maximumSegmentSize: UInt32, initialSendSequence: SequenceNumber) {
        self.maximumSegmentSize = max(maximumSegmentSize, 1)
        self.congestionWindow = Self.initialWindow(maximumSegmentSize: self.maximumSegmentSize)
        self.recover = initialSendSequence
    }

    /// RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window used by a sender after
    /// a correctly transmitted SYN MUST be one segment consisting of at most SMSS bytes".
    public mutating func synchronizationWasRetransmitted() {
        congestionWindow = maximumSegmentSize
    }

    /// An ACK acknowledged `acknowledged` new bytes, up to `acknowledgment`; `flightSize` is
    /// what is still outstanding after it. Returns true when the segment now at SND.UNA must be
    /// resent at once (a NewReno partial ACK, RFC 6582 §3.2 step 5).
    public mutating func acknowledged(_ acknowledged: UInt32, upTo acknowledgment: SequenceNumber, flightSize: UInt32) -> Bool {
        duplicateAcknowledgments = 0
        if inFastRecovery {
            if acknowledgment > recover {
                // Step 3, full ACK: leave recovery, cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)
                // (option 1, which avoids a burst when little is outstanding).
                inFastRecovery = false
                congestionWindow = min(slowStartThreshold, max(flightSize, maximumSegmentSize) + maximumSegmentSize)
                acknowledgedInAvoidance = 0
                return false
            }
            // Step 5, partial ACK: deflate by the new data acknowledged, add back one SMSS when
            // at least one SMSS was acknowledged, and resend the next hole.
            congestionWindow = congestionWindow > acknowledged ? congestionWindow - acknowledged : 0
            if acknowledged >= maximumSegmentSize { congestionWindow += maximumSegmentSize }
            congestionWindow = max(congestionWindow, maximumSegmentSize)
            return true
        }
        if congestionWindow < slowStartThreshold {
            // Slow start, RFC 5681 §3.1 equation 2: cwnd += min(N, SMSS).
            congestionWindow = grown(by: min(acknowledged, maximumSegmentSize))
        } else {
            // Congestion avoidance with byte counting, RFC 5681 §3.1: one SMSS per cwnd acknowledged.
            acknowledgedInAvoidance &+= acknowledged
            if acknowledgedInAvoidance >= congestionWindow {
                acknowledgedInAvoidance -= congestionWindow
                congestionWindow = grown(by: maximumSegmentSize)
            }
        }
        return false
    }

    /// A duplicate ACK (RFC 5681 §2) at `sendUnacknowledged`, with `flightSize` bytes
    /// outstanding and `highestSent` the highest sequence number sent plus one. Returns true
    /// when the segment at SND.UNA must be fast-retransmitted now (RFC 5681 §3.2 steps 2–3 with
    /// RFC 6582 §3.2 step 2's check against `recover`).
    public mutating func duplicateAcknowledgment(sendUnacknowledged: SequenceNumber, flightSize: UInt32,
                                                 highestSent: SequenceNumber) -> Bool {
        if inFastRecovery {
            // RFC 6582 §3.2 step 4 (RFC 5681 §3.2 step 4): each further duplicate means a segment
            // left the network: inflate cwnd by one SMSS so new data may go out.
            congestionWindow = grown(by: maximumSegmentSize)
            return false
        }
        duplicateAcknowledgments += 1
        guard duplicateAcknowledgments == Self.duplicateThreshold else { return false }
        // RFC 6582 §3.2 step 2: only when the ACK covers more than `recover`; otherwise these are
        // duplicates from the previous recovery and must not halve cwnd again.
        guard sendUnacknowledged > recover else { return false }
        // RFC 5681 §3.2 step 2, equation 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
        slowStartThreshold = max(flightSize / 2, 2 * maximumSegmentSize)
        recover = highestSent - 1
        // Step 3: cwnd = ssthresh + 3 * SMSS, the three segments the duplicates say have left.
        congestionWindow = slowStartThreshold + 3 * maximumSegmentSize
        inFastRecovery = true
        return true
    }

    /// The retransmission timer fired — RFC 5681 §3.1: ssthresh = max(FlightSize / 2, 2 * SMSS)
    /// on the first timeout of a loss episode (held when the same data times out again), and
    /// cwnd = the loss window of one SMSS; RFC 6582 §3.2 step 4 (timeout): recover = the
    /// highest sequence number sent, and fast recovery ends.
    public mutating func retransmissionTimeout(flightSize: UInt32, firstTimeout: Bool, highestSent: SequenceNumber) {
        if firstTimeout { slowStartThreshold = max(flightSize / 2, 2 * maximumSegmentSize) }
        congestionWindow = maximumSegmentSize
        recover = highestSent - 1
        inFastRecovery = false
        duplicateAcknowledgments = 0
        acknowledgedInAvoidance = 0
    }

    /// cwnd plus `increment`, kept below 2^30 (no window is larger, RFC 7323 §2.3) so it never overflows.
    private func grown(by increment: UInt32) -> UInt32 {
        min(congestionWindow &+ increment, 1 << 30)
    }
}
