// The transmission control block of one TCP connection: RFC 9293 §3.10 event processing over fixed buffers.

import RawBytes

/// Why a connection ended abnormally.
public enum TCPConnectionError: Error, Equatable, Sendable {
    /// The peer reset the connection (an acceptable RST).
    case reset
    /// The peer refused our SYN with a RST.
    case refused
    /// Retransmissions (or zero-window probes) went unanswered `maximumRetransmissions` times.
    case timedOut
}

/// Tunables of one connection.
public struct TCPConnectionConfiguration: Sendable {
    /// The most the send buffer may grow to, in bytes (auto-tuning follows the congestion
    /// window up to here: `TCPConnection+Tuning.swift`).
    public var sendBufferCapacity: Int
    /// The most the receive buffer may grow to; it chooses our window scale (RFC 7323 §2.3).
    public var receiveBufferCapacity: Int
    /// The send buffer's starting capacity (Linux's tcp_wmem default is 16 KiB).
    public var initialSendBufferCapacity: Int
    /// The receive buffer's starting capacity: the first window we offer (Linux's is 64 KiB).
    public var initialReceiveBufferCapacity: Int
    /// The MSS we announce: 1460 for Ethernet (1500 - 20 - 20) — RFC 9293 §3.7.1.
    public var maximumSegmentSize: UInt16
    /// How long TIME-WAIT lasts (2 MSL; RFC 9293 §3.4.2 assumes MSL = 2 minutes, Linux uses 60 s
    /// in total, which we follow).
    public var timeWaitDuration: UInt64
    /// How many RTO expiries in a row (or unanswered zero-window probes) end the connection
    /// (RFC 9293 §3.8.3 R2, by count).
    public var maximumRetransmissions: Int
    /// The retransmission timer's bounds.
    public var retransmission: RetransmissionTimerConfiguration
    /// How long an ACK may be delayed, in nanoseconds (RFC 1122 §4.2.3.2: under 0.5 s; RFC 5681
    /// §4.2 recommends well under). 0 acknowledges every segment at once.
    public var delayedAcknowledgmentTimeout: UInt64

    /// Buffers starting at 16 KiB (send) and 64 KiB (receive) and growing to 128 KiB, MSS 1460,
    /// 60 s TIME-WAIT, 12 retransmissions, RFC 6298 timer bounds, 40 ms delayed ACKs (Linux's
    /// minimum). Initial capacities above the maxima are lowered to them. (128 KiB covers the
    /// bandwidth-delay product of the links Swiglet runs on; 512 KiB windows were measured
    /// ~20% slower for bulk echo under QEMU: larger bursts overrun the NIC's transmit ring.)
    public init(sendBufferCapacity: Int = 131_072, receiveBufferCapacity: Int = 131_072,
                initialSendBufferCapacity: Int = 16_384, initialReceiveBufferCapacity: Int = 65_536,
                maximumSegmentSize: UInt16 = 1460, timeWaitDuration: UInt64 = 60_000_000_000,
                maximumRetransmissions: Int = 12, retransmission: RetransmissionTimerConfiguration = .rfc6298,
                delayedAcknowledgmentTimeout: UInt64 = 40_000_000) {
        self.sendBufferCapacity = sendBufferCapacity
        self.receiveBufferCapacity = receiveBufferCapacity
        self.initialSendBufferCapacity = min(initialSendBufferCapacity, sendBufferCapacity)
        self.initialReceiveBufferCapacity = min(initialReceiveBufferCapacity, receiveBufferCapacity)
        self.maximumSegmentSize = maximumSegmentSize
        self.timeWaitDuration = timeWaitDuration
        self.maximumRetransmissions = maximumRetransmissions
        self.retransmission = retransmission
        self.delayedAcknowledgmentTimeout = delayedAcknowledgmentTimeout
    }
}

/// One TCP connection's state and buffers (the TCB) — RFC 9293 §3.3.1 and §3.10.
///
/// Driven from outside: `receive(segment:now:output:)` for each arriving segment of this
/// four-tuple, `open`/`listen`/`send`/`read`/`close` for the user calls, and `poll(now:output:)`
/// for timers (`nextDeadline` says when it is next due). Segments leave through a generic
/// `TCPSegmentTransmitter`. Times are monotonic nanoseconds. The send and receive buffers take
/// their memory from a shared `BufferPool` only while they hold bytes, and their capacities
/// grow with the connection's measured bandwidth-delay product (`TCPConnection+Tuning.swift`);
/// nothing else allocates (the reassembly list and timers are inline). The buffers are
/// `ByteRing` references: a copy of a `TCPConnection` shares them, so keep exactly one copy
/// (in the connection table) and mutate it in place.
///
/// The small getters used on every segment (`receiveWindow`, `readableCount`, …) are
/// `@inline(__always)`: called from a mutating method, a non-inlined getter receives the whole
/// structure by value — a copy of several hundred bytes per call, which under QEMU's TCG cost
/// more than the protocol work (found by profiling the network core; docs/benchmarks.md).
///
/// The code is split by concern: this file (state, user calls, timers),
/// `TCPConnection+Receive.swift` (segment arrival), `TCPConnection+Send.swift` (what goes out),
/// `TCPConnection+Window.swift` (window scaling and the advertised window).
///
/// Implemented:
/// - passive open (LISTEN → SYN-RECEIVED → ESTABLISHED; a repeated SYN in SYN-RECEIVED gets
///   the SYN-ACK again), active open (SYN-SENT → ESTABLISHED) and simultaneous open
///   (SYN-SENT → SYN-RECEIVED); a SYN in LISTEN is honoured by its options alone (MSS, window
///   scale), so a SYN synthesized from a SYN cookie behaves as the real one;
/// - MSS option: announced on our SYN, the peer's used to size segments (536 when absent);
/// - window scaling (RFC 7323 §2): our shift chosen so the window covers the receive buffer,
///   sent on every SYN we start and on a SYN-ACK only when the peer's SYN had it; used only when
///   both SYNs carry it; the peer's windows scaled except on SYNs; the right edge we advertise
///   never moves back (RFC 9293 §3.8.6, rounding up per RFC 7323 §2.4), receiver SWS avoidance
///   (RFC 9293 §3.8.6.2.2) and sender SWS avoidance (§3.8.6.2.1, without Nagle);
/// - data transfer both ways; out-of-order data kept in the receive ring at its offset, tracked
///   by a fixed list of 8 runs (`ReassemblyQueue`; beyond that dropped and counted), a FIN beyond
///   a hole remembered; send window updates (SND.WL1/WL2 rule);
/// - delayed ACKs (RFC 5681 §4.2, RFC 1122 §4.2.3.2): every second segment, else within
///   `delayedAcknowledgmentTimeout`; immediate for out-of-order data, hole filling, old data,
///   FIN and window reopening;
/// - congestion control (`CongestionControl`): IW of RFC 6928, slow start, congestion avoidance
///   by byte counting, fast retransmit on the third duplicate ACK, NewReno recovery (RFC 6582);
///   on RTO ssthresh = FlightSize / 2, cwnd = 1 SMSS and go-back-N from SND.UNA;
///   transmission within min(cwnd, SND.WND);
/// - zero-window probes (RFC 9293 §3.8.6.1, `PersistTimer`): one byte, exponential backoff,
///   never aborted while the peer answers; a zero receive window still takes ACKs at RCV.NXT;
/// - segment acceptability (§3.10.7.4, all four cases) with trimming of old and out-of-window bytes;
/// - RST processing after RFC 5961 §3 (exact RCV.NXT resets, otherwise a challenge ACK), SYN in a
///   synchronized state → challenge ACK (RFC 5961 §4), ACK range check (RFC 5961 §5);
///   RSTs sent for segments to CLOSED/LISTEN with ACK and for bad ACKs in SYN-SENT/SYN-RECEIVED;
/// - graceful close both ways and half-close: FIN-WAIT-1/2, CLOSING, TIME-WAIT (restarted by a
///   retransmitted FIN), CLOSE-WAIT, LAST-ACK; FIN is sent after all queued data;
/// - retransmission on RTO (RFC 6298 via `RetransmissionTimer`): Karn's rule, backoff, abort
///   after `maximumRetransmissions`; statistics for all of the above (`TCPConnectionStatistics`).
///
/// NOT implemented:
/// - Nagle's algorithm (RFC 9293 §3.7.4; small writes go out at once), keep-alives, user timeouts;
/// - limited transmit (RFC 3042), restart after idle (RFC 5681 §4.1), SACK, timestamps/PAWS,
///   urgent data, data carried on SYNs (dropped; the peer resends it);
/// - listen backlog, SYN cookies, demultiplexing: not here by design — `TCPConnectionTable` does them;
/// - ICMP handling (PMTU discovery, soft errors).
public struct TCPConnection {
    /// Our endpoint.
    public let local: TCPEndpoint
    /// The peer.
    public let remote: TCPEndpoint
    /// The tunables.
    public let configuration: TCPConnectionConfiguration
    /// The current state.
    public internal(set) var state: TCPState = .closed
    /// Why the connection ended, when it ended abnormally.
    public internal(set) var error: TCPConnectionError?
    /// What this connection counted (retransmissions, probes, …) for the table's metrics.
    public internal(set) var statistics = TCPConnectionStatistics()

    // Send sequence variables — RFC 9293 §3.3.1.
    /// ISS.
    public internal(set) var initialSendSequence = SequenceNumber(0)
    /// SND.UNA: the oldest unacknowledged sequence number.
    public internal(set) var sendUnacknowledged = SequenceNumber(0)
    /// SND.NXT: the next sequence number to send. After a timeout it goes back to SND.UNA
    /// (go-back-N) while `sendMaximum` keeps the highest ever sent.
    public internal(set) var sendNext = SequenceNumber(0)
    /// SND.MAX: one past the highest sequence number ever sent (ACKs up to it are acceptable).
    public internal(set) var sendMaximum = SequenceNumber(0)
    /// One past the last byte sent beyond SND.MAX that the peer may or may not have taken — a
    /// zero-window probe's byte, or the part of an RTO resend that reached past SND.MAX — while
    /// it may still be acknowledged. SND.MAX itself stays: it is the sequence number our bare
    /// ACKs carry, and a peer with a closed window accepts only RCV.NXT there.
    var unconfirmedSendEnd: SequenceNumber?
    /// SND.WND: the peer's window in bytes, already scaled by `sendWindowShift`.
    public internal(set) var sendWindow: UInt32 = 0
    /// SND.WL1: the segment sequence number of the last window update.
    var sendWindowUpdateSequence = SequenceNumber(0)
    /// SND.WL2: the segment acknowledgement number of the last window update.
    var sendWindowUpdateAcknowledgment = SequenceNumber(0)
    /// The largest window the peer has offered (MAX.SND.WND of RFC 5961 §5.2).
    var maximumSendWindow: UInt32 = 0
    /// Snd.Wind.Shift of RFC 7323 §2.3: the peer's shift (0 unless both SYNs had the option).
    public internal(set) var sendWindowShift: UInt8 = 0

    // Receive sequence variables — RFC 9293 §3.3.1.
    /// IRS.
    public internal(set) var initialReceiveSequence = SequenceNumber(0)
    /// RCV.NXT: the next sequence number expected.
    public internal(set) var receiveNext = SequenceNumber(0)
    /// Rcv.Wind.Shift of RFC 7323 §2.3: our shift (0 unless both SYNs had the option).
    public internal(set) var receiveWindowShift: UInt8 = 0
    /// Whether the peer's SYN carried a window scale option (so our SYN-ACK may carry one).
    var peerOffersWindowScale = false
    /// The right edge of the window we last advertised: RCV.NXT + RCV.WND as the peer knows it.
    /// It never moves back (RFC 9293 §3.8.6).
    public internal(set) var advertisedWindowEdge = SequenceNumber(0)

    /// The peer's MSS (536 until its SYN says otherwise — RFC 9293 §3.7.1).
    public internal(set) var peerMaximumSegmentSize: UInt16 = 536
    /// Data the user gave us, copied or lent, from sequence number `sendBufferSequence` on
    /// (unacknowledged, then unsent).
    let sendBuffer: SendStore
    /// The sequence number of `sendBuffer`'s first byte.
    var sendBufferSequence = SequenceNumber(0)
    /// Data received in order and not yet read, then (in its free space) out-of-order data.
    let receiveBuffer: ByteRing
    /// Which out-of-order runs the receive buffer's free space holds.
    public internal(set) var reassembly = ReassemblyQueue()
    /// The sequence number of the peer's FIN when it arrived beyond a hole.
    var pendingPeerFinish: SequenceNumber?
    /// The user closed: a FIN follows the queued data.
    var finishQueued = false
    /// The sequence number of our FIN, once sent.
    var finishSequence: SequenceNumber?
    /// Whether the peer's FIN has been received (no more data will come).
    public internal(set) var peerFinished = false
    /// An ACK must go out at the next transmit opportunity.
    var acknowledgmentPending = false
    /// While true, `transmitPending` sends no ACK on its own: an owed one stays owed
    /// (`acknowledgmentPending`) for a segment later in the same pass to carry. The table sets
    /// it while it processes a received segment or a read (which may owe a window update), and
    /// sends what is still owed once per pass (`TCPConnectionTable.holdsAcknowledgmentsForThePass`).
    var holdsAcknowledgment = false
    /// `transmitPending` held an owed ACK (`holdsAcknowledgment`): `TCPConnectionTable.settle`
    /// takes and clears this and lists the connection for `transmitDeferred`, as it does for
    /// `transmitBlocked`.
    var acknowledgmentHeld = false
    /// The NIC refused a segment (its transmit queue was full): what was not sent waits, and
    /// the table calls `transmitPending` again on its next pass (`TCPConnectionTable.settle`
    /// takes and clears this).
    var transmitBlocked = false
    /// A fast retransmission (or NewReno's resend of the next hole) that the NIC refused: the
    /// segment at SND.UNA goes first on the next `transmitPending`, which new data from
    /// SND.NXT would not repair. Cleared when SND.UNA moves (the hole it was for is filled).
    var firstSegmentOwed = false
    /// When a delayed ACK is due, if one is owed.
    public internal(set) var delayedAcknowledgmentDeadline: UInt64?
    /// Data segments received since our last ACK (the second one is acknowledged at once).
    var segmentsSinceAcknowledgment = 0
    /// The RTO timer and RTT estimator.
    public internal(set) var retransmissionTimer: RetransmissionTimer
    /// Consecutive RTO expiries without SND.UNA advancing (the first one sets ssthresh).
    var timeoutsWithoutProgress = 0
    /// The zero-window probe timer.
    public internal(set) var persistTimer = PersistTimer()
    /// Slow start, congestion avoidance, fast retransmit and recovery.
    public internal(set) var congestion: CongestionControl
    /// When TIME-WAIT ends.
    var timeWaitDeadline: UInt64?
    /// Chooses our ISN.
    let initialSequenceNumbers: InitialSequenceNumberGenerator
    /// When an unacceptable bare ACK was last answered (`outOfWindowReplyAllowed`).
    var lastOutOfWindowReply: UInt64 = 0
    /// The receive buffer's auto-tuning round (`tuneReceiveBuffer`).
    var receiveTuning = BufferTuningRound()

    /// Creates a CLOSED connection for the four-tuple whose buffers grow from `bufferPool`
    /// (nil: a pool of its own, twice both buffers at their maxima, so that growing one —
    /// old and new block held at once for the copy — is never refused).
    public init(local: TCPEndpoint, remote: TCPEndpoint, initialSequenceNumbers: InitialSequenceNumberGenerator,
                configuration: TCPConnectionConfiguration = TCPConnectionConfiguration(), bufferPool: BufferPool? = nil) {
        self.local = local
        self.remote = remote
        self.configuration = configuration
        self.initialSequenceNumbers = initialSequenceNumbers
        let pool = bufferPool ?? BufferPool(byteCount: 2 * (configuration.sendBufferCapacity + configuration.receiveBufferCapacity),
                                            largestBlock: Self.largestBlock(for: configuration))
        self.sendBuffer = SendStore(pool: pool, capacity: configuration.initialSendBufferCapacity,
                                   maximumCapacity: configuration.sendBufferCapacity)
        self.receiveBuffer = ByteRing(pool: pool, capacity: configuration.initialReceiveBufferCapacity,
                                      maximumCapacity: configuration.receiveBufferCapacity)
        self.retransmissionTimer = RetransmissionTimer(configuration: configuration.retransmission)
        self.congestion = CongestionControl(maximumSegmentSize: 536, initialSendSequence: SequenceNumber(0))
    }

    // MARK: - User calls (RFC 9293 §3.10.1–§3.10.4)

    /// Passive OPEN: wait for a SYN from `remote`.
    public mutating func listen() {
        if state == .closed { state = .listen }
    }

    /// Active OPEN: send a SYN with our MSS and window scale and enter SYN-SENT.
    public mutating func open<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard state == .closed || state == .listen else { return }
        chooseInitialSendSequence(now: now)
        state = .synchronizeSent
        sendSynchronize(now: now, output: &output)
    }

    /// SEND: queues as much of `bytes` as the send buffer holds and sends what the windows
    /// allow. Returns how many bytes were taken (0 when the connection cannot send).
    @discardableResult
    public mutating func send<Output: TCPSegmentTransmitter>(_ bytes: ByteReader, now: UInt64, output: inout Output) -> Int {
        let accepted = queue(bytes)
        if accepted > 0 { transmitPending(now: now, output: &output) }
        return accepted
    }

    /// SEND of lent bytes: like `send`, but `bytes` are not copied; TCP reads them in place
    /// until the peer acknowledges them (`SendStore`'s ownership rules), and
    /// `takeReturnedBytes()` tells the caller when it may reuse that memory.
    @discardableResult
    public mutating func lend<Output: TCPSegmentTransmitter>(_ bytes: ByteReader, now: UInt64, output: inout Output) -> Int {
        let accepted = queue(bytes, lending: true)
        if accepted > 0 { transmitPending(now: now, output: &output) }
        return accepted
    }

    /// The lent bytes handed back since the last call, oldest first (acknowledged or recalled;
    /// a connection that ended forgets its lent bytes without counting them).
    public mutating func takeReturnedBytes() -> Int { sendBuffer.takeReturned() }

    /// Bytes lent and not yet handed back.
    public var lentBytes: Int { sendBuffer.lentCount }

    /// SEND without sending: queues as much of `bytes` as the send buffer holds, for a later
    /// `transmitPending` (the table's deferred sends). Returns how many bytes were taken.
    /// `lending`: the bytes are not copied but read where they are until acknowledged
    /// (`SendStore`'s ownership rules).
    mutating func queue(_ bytes: ByteReader, lending: Bool = false) -> Int {
        switch state {
        case .synchronizeSent, .synchronizeReceived, .established, .closeWait:
            guard !finishQueued else { return 0 }
            if bytes.count > sendBuffer.freeSpace { tuneSendBuffer() }
            let taken = lending ? sendBuffer.lend(bytes) : sendBuffer.append(bytes)
            if taken < min(bytes.count, sendBuffer.freeSpace + taken) { statistics.bufferRefusals += 1 }
            if taken > 0 && sendBuffer.freeSpace == 0 { tuneSendBuffer() }   // filled to the brim
            if lending { statistics.bytesLent &+= UInt64(taken) }
            return taken
        default:
            return 0
        }
    }

    /// RECEIVE: copies received data into `buffer`; returns how many bytes. A window update
    /// goes out when reading opened the window enough to matter (see
    /// `windowUpdateIsWorthSending`): at once, or, while `holdsAcknowledgment` is set, with the
    /// pass's last transmit, so that several reads in a row announce the window once. (Reading
    /// a 64 KiB arrival into 5 KiB buffers one after another doubled the window three times and
    /// sent three window updates within microseconds.)
    public mutating func read<Output: TCPSegmentTransmitter>(into buffer: UnsafeMutableRawBufferPointer, now: UInt64,
                                                            output: inout Output) -> Int {
        let count = receiveBuffer.read(into: buffer)
        if count > 0 {
            tuneReceiveBuffer(afterReading: count, now: now)
            releaseIdleReceiveBuffer()
            announceWindow(now: now, output: &output)
        }
        return count
    }

    /// Owes the peer a window update when the reads so far opened the window enough to matter
    /// (see `windowUpdateIsWorthSending`), and sends it unless `holdsAcknowledgment`.
    mutating func announceWindow<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard peerMaySend && windowUpdateIsWorthSending else { return }
        acknowledgmentPending = true
        transmitPending(now: now, output: &output)
    }

    /// The number of received bytes waiting to be read.
    @inline(__always)
    public var readableCount: Int { receiveBuffer.count }

    /// How many more bytes `send` would take now (0 once the user closed).
    @inline(__always)
    public var writableCount: Int {
        switch state {
        case .synchronizeSent, .synchronizeReceived, .established, .closeWait:
            return finishQueued ? 0 : sendBuffer.freeSpace
        default:
            return 0
        }
    }

    /// ABORT (RFC 9293 §3.10.5): a RST to the peer when synchronized, then CLOSED at once.
    /// Queued data is discarded.
    public mutating func abort<Output: TCPSegmentTransmitter>(output: inout Output) {
        switch state {
        case .synchronizeReceived, .established, .finishWait1, .finishWait2, .closeWait:
            sendReset(sequence: sendMaximum, output: &output)
        default:
            break
        }
        enterClosed()
    }

    /// CLOSE: no more data from us. A FIN follows the queued data (§3.10.4).
    public mutating func close<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        switch state {
        case .listen, .synchronizeSent:
            enterClosed()
        case .synchronizeReceived, .established:
            finishQueued = true
            state = .finishWait1
            transmitPending(now: now, output: &output)
        case .closeWait:
            finishQueued = true
            state = .lastAcknowledgment
            transmitPending(now: now, output: &output)
        default:
            break
        }
    }

    // MARK: - Timers

    /// The earliest time `poll` has something to do: the RTO, a delayed ACK, a zero-window
    /// probe or the end of TIME-WAIT. `nil` when no timer runs.
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    public var nextDeadline: UInt64? {
        // Pairwise, not over an array literal, which would allocate on every call.
        let timers = Self.earlier(retransmissionTimer.deadline, persistTimer.deadline)
        return Self.earlier(Self.earlier(timers, delayedAcknowledgmentDeadline), state == .timeWait ? timeWaitDeadline : nil)
    }

    /// The earlier of two optional deadlines.
    @inline(__always)
    static func earlier(_ first: UInt64?, _ second: UInt64?) -> UInt64? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    /// Runs the timers whose deadline has come: the end of TIME-WAIT, the retransmission
    /// timeout (RFC 6298 §5.4–5.6, RFC 5681 §3.1), the persist timer (RFC 9293 §3.8.6.1) and the
    /// delayed ACK (RFC 5681 §4.2).
    public mutating func poll<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        if state == .timeWait, let deadline = timeWaitDeadline, now >= deadline {
            enterClosed()
            return
        }
        if retransmissionTimer.hasExpired(now: now) {
            retransmissionTimedOut(now: now, output: &output)
            if state == .closed { return }
        }
        if persistTimer.hasExpired(now: now) {
            if persistTimer.unansweredProbes >= configuration.maximumRetransmissions {
                sendReset(sequence: sendMaximum, output: &output)
                error = .timedOut
                enterClosed()
                return
            }
            sendZeroWindowProbe(now: now, output: &output)
        }
        if let deadline = delayedAcknowledgmentDeadline, now >= deadline {
            acknowledgmentPending = true
            transmitPending(now: now, output: &output)
        }
    }

    /// The RTO fired: give up after `maximumRetransmissions`, else back off, shrink cwnd to the
    /// loss window and resend from SND.UNA (go-back-N; the rest follows as ACKs open cwnd).
    mutating func retransmissionTimedOut<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        if retransmissionTimer.backoffCount >= configuration.maximumRetransmissions {
            sendReset(sequence: sendMaximum, output: &output)
            error = .timedOut
            enterClosed()
            return
        }
        retransmissionTimer.backOff(now: now)
        switch state {
        case .synchronizeSent, .synchronizeReceived:
            emitSynchronize(output: &output)
            statistics.timeoutRetransmissions += 1
            return
        case .closed, .listen, .timeWait:
            return
        default:
            break
        }
        congestion.retransmissionTimeout(flightSize: SequenceNumber.octets(from: sendUnacknowledged, to: sendMaximum),
                                         firstTimeout: timeoutsWithoutProgress == 0, highestSent: sendMaximum)
        timeoutsWithoutProgress += 1
        let length = retransmitFirstSegment(output: &output)
        if length > 0 { statistics.timeoutRetransmissions += 1 }
        // Refused, the resend is not owed apart: go-back-N below resends from SND.UNA anyway.
        firstSegmentOwed = false
        sendNext = sendUnacknowledged + length
        // The resent segment may reach past SND.MAX (only a probe byte or two was out, and
        // the segment takes a whole SMSS of queued data): the peer's ACK of those bytes must be
        // acceptable (RFC 5961 §5.2 checks ACKs against SND.MAX), but SND.MAX moves only when
        // it comes — raised now, our bare ACKs would carry a sequence number a peer with a
        // closed window refuses, and its answers to our probes would go unseen.
        if sendNext > sendMaximum, unconfirmedSendEnd.map({ $0 < sendNext }) ?? true { unconfirmedSendEnd = sendNext }
        transmitPending(now: now, output: &output)
    }

    // MARK: - Helpers: state

    /// Whether the connection has exchanged SYNs (RCV.NXT is meaningful).
    @inline(__always)
    var isSynchronized: Bool {
        state != .closed && state != .listen && state != .synchronizeSent
    }

    /// Whether the peer may still send us data (it has not sent its FIN).
    @inline(__always)
    var peerMaySend: Bool {
        state == .established || state == .finishWait1 || state == .finishWait2
    }

    /// ISS from RFC 6528; SND.UNA = ISS, SND.NXT = ISS + 1 once the SYN goes out.
    mutating func chooseInitialSendSequence(now: UInt64) {
        initialSendSequence = initialSequenceNumbers.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: now)
        sendUnacknowledged = initialSendSequence
        sendNext = initialSendSequence
        sendMaximum = initialSendSequence
        sendBufferSequence = initialSendSequence + 1
    }

    mutating func enterTimeWait(now: UInt64) {
        state = .timeWait
        retransmissionTimer.stop()
        persistTimer.stop()
        timeWaitDeadline = now &+ configuration.timeWaitDuration
    }

    mutating func enterClosed() {
        state = .closed
        // Nothing will be sent any more: stop reading lent memory (hand it back) and free the storage.
        sendBuffer.clear()
        retransmissionTimer.stop()
        persistTimer.stop()
        timeWaitDeadline = nil
        acknowledgmentPending = false
        delayedAcknowledgmentDeadline = nil
        reassembly.removeAll()
    }
}
