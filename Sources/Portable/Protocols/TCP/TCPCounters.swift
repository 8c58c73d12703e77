// What the connection table counted: segments, drops by reason, opens, cookies, resets, and connections by state.

/// Why the connection table dropped an arriving segment.
public enum TCPDropReason: Equatable, Sendable {
    /// The header or options do not parse (`TCPSegmentError` other than the checksum), or a port is 0.
    case malformed
    /// The checksum over pseudo-header, header and data is wrong.
    case badChecksum
    /// The destination address is not ours.
    case notForUs
    /// The source address is 0, broadcast or multicast: no connection can have it as its peer
    /// (RFC 1122 §4.2.3.10), and nothing is sent back to it.
    case invalidSource
    /// No connection and no listener: answered with a RST (RFC 9293 §3.10.7.1).
    case noListener
    /// A RST that matched no connection: ignored, never answered (RFC 9293 §3.10.7.1).
    case resetWithoutConnection
    /// A segment to a listening port that is neither a SYN nor a cookie ACK (RFC 9293
    /// §3.10.7.2: an ACK is answered with a RST, anything else ignored).
    case notSynchronize
    /// A new connection was needed and every slot is taken (none reclaimable from TIME-WAIT):
    /// the SYN is not answered, so the peer retries it later.
    case tableFull
    /// The listener's half-open connections are at their bound and SYN cookies are off.
    case backlogFull
    /// An ACK to a listening port whose cookie is forged or expired (answered with a RST).
    case cookieRejected
}

/// Segments dropped, by reason.
public struct TCPDropCounts: Equatable, Sendable {
    /// See `TCPDropReason.malformed`.
    public var malformed: UInt64 = 0
    /// See `TCPDropReason.badChecksum`.
    public var badChecksum: UInt64 = 0
    /// See `TCPDropReason.notForUs`.
    public var notForUs: UInt64 = 0
    /// See `TCPDropReason.invalidSource`.
    public var invalidSource: UInt64 = 0
    /// See `TCPDropReason.noListener`.
    public var noListener: UInt64 = 0
    /// See `TCPDropReason.resetWithoutConnection`.
    public var resetWithoutConnection: UInt64 = 0
    /// See `TCPDropReason.notSynchronize`.
    public var notSynchronize: UInt64 = 0
    /// See `TCPDropReason.tableFull`.
    public var tableFull: UInt64 = 0
    /// See `TCPDropReason.backlogFull`.
    public var backlogFull: UInt64 = 0
    /// See `TCPDropReason.cookieRejected`.
    public var cookieRejected: UInt64 = 0

    /// All zero.
    public init() {}

    /// The count for `reason`.
    public subscript(reason: TCPDropReason) -> UInt64 {
        get {
            switch reason {
            case .malformed: return malformed
            case .badChecksum: return badChecksum
            case .notForUs: return notForUs
            case .invalidSource: return invalidSource
            case .noListener: return noListener
            case .resetWithoutConnection: return resetWithoutConnection
            case .notSynchronize: return notSynchronize
            case .tableFull: return tableFull
            case .backlogFull: return backlogFull
            case .cookieRejected: return cookieRejected
            }
        }
        set {
            switch reason {
            case .malformed: malformed = newValue
            case .badChecksum: badChecksum = newValue
            case .notForUs: notForUs = newValue
            case .invalidSource: invalidSource = newValue
            case .noListener: noListener = newValue
            case .resetWithoutConnection: resetWithoutConnection = newValue
            case .notSynchronize: notSynchronize = newValue
            case .tableFull: tableFull = newValue
            case .backlogFull: backlogFull = newValue
            case .cookieRejected: cookieRejected = newValue
            }
        }
    }

    /// All drops together.
    public var total: UInt64 {
        malformed &+ badChecksum &+ notForUs &+ invalidSource &+ noListener &+ resetWithoutConnection
            &+ notSynchronize &+ tableFull &+ backlogFull &+ cookieRejected
    }
}

/// The connection table's counters, for the network core's metrics.
public struct TCPCounters: Equatable, Sendable {
    /// TCP segments handed to `receive`, valid or not.
    public var segmentsReceived: UInt64 = 0
    /// Segments transmitted: by connections and by the table (RSTs, cookie SYN-ACKs).
    public var segmentsSent: UInt64 = 0
    /// Segments the NIC refused because its transmit queue was full. A connection's data, FIN
    /// or ACK so refused is kept and sent on a later pass (backpressure); a refused RST or
    /// SYN-ACK of the table's is lost, and the peer's retry brings it back.
    public var transmitRefusals: UInt64 = 0
    /// Segments dropped, by reason.
    public var drops = TCPDropCounts()
    /// Passive connections that reached ESTABLISHED (handed to an owner as accepted).
    public var passiveOpens: UInt64 = 0
    /// Active opens: SYNs sent by `connect`.
    public var activeOpens: UInt64 = 0
    /// SYN-ACKs sent with a cookie instead of creating a half-open connection.
    public var synCookiesSent: UInt64 = 0
    /// Connections created from a valid cookie.
    public var synCookiesAccepted: UInt64 = 0
    /// RSTs transmitted (by the table or by a connection).
    public var resetsSent: UInt64 = 0
    /// Valid segments received with RST set.
    public var resetsReceived: UInt64 = 0
    /// TIME-WAIT connections ended early because the table needed their slot.
    public var timeWaitReclaimed: UInt64 = 0
    /// TIME-WAIT connections ended by a new SYN of the same four-tuple that opened a new
    /// incarnation (RFC 1122 §4.2.2.13).
    public var timeWaitReopened: UInt64 = 0
    /// Connections the timer polls looked at (the timing wheel's due slots): what the 1 ms
    /// timer work costs, which follows the due timers rather than the connection count.
    public var timerVisits: UInt64 = 0
    /// Due timers the safety sweep found that the wheel missed: a scheduling mistake if not 0.
    public var timerSweepCatches: UInt64 = 0
    /// The sum of every connection's statistics, live and finished.
    public var connections = TCPConnectionStatistics()

    /// All zero.
    public init() {}
}

/// How many connections the table holds in each state ("connections by state" metrics).
public struct TCPConnectionCounts: Equatable, Sendable {
    /// Per state, in the order of `TCPState`'s cases.
    public var closed = 0
    /// LISTEN (only momentarily: a listener is not a connection in this table).
    public var listen = 0
    /// SYN-SENT.
    public var synchronizeSent = 0
    /// SYN-RECEIVED (half-open).
    public var synchronizeReceived = 0
    /// ESTABLISHED.
    public var established = 0
    /// FIN-WAIT-1.
    public var finishWait1 = 0
    /// FIN-WAIT-2.
    public var finishWait2 = 0
    /// CLOSE-WAIT.
    public var closeWait = 0
    /// CLOSING.
    public var closing = 0
    /// LAST-ACK.
    public var lastAcknowledgment = 0
    /// TIME-WAIT.
    public var timeWait = 0
    /// Connections whose owner released them (they finish closing on their own).
    public var released = 0

    /// All zero.
    public init() {}

    /// The count for `state`.
    public subscript(state: TCPState) -> Int {
        get {
            switch state {
            case .closed: return closed
            case .listen: return listen
            case .synchronizeSent: return synchronizeSent
            case .synchronizeReceived: return synchronizeReceived
            case .established: return established
            case .finishWait1: return finishWait1
            case .finishWait2: return finishWait2
            case .closeWait: return closeWait
            case .closing: return closing
            case .lastAcknowledgment: return lastAcknowledgment
            case .timeWait: return timeWait
            }
        }
        set {
            switch state {
            case .closed: closed = newValue
            case .listen: listen = newValue
            case .synchronizeSent: synchronizeSent = newValue
            case .synchronizeReceived: synchronizeReceived = newValue
            case .established: established = newValue
            case .finishWait1: finishWait1 = newValue
            case .finishWait2: finishWait2 = newValue
            case .closeWait: closeWait = newValue
            case .closing: closing = newValue
            case .lastAcknowledgment: lastAcknowledgment = newValue
            case .timeWait: timeWait = newValue
            }
        }
    }

    /// Allocated slots: every connection in any state.
    public var total: Int {
        closed + listen + synchronizeSent + synchronizeReceived + established + finishWait1 + finishWait2
            + closeWait + closing + lastAcknowledgment + timeWait
    }
}
