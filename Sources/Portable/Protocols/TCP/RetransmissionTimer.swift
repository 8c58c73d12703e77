// The retransmission timer of RFC 6298: RTT estimation (SRTT, RTTVAR), RTO bounds, Karn's rule and exponential backoff.

/// The bounds of the retransmission timeout, in nanoseconds — RFC 6298 §2.
public struct RetransmissionTimerConfiguration: Equatable, Sendable {
    /// The RTO before any RTT sample — §2.1: 1 second.
    public var initialTimeout: UInt64
    /// The smallest RTO — §2.4: 1 second. A LAN-only deployment may choose less (Linux uses
    /// 200 ms); RFC 6298 §2.4 makes 1 s a SHOULD precisely to avoid spurious retransmissions
    /// on paths with delayed ACKs, so the default keeps it.
    public var minimumTimeout: UInt64
    /// The largest RTO — §2.5: at least 60 seconds.
    public var maximumTimeout: UInt64
    /// G, the clock granularity of §2.2: the smallest variance term. The network core's clock
    /// counts nanoseconds, so this is a policy floor rather than a hardware limit.
    public var clockGranularity: UInt64

    /// The RFC's values: initial 1 s, minimum 1 s, maximum 60 s, granularity 1 ms.
    public static let rfc6298 = RetransmissionTimerConfiguration(
        initialTimeout: 1_000_000_000, minimumTimeout: 1_000_000_000,
        maximumTimeout: 60_000_000_000, clockGranularity: 1_000_000)

    /// Creates a configuration.
    public init(initialTimeout: UInt64, minimumTimeout: UInt64, maximumTimeout: UInt64, clockGranularity: UInt64) {
        self.initialTimeout = initialTimeout
        self.minimumTimeout = minimumTimeout
        self.maximumTimeout = maximumTimeout
        self.clockGranularity = clockGranularity
    }
}

/// One connection's retransmission timer and round-trip estimator — RFC 6298.
///
/// All times are monotonic nanoseconds. The estimator keeps SRTT and RTTVAR (§2); the timer
/// keeps a deadline managed as §5 says (start when data is sent and no timer runs, restart on
/// an ACK of new data, stop when everything is acknowledged, double on expiry). One RTT
/// measurement is in flight at a time, timed from one segment's first transmission; a
/// retransmission cancels it (Karn's rule, §3), so an ACK that might answer either copy is
/// never used as a sample.
public struct RetransmissionTimer: Sendable {
    /// The bounds in use.
    public let configuration: RetransmissionTimerConfiguration
    /// SRTT, or `nil` before the first sample.
    public private(set) var smoothedRoundTripTime: UInt64?
    /// The smallest sample so far (nil before the first): the path's round trip without
    /// queueing or delayed ACKs, which receive-buffer auto-tuning measures rounds by.
    public private(set) var minimumRoundTripTime: UInt64?
    /// RTTVAR (0 before the first sample).
    public private(set) var roundTripTimeVariation: UInt64 = 0
    /// The current RTO, backoff included.
    public private(set) var retransmissionTimeout: UInt64
    /// When the timer fires, or `nil` when it is stopped.
    public private(set) var deadline: UInt64?
    /// How many times the RTO has been doubled since the last sample (§5.5).
    public private(set) var backoffCount = 0
    /// The sequence number whose acknowledgement ends the RTT measurement in flight.
    private var measuredSequence: SequenceNumber?
    /// When the measured segment was sent.
    private var measurementStart: UInt64 = 0

    /// K of §2.2.
    static let varianceFactor: UInt64 = 4

    /// Creates a stopped timer with the initial RTO (§2.1).
    public init(configuration: RetransmissionTimerConfiguration = .rfc6298) {
        self.configuration = configuration
        self.retransmissionTimeout = configuration.initialTimeout
    }

    /// Feeds one RTT measurement `sample` — §2.2 for the first, §2.3 for later ones — and
    /// recomputes the RTO with the bounds of §2.4 and §2.5. A valid sample ends any backoff.
    public mutating func addSample(_ sample: UInt64) {
        minimumRoundTripTime = min(minimumRoundTripTime ?? sample, sample)
        if let smoothed = smoothedRoundTripTime {
            // §2.3, in this order: RTTVAR uses the SRTT from before this sample.
            // RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|;  SRTT <- (1 - 1/8) * SRTT + 1/8 * R'
            let difference = smoothed > sample ? smoothed - sample : sample - smoothed
            roundTripTimeVariation = (3 * roundTripTimeVariation + difference) / 4
            smoothedRoundTripTime = (7 * smoothed + sample) / 8
        } else {
            // §2.2: SRTT <- R, RTTVAR <- R/2.
            smoothedRoundTripTime = sample
            roundTripTimeVariation = sample / 2
        }
        let variance = max(configuration.clockGranularity, Self.varianceFactor * roundTripTimeVariation)
        retransmissionTimeout = clamp(smoothedRoundTripTime! + variance)
        backoffCount = 0
    }

    /// §5.1: on sending a segment with data (or SYN/FIN), start the timer unless it runs.
    public mutating func startIfStopped(now: UInt64) {
        if deadline == nil { deadline = now &+ retransmissionTimeout }
    }

    /// §5.3: an ACK acknowledged new data and some is still outstanding: restart the timer.
    public mutating func restart(now: UInt64) {
        deadline = now &+ retransmissionTimeout
    }

    /// §5.2: everything sent is acknowledged: stop the timer.
    public mutating func stop() {
        deadline = nil
    }

    /// Whether the timer runs and its deadline has come.
    public func hasExpired(now: UInt64) -> Bool {
        guard let deadline else { return false }
        return now >= deadline
    }

    /// §5.4–5.6: the timer fired; the caller retransmits the earliest unacknowledged segment.
    /// Doubles the RTO (up to the maximum), restarts the timer, and cancels the RTT
    /// measurement, which the retransmission makes ambiguous (Karn, §3).
    public mutating func backOff(now: UInt64) {
        retransmissionTimeout = clamp(retransmissionTimeout > configuration.maximumTimeout / 2
                                      ? configuration.maximumTimeout : retransmissionTimeout * 2)
        backoffCount += 1
        measuredSequence = nil
        deadline = now &+ retransmissionTimeout
    }

    /// Starts timing the segment whose last sequence number is `sequenceEnd - 1`, sent for the
    /// first time at `now`, unless a measurement is already in flight.
    public mutating func beginMeasurement(endingAt sequenceEnd: SequenceNumber, now: UInt64) {
        guard measuredSequence == nil else { return }
        measuredSequence = sequenceEnd
        measurementStart = now
    }

    /// Karn's rule (§3): a segment was retransmitted, so the measurement in flight is dropped.
    public mutating func cancelMeasurement() {
        measuredSequence = nil
    }

    /// Whether an RTT measurement is in flight.
    public var isMeasuring: Bool { measuredSequence != nil }

    /// An ACK up to `acknowledgment` arrived at `now`: when it covers the timed segment, takes
    /// the sample (and returns it).
    @discardableResult
    public mutating func acknowledge(upTo acknowledgment: SequenceNumber, now: UInt64) -> UInt64? {
        guard let measured = measuredSequence, acknowledgment >= measured else { return nil }
        measuredSequence = nil
        let sample = now &- measurementStart
        addSample(sample)
        return sample
    }

    /// §5.7: the SYN (or SYN-ACK) timed out at least once and the connection is now
    /// established: data transmission starts with an RTO of 3 seconds unless a sample set it.
    public mutating func synchronizationTimedOut() {
        if smoothedRoundTripTime == nil && retransmissionTimeout < 3_000_000_000 {
            retransmissionTimeout = clamp(3_000_000_000)
        }
    }

    /// The RTO bounded by §2.4 (minimum) and §2.5 (maximum).
    private func clamp(_ timeout: UInt64) -> UInt64 {
        min(max(timeout, configuration.minimumTimeout), configuration.maximumTimeout)
    }
}
