// The transmission control block of one TCP connection: RFC 9293 §3.10 event processing over fixed buffers.

import RawBytes

/// Why a connection ended abnormally.
public enum TCPConnectionError: Error, Equatable, Sendable {
    /// The peer reset the connection (an acceptable RST).
    case reset
    /// The peer refused our SYN with a RST.
    case refused
    /// Retransmissions went unanswered `maximumRetransmissions` times.
    case timedOut
}

/// Tunables of one connection.
public struct TCPConnectionConfiguration: Sendable {
    /// The send buffer's size in bytes (allocated once at creation).
    public var sendBufferCapacity: Int
    /// The receive buffer's size in bytes (allocated once); it bounds the advertised window.
    public var receiveBufferCapacity: Int
    /// The MSS we announce: 1460 for Ethernet (1500 - 20 - 20) — RFC 9293 §3.7.1.
    public var maximumSegmentSize: UInt16
    /// How long TIME-WAIT lasts (2 MSL; RFC 9293 §3.4.2 assumes MSL = 2 minutes, Linux uses 60 s
    /// in total, which we follow).
    public var timeWaitDuration: UInt64
    /// How many RTO expiries in a row end the connection (RFC 9293 §3.8.3 R2, by count).
    public var maximumRetransmissions: Int
    /// The retransmission timer's bounds.
    public var retransmission: RetransmissionTimerConfiguration

    /// 64 KiB buffers, MSS 1460, 60 s TIME-WAIT, 12 retransmissions, RFC 6298 timer bounds.
    public init(sendBufferCapacity: Int = 65_536, receiveBufferCapacity: Int = 65_536,
                maximumSegmentSize: UInt16 = 1460, timeWaitDuration: UInt64 = 60_000_000_000,
                maximumRetransmissions: Int = 12, retransmission: RetransmissionTimerConfiguration = .rfc6298) {
        self.sendBufferCapacity = sendBufferCapacity
        self.receiveBufferCapacity = receiveBufferCapacity
        self.maximumSegmentSize = maximumSegmentSize
        self.timeWaitDuration = timeWaitDuration
        self.maximumRetransmissions = maximumRetransmissions
        self.retransmission = retransmission
    }
}

/// One TCP connection's state and buffers (the TCB) — RFC 9293 §3.3.1 and §3.10.
///
/// Driven from outside: `receive(segment:now:output:)` for each arriving segment of this
/// four-tuple, `open`/`listen`/`send`/`read`/`close` for the user calls, and `poll(now:output:)`
/// for timers. Segments leave through a generic `TCPSegmentTransmitter`. Times are monotonic
/// nanoseconds. The send and receive buffers are allocated once, at creation; no segment allocates.
/// The buffers are `ByteRing` references: a copy of a `TCPConnection` shares them, so keep
/// exactly one copy (in the connection table) and mutate it in place.
///
/// Implemented:
/// - passive open (LISTEN → SYN-RECEIVED → ESTABLISHED; a repeated SYN in SYN-RECEIVED gets
///   the SYN-ACK again), active open (SYN-SENT → ESTABLISHED) and simultaneous open
///   (SYN-SENT → SYN-RECEIVED);
/// - MSS option: announced on our SYN, the peer's used to size segments (536 when absent);
/// - data transfer both ways, in-order receive, an immediate ACK for every segment with data
///   (piggybacked on data when there is some), send window updates (SND.WL1/WL2 rule);
/// - segment acceptability (§3.10.7.4, all four cases) with trimming of old and out-of-window bytes;
/// - RST processing after RFC 5961 §3 (exact RCV.NXT resets, otherwise a challenge ACK), SYN in a
///   synchronized state → challenge ACK (RFC 5961 §4), ACK range check (RFC 5961 §5);
///   RSTs sent for segments to CLOSED/LISTEN with ACK and for bad ACKs in SYN-SENT/SYN-RECEIVED;
/// - graceful close both ways and half-close: FIN-WAIT-1/2, CLOSING, TIME-WAIT (restarted by a
///   retransmitted FIN), CLOSE-WAIT, LAST-ACK; FIN is sent after all queued data;
/// - retransmission on RTO (RFC 6298 via `RetransmissionTimer`): the earliest unacknowledged
///   segment (SYN, SYN-ACK, data or FIN) is resent, the RTO doubles, Karn's rule, abort after
///   `maximumRetransmissions`.
///
/// NOT implemented yet (next steps for issue 5):
/// - window scaling in the TCB (options are parsed; windows are capped at 65535, scale not sent);
/// - out-of-order reassembly: segments beyond RCV.NXT are dropped and answered with a duplicate ACK;
/// - congestion control (slow start, RFC 5681), fast retransmit and NewReno (RFC 6582): the
///   whole peer window is used at once, an RTO resends one segment;
/// - delayed ACKs (every data segment is acknowledged at once), Nagle;
/// - zero-window probes (a zero window with nothing in flight stalls until the peer updates it);
/// - timestamps/PAWS, SACK, urgent data, data carried on SYNs (dropped; the peer resends it);
/// - listen backlog, SYN cookies, demultiplexing: a listener creating one `TCPConnection` in
///   LISTEN per arriving SYN's four-tuple is the caller's job (and not written);
/// - ICMP handling, keep-alives, user timeouts.
public struct TCPConnection {
    /// Our endpoint.
    public let local: TCPEndpoint
    /// The peer.
    public let remote: TCPEndpoint
    /// The tunables.
    public let configuration: TCPConnectionConfiguration
    /// The current state.
    public private(set) var state: TCPState = .closed
    /// Why the connection ended, when it ended abnormally.
    public private(set) var error: TCPConnectionError?
    /// What this connection counted (retransmissions, probes, …) for the table's metrics.
    public internal(set) var statistics = TCPConnectionStatistics()

    // Send sequence variables — RFC 9293 §3.3.1.
    /// ISS.
    public private(set) var initialSendSequence = SequenceNumber(0)
    /// SND.UNA: the oldest unacknowledged sequence number.
    public private(set) var sendUnacknowledged = SequenceNumber(0)
    /// SND.NXT: the next sequence number to send.
    public private(set) var sendNext = SequenceNumber(0)
    /// SND.WND: the peer's window (unscaled; window scaling is not yet used).
    public private(set) var sendWindow: UInt32 = 0
    /// SND.WL1: the segment sequence number of the last window update.
    private var sendWindowUpdateSequence = SequenceNumber(0)
    /// SND.WL2: the segment acknowledgement number of the last window update.
    private var sendWindowUpdateAcknowledgment = SequenceNumber(0)
    /// The largest window the peer has offered (MAX.SND.WND of RFC 5961 §5.2).
    private var maximumSendWindow: UInt32 = 0

    // Receive sequence variables — RFC 9293 §3.3.1.
    /// IRS.
    public private(set) var initialReceiveSequence = SequenceNumber(0)
    /// RCV.NXT: the next sequence number expected.
    public private(set) var receiveNext = SequenceNumber(0)

    /// The peer's MSS (536 until its SYN says otherwise — RFC 9293 §3.7.1).
    public private(set) var peerMaximumSegmentSize: UInt16 = 536
    /// Data the user gave us, from sequence number `sendBufferSequence` on (unacknowledged, then unsent).
    private let sendBuffer: ByteRing
    /// The sequence number of `sendBuffer`'s first byte.
    private var sendBufferSequence = SequenceNumber(0)
    /// Data received in order and not yet read by the user.
    private let receiveBuffer: ByteRing
    /// The user closed: a FIN follows the queued data.
    private var finishQueued = false
    /// The sequence number of our FIN, once sent.
    private var finishSequence: SequenceNumber?
    /// Whether the peer's FIN has been received (no more data will come).
    public private(set) var peerFinished = false
    /// An ACK must go out at the next transmit opportunity.
    private var acknowledgmentPending = false
    /// The RTO timer and RTT estimator.
    public private(set) var retransmissionTimer: RetransmissionTimer
    /// When TIME-WAIT ends.
    private var timeWaitDeadline: UInt64?
    /// Chooses our ISN.
    private let initialSequenceNumbers: InitialSequenceNumberGenerator

    /// Creates a CLOSED connection for the four-tuple, allocating its two buffers.
    public init(local: TCPEndpoint, remote: TCPEndpoint, initialSequenceNumbers: InitialSequenceNumberGenerator,
                configuration: TCPConnectionConfiguration = TCPConnectionConfiguration()) {
        self.local = local
        self.remote = remote
        self.configuration = configuration
        self.initialSequenceNumbers = initialSequenceNumbers
        self.sendBuffer = ByteRing(capacity: configuration.sendBufferCapacity)
        self.receiveBuffer = ByteRing(capacity: configuration.receiveBufferCapacity)
        self.retransmissionTimer = RetransmissionTimer(configuration: configuration.retransmission)
    }

    // MARK: - User calls (RFC 9293 §3.10.1–§3.10.4)

    /// Passive OPEN: wait for a SYN from `remote`.
    public mutating func listen() {
        if state == .closed { state = .listen }
    }

    /// Active OPEN: send a SYN with our MSS and enter SYN-SENT.
    public mutating func open<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard state == .closed || state == .listen else { return }
        chooseInitialSendSequence(now: now)
        state = .synchronizeSent
        sendSynchronize(now: now, output: &output)
    }

    /// SEND: queues as much of `bytes` as the send buffer holds and sends what the window
    /// allows. Returns how many bytes were taken (0 when the connection cannot send).
    @discardableResult
    public mutating func send<Output: TCPSegmentTransmitter>(_ bytes: ByteReader, now: UInt64, output: inout Output) -> Int {
        switch state {
        case .synchronizeSent, .synchronizeReceived, .established, .closeWait:
            guard !finishQueued else { return 0 }
            let accepted = sendBuffer.append(bytes)
            transmitPending(now: now, output: &output)
            return accepted
        default:
            return 0
        }
    }

    /// RECEIVE: copies received data into `buffer`; returns how many bytes. An ACK with the
    /// reopened window goes out when the window was closed.
    public mutating func read<Output: TCPSegmentTransmitter>(into buffer: UnsafeMutableRawBufferPointer, now: UInt64, output: inout Output) -> Int {
        let windowWasClosed = receiveWindow == 0
        let count = receiveBuffer.read(into: buffer)
        if windowWasClosed && count > 0 && isSynchronized {
            acknowledgmentPending = true
            transmitPending(now: now, output: &output)
        }
        return count
    }

    /// The number of received bytes waiting to be read.
    public var readableCount: Int { receiveBuffer.count }

    /// How many more bytes `send` would take now (0 once the user closed).
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
            sendReset(sequence: sendNext, output: &output)
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

    /// Runs the timers: the retransmission timeout (RFC 6298 §5.4–5.6) and the end of TIME-WAIT.
    public mutating func poll<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        if state == .timeWait, let deadline = timeWaitDeadline, now >= deadline {
            enterClosed()
            return
        }
        guard retransmissionTimer.hasExpired(now: now) else { return }
        if retransmissionTimer.backoffCount >= configuration.maximumRetransmissions {
            sendReset(sequence: sendNext, output: &output)
            error = .timedOut
            enterClosed()
            return
        }
        retransmissionTimer.backOff(now: now)
        retransmitEarliest(now: now, output: &output)
    }

    // MARK: - Segment arrival (RFC 9293 §3.10.7)

    /// Processes one segment of this four-tuple that arrived at `now`.
    public mutating func receive<Output: TCPSegmentTransmitter>(segment: TCPSegment, now: UInt64, output: inout Output) {
        switch state {
        case .closed:
            respondToSegmentWithoutConnection(segment, output: &output)
        case .listen:
            receiveInListen(segment, now: now, output: &output)
        case .synchronizeSent:
            receiveInSynchronizeSent(segment, now: now, output: &output)
        default:
            receiveSynchronized(segment, now: now, output: &output)
        }
    }

    /// §3.10.7.1: CLOSED answers everything but a RST with a RST.
    private func respondToSegmentWithoutConnection<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, output: inout Output) {
        let header = segment.header
        guard !header.flags.contains(.reset) else { return }
        if header.flags.contains(.acknowledgment) {
            sendReset(sequence: header.acknowledgmentNumber, output: &output)
        } else {
            emit(sequence: SequenceNumber(0), acknowledgment: header.sequenceNumber + segment.sequenceLength,
                 flags: [.reset, .acknowledgment], window: 0, output: &output)
        }
    }

    /// §3.10.7.2: LISTEN takes a SYN, answers an ACK with a RST, ignores the rest.
    private mutating func receiveInListen<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) {
        let header = segment.header
        if header.flags.contains(.reset) { return }
        if header.flags.contains(.acknowledgment) {
            sendReset(sequence: header.acknowledgmentNumber, output: &output)
            return
        }
        guard header.flags.contains(.synchronize) else { return }
        acceptSynchronize(segment)
        chooseInitialSendSequence(now: now)
        state = .synchronizeReceived
        sendSynchronize(now: now, output: &output)
    }

    /// §3.10.7.3: SYN-SENT waits for the peer's SYN (and the ACK of ours).
    private mutating func receiveInSynchronizeSent<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) {
        let header = segment.header
        let hasAcknowledgment = header.flags.contains(.acknowledgment)
        if hasAcknowledgment {
            let acknowledgment = header.acknowledgmentNumber
            if acknowledgment <= initialSendSequence || acknowledgment > sendNext {
                if !header.flags.contains(.reset) { sendReset(sequence: acknowledgment, output: &output) }
                return
            }
        }
        if header.flags.contains(.reset) {
            // RFC 5961 §3.2 / RFC 9293: only a RST that acknowledges our SYN is believed.
            if hasAcknowledgment {
                error = .refused
                enterClosed()
            }
            return
        }
        guard header.flags.contains(.synchronize) else { return }
        acceptSynchronize(segment)
        if hasAcknowledgment {
            acknowledge(header.acknowledgmentNumber, now: now)
            updateSendWindow(segment)
            state = .established
            if retransmissionTimer.backoffCount > 0 { retransmissionTimer.synchronizationTimedOut() }
            acknowledgmentPending = true
            transmitPending(now: now, output: &output)
        } else {
            // Simultaneous open: answer with SYN-ACK (the same ISS) — §3.5 Figure 8.
            state = .synchronizeReceived
            emitSynchronize(output: &output)
        }
    }

    /// §3.10.7.4: every synchronized state, and SYN-RECEIVED.
    private mutating func receiveSynchronized<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) {
        let header = segment.header
        let flags = header.flags

        // A retransmitted SYN while our SYN-ACK is unanswered: send the SYN-ACK again.
        if state == .synchronizeReceived, flags.contains(.synchronize), !flags.contains(.acknowledgment),
           header.sequenceNumber == initialReceiveSequence {
            emitSynchronize(output: &output)
            return
        }

        // First: sequence number acceptability (the four cases of the table in §3.10.7.4).
        guard isAcceptable(segment) else {
            if !flags.contains(.reset) { sendAcknowledgment(output: &output) }
            return
        }

        // Second: RST — RFC 5961 §3.2. Only an exact match resets; anything else in the
        // window gets a challenge ACK, so a blind attacker must guess RCV.NXT exactly.
        if flags.contains(.reset) {
            if header.sequenceNumber == receiveNext {
                if state != .synchronizeReceived && state != .closing && state != .lastAcknowledgment && state != .timeWait {
                    error = .reset
                } else if state == .synchronizeReceived {
                    error = .refused
                }
                enterClosed()
            } else {
                sendAcknowledgment(output: &output)
            }
            return
        }

        // Fourth: SYN in a synchronized state — RFC 5961 §4: challenge ACK, drop.
        if flags.contains(.synchronize) {
            sendAcknowledgment(output: &output)
            return
        }

        // Fifth: the ACK field.
        guard flags.contains(.acknowledgment) else { return }
        let acknowledgment = header.acknowledgmentNumber
        if state == .synchronizeReceived {
            guard sendUnacknowledged < acknowledgment && acknowledgment <= sendNext else {
                sendReset(sequence: acknowledgment, output: &output)
                return
            }
            state = .established
            if retransmissionTimer.backoffCount > 0 { retransmissionTimer.synchronizationTimedOut() }
            sendWindowUpdateSequence = header.sequenceNumber
            sendWindowUpdateAcknowledgment = acknowledgment
            sendWindow = UInt32(header.window)
            maximumSendWindow = max(maximumSendWindow, sendWindow)
        }
        // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
        guard acknowledgment <= sendNext,
              acknowledgment >= sendUnacknowledged - max(maximumSendWindow, 1) else {
            sendAcknowledgment(output: &output)
            return
        }
        if sendUnacknowledged < acknowledgment {
            acknowledge(acknowledgment, now: now)
        }
        if sendUnacknowledged <= acknowledgment { updateSendWindow(segment) }
        let ourFinishAcknowledged = finishSequence.map { acknowledgment > $0 } ?? false
        switch state {
        case .finishWait1 where ourFinishAcknowledged:
            state = .finishWait2
        case .closing where ourFinishAcknowledged:
            enterTimeWait(now: now)
        case .lastAcknowledgment where ourFinishAcknowledged:
            enterClosed()
            return
        default:
            break
        }

        // Seventh: segment text, in order only (see the type's notes), after trimming.
        let skip = SequenceNumber.octets(from: header.sequenceNumber, to: receiveNext)
        let startsInOrder = header.sequenceNumber <= receiveNext
        var finishInSequence = flags.contains(.finish)
        if !startsInOrder {
            // Out of order: dropped for now; the duplicate ACK tells the peer what we expect.
            if segment.payload.count > 0 || finishInSequence { sendAcknowledgment(output: &output) }
            return
        }
        if segment.payload.count > 0 {
            switch state {
            case .established, .finishWait1, .finishWait2:
                let fresh = Int(skip) < segment.payload.count ? segment.payload.count - Int(skip) : 0
                let fitting = min(fresh, receiveWindow)
                if fitting < fresh { finishInSequence = false }   // the FIN lies beyond what we keep
                if fitting > 0, let data = segment.payload.slice(at: Int(skip), count: fitting) {
                    receiveBuffer.append(data)
                    receiveNext += UInt32(fitting)
                }
                acknowledgmentPending = true
            default:
                break   // CLOSE-WAIT onwards: the peer already sent its FIN, data here is bogus.
            }
        }

        // Eighth: FIN, once everything before it has been taken.
        if finishInSequence && header.sequenceNumber + UInt32(segment.payload.count) == receiveNext {
            receiveFinish(now: now)
        } else if finishInSequence && state == .timeWait {
            // A retransmitted FIN in TIME-WAIT: acknowledge it again and restart 2 MSL.
            acknowledgmentPending = true
            enterTimeWait(now: now)
        }
        transmitPending(now: now, output: &output)
    }

    /// The peer's FIN at RCV.NXT: step over it and move on — §3.10.7.4 "eighth".
    private mutating func receiveFinish(now: UInt64) {
        switch state {
        case .synchronizeReceived, .established:
            state = .closeWait
        case .finishWait1:
            // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
            state = .closing
        case .finishWait2:
            enterTimeWait(now: now)
        case .timeWait:
            enterTimeWait(now: now)
            acknowledgmentPending = true
            return
        default:
            return   // CLOSE-WAIT, CLOSING, LAST-ACK: a repeated FIN; it was already counted.
        }
        receiveNext += 1
        peerFinished = true
        acknowledgmentPending = true
    }

    // MARK: - Helpers: state

    /// Whether the connection has exchanged SYNs (RCV.NXT is meaningful).
    private var isSynchronized: Bool {
        state != .closed && state != .listen && state != .synchronizeSent
    }

    /// RCV.WND: the free receive buffer, capped to what the 16-bit field carries unscaled.
    public var receiveWindow: Int { min(receiveBuffer.freeSpace, 0xFFFF) }

    /// §3.10.7.4's table: zero-length and non-zero-length segments against a zero and a
    /// non-zero window.
    private func isAcceptable(_ segment: TCPSegment) -> Bool {
        let sequence = segment.header.sequenceNumber
        let length = segment.sequenceLength
        let window = UInt32(receiveWindow)
        switch (length == 0, window == 0) {
        case (true, true):
            return sequence == receiveNext
        case (true, false):
            return sequence.isInWindow(start: receiveNext, length: window)
        case (false, true):
            return false
        case (false, false):
            return sequence.isInWindow(start: receiveNext, length: window)
                || (sequence + (length - 1)).isInWindow(start: receiveNext, length: window)
        }
    }

    /// Records the peer's SYN: IRS, RCV.NXT and its MSS.
    private mutating func acceptSynchronize(_ segment: TCPSegment) {
        initialReceiveSequence = segment.header.sequenceNumber
        receiveNext = segment.header.sequenceNumber + 1
        if let size = segment.options.maximumSegmentSize, size > 0 { peerMaximumSegmentSize = size }
        sendWindow = UInt32(segment.header.window)
        maximumSendWindow = max(maximumSendWindow, sendWindow)
        sendWindowUpdateSequence = segment.header.sequenceNumber
        sendWindowUpdateAcknowledgment = segment.header.acknowledgmentNumber
    }

    /// ISS from RFC 6528; SND.UNA = ISS, SND.NXT = ISS + 1 once the SYN goes out.
    private mutating func chooseInitialSendSequence(now: UInt64) {
        initialSendSequence = initialSequenceNumbers.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: now)
        sendUnacknowledged = initialSendSequence
        sendNext = initialSendSequence
        sendBufferSequence = initialSendSequence + 1
    }

    /// SND.UNA advances to `acknowledgment`: drop acknowledged data, take an RTT sample, and
    /// restart or stop the timer (RFC 6298 §5.2, §5.3).
    private mutating func acknowledge(_ acknowledgment: SequenceNumber, now: UInt64) {
        if acknowledgment > sendBufferSequence {
            let acknowledgedData = min(Int(SequenceNumber.octets(from: sendBufferSequence, to: acknowledgment)), sendBuffer.count)
            sendBuffer.discard(acknowledgedData)
            sendBufferSequence += UInt32(acknowledgedData)
        }
        sendUnacknowledged = acknowledgment
        retransmissionTimer.acknowledge(upTo: acknowledgment, now: now)
        if sendUnacknowledged == sendNext {
            retransmissionTimer.stop()
        } else {
            retransmissionTimer.restart(now: now)
        }
    }

    /// The window update rule of §3.10.7.4 "fifth": only newer segments change SND.WND.
    private mutating func updateSendWindow(_ segment: TCPSegment) {
        let header = segment.header
        if sendWindowUpdateSequence < header.sequenceNumber
            || (sendWindowUpdateSequence == header.sequenceNumber && sendWindowUpdateAcknowledgment <= header.acknowledgmentNumber) {
            sendWindow = UInt32(header.window)
            maximumSendWindow = max(maximumSendWindow, sendWindow)
            sendWindowUpdateSequence = header.sequenceNumber
            sendWindowUpdateAcknowledgment = header.acknowledgmentNumber
        }
    }

    private mutating func enterTimeWait(now: UInt64) {
        state = .timeWait
        retransmissionTimer.stop()
        timeWaitDeadline = now &+ configuration.timeWaitDuration
    }

    private mutating func enterClosed() {
        state = .closed
        retransmissionTimer.stop()
        timeWaitDeadline = nil
        acknowledgmentPending = false
    }

    // MARK: - Helpers: sending

    /// Sends new data the window allows, then our FIN when due, then a bare ACK if one is
    /// still owed.
    private mutating func transmitPending<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard isSynchronized, state != .synchronizeReceived else { return }
        let maximumSegment = Int(min(peerMaximumSegmentSize, configuration.maximumSegmentSize))
        while finishSequence == nil {
            let sentData = Int(SequenceNumber.octets(from: sendBufferSequence, to: sendNext))
            let unsent = sendBuffer.count - sentData
            let windowEnd = sendUnacknowledged + sendWindow
            let usable = sendNext < windowEnd ? Int(SequenceNumber.octets(from: sendNext, to: windowEnd)) : 0
            let length = min(unsent, usable, maximumSegment)
            guard length > 0 else { break }
            let (first, second) = sendBuffer.peek(offset: sentData, length: length)
            let flags: TCPFlags = length == unsent ? [.acknowledgment, .push] : [.acknowledgment]
            emit(sequence: sendNext, acknowledgment: receiveNext, flags: flags, window: receiveWindow,
                 payload: first, continuation: second, output: &output)
            sendNext += UInt32(length)
            retransmissionTimer.beginMeasurement(endingAt: sendNext, now: now)
            retransmissionTimer.startIfStopped(now: now)
            acknowledgmentPending = false
        }
        let allDataSent = Int(SequenceNumber.octets(from: sendBufferSequence, to: sendNext)) >= sendBuffer.count
        if finishQueued && finishSequence == nil && allDataSent {
            finishSequence = sendNext
            emit(sequence: sendNext, acknowledgment: receiveNext, flags: [.finish, .acknowledgment],
                 window: receiveWindow, output: &output)
            sendNext += 1
            retransmissionTimer.startIfStopped(now: now)
            acknowledgmentPending = false
        }
        if acknowledgmentPending {
            sendAcknowledgment(output: &output)
        }
    }

    /// Resends the earliest unacknowledged segment after an RTO.
    private mutating func retransmitEarliest<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        switch state {
        case .synchronizeSent, .synchronizeReceived:
            emitSynchronize(output: &output)
            return
        case .closed, .listen, .timeWait:
            return
        default:
            break
        }
        let outstandingData = min(Int(SequenceNumber.octets(from: sendBufferSequence, to: sendNext)), sendBuffer.count)
        if outstandingData > 0 {
            let maximumSegment = Int(min(peerMaximumSegmentSize, configuration.maximumSegmentSize))
            let (first, second) = sendBuffer.peek(offset: 0, length: min(outstandingData, maximumSegment))
            emit(sequence: sendBufferSequence, acknowledgment: receiveNext, flags: [.acknowledgment, .push],
                 window: receiveWindow, payload: first, continuation: second, output: &output)
        } else if let finish = finishSequence, sendUnacknowledged <= finish {
            emit(sequence: finish, acknowledgment: receiveNext, flags: [.finish, .acknowledgment],
                 window: receiveWindow, output: &output)
        }
    }

    /// Sends our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) and starts its timer.
    private mutating func sendSynchronize<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        sendNext = initialSendSequence + 1
        emitSynchronize(output: &output)
        retransmissionTimer.beginMeasurement(endingAt: sendNext, now: now)
        retransmissionTimer.startIfStopped(now: now)
    }

    /// Emits <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS.
    private func emitSynchronize<Output: TCPSegmentTransmitter>(output: inout Output) {
        let acknowledging = state == .synchronizeReceived
        emit(sequence: initialSendSequence, acknowledgment: acknowledging ? receiveNext : SequenceNumber(0),
             flags: acknowledging ? [.synchronize, .acknowledgment] : [.synchronize], window: receiveWindow,
             options: TCPOptions(maximumSegmentSize: configuration.maximumSegmentSize), output: &output)
    }

    /// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: the ACK of §3.10.7.4 and the challenge ACK of RFC 5961.
    private mutating func sendAcknowledgment<Output: TCPSegmentTransmitter>(output: inout Output) {
        acknowledgmentPending = false
        emit(sequence: sendNext, acknowledgment: receiveNext, flags: [.acknowledgment], window: receiveWindow, output: &output)
    }

    /// <SEQ=sequence><CTL=RST>.
    private func sendReset<Output: TCPSegmentTransmitter>(sequence: SequenceNumber, output: inout Output) {
        emit(sequence: sequence, acknowledgment: SequenceNumber(0), flags: [.reset], window: 0, output: &output)
    }

    private func emit<Output: TCPSegmentTransmitter>(sequence: SequenceNumber, acknowledgment: SequenceNumber,
                                                     flags: TCPFlags, window: Int, options: TCPOptions = TCPOptions(),
                                                     payload: ByteReader = ByteReader(), continuation: ByteReader = ByteReader(),
                                                     output: inout Output) {
        let header = TCPHeader(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                               acknowledgmentNumber: acknowledgment, flags: flags, window: UInt16(min(window, 0xFFFF)))
        output.transmit(TCPOutgoingSegment(source: local, destination: remote, header: header, options: options,
                                           payload: payload, payloadContinuation: continuation))
    }
}
