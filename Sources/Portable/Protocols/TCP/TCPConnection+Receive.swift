// Segment arrival for one connection: RFC 9293 §3.10.7 by state, ACK processing with congestion control, and reassembly of segment text.

import RawBytes

extension TCPConnection {
    /// Processes one segment of this four-tuple that arrived at `now` — RFC 9293 §3.10.7.
    public mutating func receive<Output: TCPSegmentTransmitter>(segment: TCPSegment, now: UInt64, output: inout Output) {
        var none = NoInOrderSink()
        receive(segment: segment, now: now, output: &output, sink: &none)
    }

    /// `receive`, handing in-order data to `sink` first when nothing received earlier waits
    /// (see `TCPDirectReceiver`).
    mutating func receive<Output: TCPSegmentTransmitter, Sink: InOrderSink>(segment: TCPSegment, now: UInt64,
                                                                           output: inout Output, sink: inout Sink) {
        switch state {
        case .closed:
            respondToSegmentWithoutConnection(segment, output: &output)
        case .listen:
            receiveInListen(segment, now: now, output: &output)
        case .synchronizeSent:
            receiveInSynchronizeSent(segment, now: now, output: &output)
        default:
            receiveSynchronized(segment, now: now, output: &output, sink: &sink)
        }
    }

    /// §3.10.7.1: CLOSED answers everything but a RST with a RST.
    mutating func respondToSegmentWithoutConnection<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, output: inout Output) {
        let header = segment.header
        guard !header.flags.contains(.reset) else { return }
        if header.flags.contains(.acknowledgment) {
            sendReset(sequence: header.acknowledgmentNumber, output: &output)
        } else {
            statistics.resetsSent += 1
            emit(sequence: SequenceNumber(0), acknowledgment: header.sequenceNumber + segment.sequenceLength,
                 flags: [.reset, .acknowledgment], window: 0, output: &output)
        }
    }

    /// §3.10.7.2: LISTEN takes a SYN, answers an ACK with a RST, ignores the rest. The SYN's
    /// options alone decide MSS and window scaling, so a SYN rebuilt from a SYN cookie is
    /// handled exactly as the original.
    mutating func receiveInListen<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) {
        let header = segment.header
        if header.flags.contains(.reset) { return }
        if header.flags.contains(.acknowledgment) {
            sendReset(sequence: header.acknowledgmentNumber, output: &output)
            return
        }
        guard header.flags.contains(.synchronize) else { return }
        chooseInitialSendSequence(now: now)
        acceptSynchronize(segment)
        state = .synchronizeReceived
        sendSynchronize(now: now, output: &output)
    }

    /// §3.10.7.3: SYN-SENT waits for the peer's SYN (and the ACK of ours).
    mutating func receiveInSynchronizeSent<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) {
        let header = segment.header
        let hasAcknowledgment = header.flags.contains(.acknowledgment)
        if hasAcknowledgment {
            let acknowledgment = header.acknowledgmentNumber
            if acknowledgment <= initialSendSequence || acknowledgment > sendNext {
                if !header.flags.contains(.reset) { sendReset(sequence: acknowledgment, output: &output) }
                statistics.unacceptableSegments += 1
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
            // The SYN-ACK's window is unscaled (RFC 7323 §2.2); acceptSynchronize took it as it is.
            acknowledge(header.acknowledgmentNumber, now: now)
            state = .established
            if retransmissionTimer.backoffCount > 0 {
                retransmissionTimer.synchronizationTimedOut()
                congestion.synchronizationWasRetransmitted()
            }
            acknowledgmentPending = true
            transmitPending(now: now, output: &output)
        } else {
            // Simultaneous open: answer with SYN-ACK (the same ISS) — §3.5 Figure 8.
            state = .synchronizeReceived
            emitSynchronize(output: &output)
        }
    }

    /// §3.10.7.4: every synchronized state, and SYN-RECEIVED.
    mutating func receiveSynchronized<Output: TCPSegmentTransmitter, Sink: InOrderSink>(_ segment: TCPSegment, now: UInt64,
                                                                                        output: inout Output, sink: inout Sink) {
        let header = segment.header
        let flags = header.flags

        // A retransmitted SYN while our SYN-ACK is unanswered: send the SYN-ACK again.
        if state == .synchronizeReceived, flags.contains(.synchronize), !flags.contains(.acknowledgment),
           header.sequenceNumber == initialReceiveSequence {
            emitSynchronize(output: &output)
            return
        }

        // First: sequence number acceptability (the four cases of the table in §3.10.7.4).
        let acceptable = isAcceptable(segment)
        if !acceptable {
            statistics.unacceptableSegments += 1
            if !flags.contains(.reset) && outOfWindowReplyAllowed(segment, now: now) { sendAcknowledgment(output: &output) }
            // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
            // should be made to accept valid ACKs": a segment at RCV.NXT (typically the peer's
            // zero-window probe) still has its ACK field processed; its text is not taken.
            // Likewise a bare ACK one below RCV.NXT: we took the peer's zero-window probe byte,
            // and its SND.MAX does not count that byte until our ACK of it gets through — which
            // may be exactly the ACK it answers. Ignoring its ACK field would leave both ends
            // waiting for each other (each took the other's probe) until they time out. The ACK
            // value itself is still checked against RFC 5961 §5.2's range below.
            let probeTaken = segment.payload.count == 0 && !flags.contains(.finish) && header.sequenceNumber + 1 == receiveNext
            let zeroWindowAllowance = (acceptanceWindow == 0 && header.sequenceNumber == receiveNext || probeTaken)
                && flags.contains(.acknowledgment) && !flags.contains(.reset) && !flags.contains(.synchronize)
                && state != .synchronizeReceived
            guard zeroWindowAllowance else { return }
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
                statistics.challengeAcknowledgments += 1
                sendAcknowledgment(output: &output)
            }
            return
        }

        // Fourth: SYN in a synchronized state — RFC 5961 §4: challenge ACK, drop.
        if flags.contains(.synchronize) {
            statistics.challengeAcknowledgments += 1
            sendAcknowledgment(output: &output)
            return
        }

        // Fifth: the ACK field.
        guard flags.contains(.acknowledgment) else { return }
        guard processAcknowledgment(segment, now: now, output: &output) else { return }

        // Seventh and eighth: segment text and FIN.
        if acceptable { processText(segment, now: now, sink: &sink) }
        transmitPending(now: now, output: &output)
    }

    /// Whether an unacceptable segment gets its ACK (§3.10.7.4 "first"). A segment carrying data
    /// always does (it may be a zero-window probe, whose answer carries the window); a bare
    /// ACK gets one at most every `outOfWindowReplyInterval`, as Linux limits them
    /// (tcp_oow_rate_limited): when both ends hold bytes the other refused — a full window,
    /// memory pressure — each end's ACK is out of the other's window, and answering every one
    /// would make the two ACK each other without end.
    mutating func outOfWindowReplyAllowed(_ segment: TCPSegment, now: UInt64) -> Bool {
        if segment.payload.count > 0 || segment.header.flags.contains(.finish) || segment.header.flags.contains(.synchronize) {
            return true
        }
        guard now &- lastOutOfWindowReply >= Self.outOfWindowReplyInterval || lastOutOfWindowReply == 0 else {
            statistics.outOfWindowRepliesSuppressed += 1
            return false
        }
        lastOutOfWindowReply = now
        return true
    }

    /// The least time between ACKs to unacceptable bare ACKs (Linux's tcp_invalid_ratelimit).
    static var outOfWindowReplyInterval: UInt64 { 500_000_000 }

    /// §3.10.7.4 "fifth" with RFC 5961 §5.2's range check, RFC 5681/6582 congestion control and
    /// the state changes an ACK of our FIN causes. Returns false when processing must stop.
    mutating func processAcknowledgment<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, now: UInt64, output: inout Output) -> Bool {
        let header = segment.header
        let acknowledgment = header.acknowledgmentNumber
        let completesHandshake = state == .synchronizeReceived
        if completesHandshake {
            guard sendUnacknowledged < acknowledgment && acknowledgment <= sendMaximum else {
                statistics.unacceptableSegments += 1
                sendReset(sequence: acknowledgment, output: &output)
                return false
            }
            state = .established
            if retransmissionTimer.backoffCount > 0 {
                retransmissionTimer.synchronizationTimedOut()
                congestion.synchronizationWasRetransmitted()
            }
            // The first non-SYN segment: its window is scaled (RFC 7323 §2.2).
            sendWindowUpdateSequence = header.sequenceNumber
            sendWindowUpdateAcknowledgment = acknowledgment
            sendWindow = scaledWindow(of: segment)
            maximumSendWindow = max(maximumSendWindow, sendWindow)
        }
        // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX] (or up to
        // bytes sent beyond SND.MAX — a zero-window probe's, an RTO resend's — which the peer
        // may have taken: then SND.MAX moves up to what it took).
        if let unconfirmedEnd = unconfirmedSendEnd, acknowledgment <= unconfirmedEnd, sendMaximum < acknowledgment {
            sendMaximum = acknowledgment
            if acknowledgment == unconfirmedEnd { unconfirmedSendEnd = nil }
        }
        guard acknowledgment <= sendMaximum,
              acknowledgment >= sendUnacknowledged - max(maximumSendWindow, 1) else {
            statistics.unacceptableSegments += 1
            statistics.challengeAcknowledgments += 1
            sendAcknowledgment(output: &output)
            return false
        }
        persistTimer.peerAnswered()
        if sendUnacknowledged < acknowledgment {
            let acknowledged = SequenceNumber.octets(from: sendUnacknowledged, to: acknowledgment)
            acknowledge(acknowledgment, now: now)
            let flightSize = SequenceNumber.octets(from: sendUnacknowledged, to: sendMaximum)
            // The ACK of our SYN is no data acknowledged: cwnd starts at IW once established.
            if !completesHandshake && congestion.acknowledged(acknowledged, upTo: acknowledgment, flightSize: flightSize) {
                // RFC 6582 §3.2 step 5: a partial ACK; the next hole is resent at once.
                if retransmitFirstSegment(output: &output) > 0 { statistics.fastRetransmissions += 1 }
            }
        } else if isDuplicateAcknowledgment(segment) {
            statistics.duplicateAcknowledgments += 1
            let flightSize = SequenceNumber.octets(from: sendUnacknowledged, to: sendMaximum)
            if congestion.duplicateAcknowledgment(sendUnacknowledged: sendUnacknowledged, flightSize: flightSize,
                                                  highestSent: sendMaximum) {
                // RFC 5681 §3.2 step 3: fast retransmit. Karn: the resend makes RTT samples ambiguous.
                retransmissionTimer.cancelMeasurement()
                if retransmitFirstSegment(output: &output) > 0 { statistics.fastRetransmissions += 1 }
            }
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
            return false
        default:
            break
        }
        return true
    }

    /// RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": data outstanding, no data, no SYN or FIN, the
    /// ACK equals SND.UNA, and the window is unchanged.
    @inline(__always)
    func isDuplicateAcknowledgment(_ segment: TCPSegment) -> Bool {
        let header = segment.header
        // A zero window is excluded: answers to our zero-window probes repeat SND.UNA too.
        return sendUnacknowledged < sendMaximum && sendWindow != 0
            && segment.payload.count == 0
            && !header.flags.contains(.synchronize) && !header.flags.contains(.finish)
            && header.acknowledgmentNumber == sendUnacknowledged
            && scaledWindow(of: segment) == sendWindow
    }

    /// §3.10.7.4 "seventh" (segment text) and "eighth" (FIN).
    ///
    /// Bytes before RCV.NXT are trimmed; bytes beyond the receive buffer's free space are
    /// trimmed. What starts at RCV.NXT is appended (and any queued runs it reaches are
    /// delivered); what starts beyond goes into the ring's free space at its offset and into
    /// the reassembly queue. ACK policy after RFC 5681 §4.2: immediate for out-of-order data,
    /// data that fills a hole, old data and FIN; otherwise every second segment or after the
    /// delay.
    mutating func processText<Sink: InOrderSink>(_ segment: TCPSegment, now: UInt64, sink: inout Sink) {
        let sequence = segment.header.sequenceNumber
        let payload = segment.payload
        var finish = segment.header.flags.contains(.finish)
        var immediate = false
        if payload.count > 0 && peerMaySend {
            var start = sequence
            var data = payload
            let lead = SequenceNumber.distance(from: receiveNext, to: sequence)
            if lead < 0 {
                // Old bytes again: our ACK may have been lost, so repeat it now.
                immediate = true
                let skip = Int(-Int64(lead))
                data = skip < payload.count ? (payload.slice(at: skip, count: payload.count - skip) ?? ByteReader()) : ByteReader()
                start = receiveNext
            }
            // In order, with nothing received earlier still waiting: the owner may take the
            // bytes straight from the segment (copied once; `TCPDirectReceiver`). What it
            // takes is read at once, so it never occupies the window; a FIN after it stays.
            let length = data.count
            if start == receiveNext && data.count > 0 && receiveBuffer.count == 0 && reassembly.isEmpty
                && pendingPeerFinish == nil,
               let offered = data.slice(at: 0, count: min(data.count, receiveBuffer.freeSpace)), offered.count > 0 {
                let taken = min(sink.take(offered), offered.count)
                if taken > 0 {
                    receiveNext += UInt32(taken)
                    start = receiveNext
                    data = data.slice(at: taken, count: data.count - taken) ?? ByteReader()
                    statistics.directlyDelivered &+= UInt64(taken)
                    tuneReceiveBuffer(afterReading: taken, now: now)
                }
            }
            if data.count == 0 {
                scheduleAcknowledgment(now: now, immediate: immediate, length: length)
                if finish { finishText(segment, now: now) }
                return
            }
            let offset = Int(SequenceNumber.octets(from: receiveNext, to: start))
            var room = max(0, receiveBuffer.freeSpace - offset)
            if let peerFinish = pendingPeerFinish, start <= peerFinish {
                room = min(room, Int(SequenceNumber.octets(from: start, to: peerFinish)))   // nothing after a FIN
            }
            var kept = min(data.count, room)
            if kept > 0 && !receiveBuffer.reserve(receiveBuffer.count + offset + kept) {
                // The pool is exhausted: keep what the storage already holds room for, drop
                // the rest (the peer sends it again) and count it.
                kept = max(0, min(kept, receiveBuffer.storageBytes - receiveBuffer.count - offset))
                statistics.bufferRefusals += 1
            }
            if kept < data.count {
                finish = false      // the FIN lies beyond what we keep
                immediate = true    // bytes were refused: tell the peer where the window stands
            }
            if kept > 0, let piece = data.slice(at: 0, count: kept) {
                if offset == 0 {
                    receiveBuffer.append(piece)
                    receiveNext += UInt32(kept)
                    if !reassembly.isEmpty { immediate = true }   // RFC 5681 §4.2: filling a hole
                    deliverReassembled(now: now)
                } else if reassembly.insert(start: start, end: start + UInt32(kept)) {
                    receiveBuffer.write(piece, atTailOffset: offset)
                    statistics.outOfOrderSegments += 1
                    immediate = true   // RFC 5681 §4.2: the duplicate ACK that drives fast retransmit
                } else {
                    statistics.reassemblyOverflows += 1
                    finish = false
                    immediate = true
                }
            }
            scheduleAcknowledgment(now: now, immediate: immediate, length: length)
        }

        guard finish else { return }
        finishText(segment, now: now)
    }

    /// The segment's FIN, once its text was taken — §3.10.7.4 "eighth".
    mutating func finishText(_ segment: TCPSegment, now: UInt64) {
        let sequence = segment.header.sequenceNumber
        let payload = segment.payload
        let finishAt = sequence + UInt32(payload.count)
        if finishAt == receiveNext {
            receiveFinish(now: now)
        } else if finishAt > receiveNext && peerMaySend {
            // A FIN beyond a hole: remembered, taken when the data before it arrives.
            if pendingPeerFinish == nil { pendingPeerFinish = finishAt }
            acknowledgmentPending = true
        } else if state == .timeWait {
            // A retransmitted FIN in TIME-WAIT: acknowledge it again and restart 2 MSL.
            acknowledgmentPending = true
            enterTimeWait(now: now)
        }
    }

    /// RCV.NXT advanced: take the queued runs it reached into the readable data, then a FIN
    /// that was waiting for them.
    mutating func deliverReassembled(now: UInt64) {
        let next = reassembly.advance(from: receiveNext)
        receiveBuffer.commit(Int(SequenceNumber.octets(from: receiveNext, to: next)))
        receiveNext = next
        if let peerFinish = pendingPeerFinish, peerFinish == receiveNext {
            pendingPeerFinish = nil
            receiveFinish(now: now)
        }
    }

    /// Data arrived: acknowledge now (`immediate`, or the second segment since our last ACK —
    /// RFC 5681 §4.2 / RFC 1122 §4.2.3.2) or arm the delayed-ACK deadline.
    mutating func scheduleAcknowledgment(now: UInt64, immediate: Bool, length: Int = 0) {
        // A segment the NIC merged from several (large receive) counts as the full-sized
        // segments it holds: RFC 5681 §4.2 asks for an ACK at least every second one.
        segmentsSinceAcknowledgment += max(1, length / Int(configuration.maximumSegmentSize))
        if immediate || configuration.delayedAcknowledgmentTimeout == 0 || segmentsSinceAcknowledgment >= 2 {
            acknowledgmentPending = true
        } else if delayedAcknowledgmentDeadline == nil {
            delayedAcknowledgmentDeadline = now &+ configuration.delayedAcknowledgmentTimeout
        }
    }

    /// The peer's FIN at RCV.NXT: step over it and move on — §3.10.7.4 "eighth".
    mutating func receiveFinish(now: UInt64) {
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
        if advertisedWindowEdge < receiveNext { advertisedWindowEdge = receiveNext }
        peerFinished = true
        acknowledgmentPending = true
    }

    /// §3.10.7.4's table: zero-length and non-zero-length segments against a zero and a
    /// non-zero window (the window we offered, see `acceptanceWindow`).
    ///
    /// `mutating` though it changes nothing: its only caller is mutating, and a non-mutating
    /// call from there made the compiler copy the whole connection (700 bytes, `rep movsb`,
    /// byte by byte under TCG) for every segment received, even marked `@inline(__always)`.
    mutating func isAcceptable(_ segment: TCPSegment) -> Bool {
        let sequence = segment.header.sequenceNumber
        let length = segment.sequenceLength
        let window = acceptanceWindow
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

    /// Records the peer's SYN: IRS, RCV.NXT, its MSS and window scale (RFC 7323 §2.2: scaling
    /// is on only when both SYNs carry the option — ours is on every SYN we start and on a
    /// SYN-ACK exactly when the peer's SYN had it, so the peer's option decides), its window
    /// (never scaled on a SYN), and the congestion state for the resulting SMSS.
    mutating func acceptSynchronize(_ segment: TCPSegment) {
        let header = segment.header
        initialReceiveSequence = header.sequenceNumber
        receiveNext = header.sequenceNumber + 1
        if let size = segment.options.maximumSegmentSize, size > 0 { peerMaximumSegmentSize = size }
        if let shift = segment.options.windowScale {
            peerOffersWindowScale = true
            sendWindowShift = min(shift, TCPOptions.maximumWindowScale)
            receiveWindowShift = Self.windowScale(forReceiveCapacity: configuration.receiveBufferCapacity)
        } else {
            peerOffersWindowScale = false
            sendWindowShift = 0
            receiveWindowShift = 0
        }
        sendWindow = UInt32(header.window)
        maximumSendWindow = max(maximumSendWindow, sendWindow)
        sendWindowUpdateSequence = header.sequenceNumber
        sendWindowUpdateAcknowledgment = header.acknowledgmentNumber
        // Our SYN (or the SYN-ACK about to go) offers the unscaled free space.
        advertisedWindowEdge = receiveNext + UInt32(min(receiveBuffer.freeSpace, 0xFFFF))
        congestion = CongestionControl(maximumSegmentSize: UInt32(sendMaximumSegmentSize), initialSendSequence: initialSendSequence)
    }

    /// SND.UNA advances to `acknowledgment`: drop acknowledged data, take an RTT sample, and
    /// restart or stop the timer (RFC 6298 §5.2, §5.3). SND.NXT moves up with it when a
    /// go-back-N resend is overtaken by ACKs of the original transmissions.
    mutating func acknowledge(_ acknowledgment: SequenceNumber, now: UInt64) {
        if acknowledgment > sendBufferSequence {
            let acknowledgedData = min(Int(SequenceNumber.octets(from: sendBufferSequence, to: acknowledgment)), sendBuffer.count)
            sendBuffer.discard(acknowledgedData)
            sendBufferSequence += UInt32(acknowledgedData)
            sendBuffer.releaseStorage()   // only when everything was acknowledged
        }
        if acknowledgment > sendUnacknowledged { firstSegmentOwed = false }
        sendUnacknowledged = acknowledgment
        if sendNext < acknowledgment { sendNext = acknowledgment }
        timeoutsWithoutProgress = 0
        retransmissionTimer.acknowledge(upTo: acknowledgment, now: now)
        if sendUnacknowledged == sendMaximum {
            retransmissionTimer.stop()
        } else {
            retransmissionTimer.restart(now: now)
        }
    }
}
