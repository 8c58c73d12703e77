// What one connection sends: new data within min(cwnd, SND.WND), FIN, ACKs, retransmissions, zero-window probes, SYNs and RSTs (RFC 9293 §3.10, RFC 5681, RFC 9293 §3.8.6).

import RawBytes

extension TCPConnection {
    /// SMSS: the largest segment we send — the peer's MSS, bounded by our own (RFC 9293 §3.7.1).
    @inline(__always)
    var sendMaximumSegmentSize: Int { Int(min(peerMaximumSegmentSize, configuration.maximumSegmentSize)) }

    /// One past the last byte the user queued.
    @inline(__always)
    var sendDataEnd: SequenceNumber { sendBufferSequence + UInt32(sendBuffer.count) }

    /// Sends data from SND.NXT as far as min(cwnd, SND.WND) from SND.UNA allows (RFC 5681 §3,
    /// RFC 9293 §3.8.6), then our FIN when all data is sent, then a bare ACK if one is still
    /// owed; finally arms or stops the persist timer.
    ///
    /// Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a segment goes out when it is full-sized,
    /// when it carries all the queued data (Nagle is not implemented, so always), when it is at
    /// least half the largest window the peer offered, or when nothing is in flight (then no
    /// ACK would come to wake us, which replaces the RFC's override timer).
    ///
    /// With TCP segmentation offload (the transmitter's `largestPayload()` above one SMSS) one
    /// segment carries as many whole SMSS-sized pieces as the windows allow (the tail of the
    /// queued data may end it shorter) and the NIC cuts it; the rules above apply per piece.
    /// Retransmissions (`retransmitFirstSegment`) stay one SMSS.
    ///
    /// When the NIC refuses a segment (its transmit queue is full) sending stops there: SND.NXT
    /// stays, an owed ACK stays owed, and `transmitBlocked` asks the table to call this again
    /// on its next pass. A full queue is backpressure, not a loss that only an RTO would repair.
    mutating func transmitPending<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard isSynchronized, state != .synchronizeReceived else { return }
        // However it ends (all sent, a window closed, the NIC refusing), the persist timer follows.
        defer { updatePersistTimer(now: now) }
        if firstSegmentOwed {
            firstSegmentOwed = false
            let length = retransmitFirstSegment(output: &output)
            guard !firstSegmentOwed else { return }   // refused again
            if length > 0 { statistics.fastRetransmissions += 1 }
        }
        let segmentSize = sendMaximumSegmentSize
        while sendNext < sendDataEnd {
            let unsent = Int(SequenceNumber.octets(from: sendNext, to: sendDataEnd))
            let windowEnd = sendUnacknowledged + min(congestion.congestionWindow, sendWindow)
            let usable = sendNext < windowEnd ? Int(SequenceNumber.octets(from: sendNext, to: windowEnd)) : 0
            let burst = max(segmentSize, output.largestPayload())
            var length = min(unsent, usable, burst)
            guard length > 0 else { break }
            // Several pieces: whole SMSS-sized ones, unless this ends the queued data.
            if length > segmentSize && length != unsent { length -= length % segmentSize }
            let inFlight = sendNext != sendUnacknowledged
            guard length >= segmentSize || length == unsent || !inFlight || length >= Int(maximumSendWindow / 2) else { break }
            let flags: TCPFlags = length == unsent ? [.acknowledgment, .push] : [.acknowledgment]
            guard emitAcknowledging(sequence: sendNext, flags: flags, data: storedData(from: sendNext, length: length),
                                    segmentationSize: length > segmentSize ? segmentSize : 0, output: &output) else { return }
            let end = sendNext + UInt32(length)
            let pieces = UInt64((length + segmentSize - 1) / segmentSize)
            if end <= sendMaximum {
                statistics.timeoutRetransmissions += pieces   // go-back-N after an RTO
            } else {
                statistics.segmentsSent += pieces
                if sendNext >= sendMaximum { retransmissionTimer.beginMeasurement(endingAt: end, now: now) }
                sendMaximum = end
            }
            sendNext = end
            retransmissionTimer.startIfStopped(now: now)
        }
        if finishQueued && sendNext == sendDataEnd {
            guard emitAcknowledging(sequence: sendNext, flags: [.finish, .acknowledgment], output: &output) else { return }
            if finishSequence == nil {
                statistics.segmentsSent += 1
            } else {
                statistics.timeoutRetransmissions += 1
            }
            finishSequence = sendNext
            sendNext += 1
            if sendNext > sendMaximum { sendMaximum = sendNext }
            retransmissionTimer.startIfStopped(now: now)
        }
        if acknowledgmentPending {
            if holdsAcknowledgment { acknowledgmentHeld = true } else { sendAcknowledgment(output: &output) }
        }
    }

    /// RFC 9293 §3.8.6.1: probe a zero window while data waits and nothing is in flight (no
    /// retransmission timer runs); stop as soon as the window opens or data is in flight.
    mutating func updatePersistTimer(now: UInt64) {
        if sendWindow == 0 && sendNext < sendDataEnd && retransmissionTimer.deadline == nil && state != .timeWait {
            persistTimer.start(now: now, interval: retransmissionTimer.retransmissionTimeout)
        } else {
            persistTimer.stop()
        }
    }

    /// A zero-window probe — RFC 9293 §3.8.6.1: one byte of new data at SND.NXT, sent beyond
    /// the zero window. SND.NXT and SND.MAX stay: the byte is sent again as ordinary data once
    /// the window opens; `unconfirmedSendEnd` lets the peer's ACK of it be acceptable if it
    /// took it.
    mutating func sendZeroWindowProbe<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        guard sendNext >= sendBufferSequence, sendNext < sendDataEnd else {
            persistTimer.stop()
            return
        }
        emitAcknowledging(sequence: sendNext, flags: [.acknowledgment], data: storedData(from: sendNext, length: 1),
                          output: &output)
        unconfirmedSendEnd = sendNext + 1
        statistics.zeroWindowProbes += 1
        persistTimer.probeSent(now: now, maximumInterval: configuration.retransmission.maximumTimeout)
    }

    /// Resends the segment at SND.UNA — data up to one SMSS, or our FIN — for an RTO (RFC 6298
    /// §5.4), a fast retransmit (RFC 5681 §3.2 step 3) or a NewReno partial ACK (RFC 6582 §3.2
    /// step 5). It ignores cwnd and the peer's window, as those rules require. Returns the
    /// sequence space it covered (0 when nothing was outstanding, or when the NIC refused the
    /// segment: then `firstSegmentOwed` sends it on the table's next pass).
    @discardableResult
    mutating func retransmitFirstSegment<Output: TCPSegmentTransmitter>(output: inout Output) -> UInt32 {
        let dataEnd = sendDataEnd
        if sendUnacknowledged < dataEnd && sendUnacknowledged >= sendBufferSequence {
            let remaining = Int(SequenceNumber.octets(from: sendUnacknowledged, to: dataEnd))
            let length = min(remaining, sendMaximumSegmentSize)
            let flags: TCPFlags = length == remaining ? [.acknowledgment, .push] : [.acknowledgment]
            guard emitAcknowledging(sequence: sendUnacknowledged, flags: flags,
                                    data: storedData(from: sendUnacknowledged, length: length), output: &output) else {
                firstSegmentOwed = true
                return 0
            }
            return UInt32(length)
        }
        if let finish = finishSequence, sendUnacknowledged <= finish {
            guard emitAcknowledging(sequence: finish, flags: [.finish, .acknowledgment], output: &output) else {
                firstSegmentOwed = true
                return 0
            }
            return 1
        }
        return 0
    }

    /// Sends our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) and starts its timer.
    mutating func sendSynchronize<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        sendNext = initialSendSequence + 1
        sendMaximum = sendNext
        emitSynchronize(output: &output)
        retransmissionTimer.beginMeasurement(endingAt: sendNext, now: now)
        retransmissionTimer.startIfStopped(now: now)
    }

    /// Emits <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS (RFC 9293
    /// §3.7.1) and window scale (RFC 7323 §2.2: on a SYN always, on a SYN-ACK only when the
    /// peer's SYN had it). A SYN's window field is never scaled, so it offers at most 65535.
    func emitSynchronize<Output: TCPSegmentTransmitter>(output: inout Output) {
        let acknowledging = state == .synchronizeReceived
        var options = TCPOptions(maximumSegmentSize: configuration.maximumSegmentSize)
        if !acknowledging || peerOffersWindowScale {
            options.windowScale = Self.windowScale(forReceiveCapacity: configuration.receiveBufferCapacity)
        }
        emit(sequence: initialSendSequence, acknowledgment: acknowledging ? receiveNext : SequenceNumber(0),
             flags: acknowledging ? [.synchronize, .acknowledgment] : [.synchronize],
             window: UInt16(min(receiveBuffer.freeSpace, 0xFFFF)), options: options, output: &output)
    }

    /// <SEQ=SND.MAX><ACK=RCV.NXT><CTL=ACK>: the ACK of §3.10.7.4 and the challenge ACK of RFC 5961.
    /// SND.MAX rather than SND.NXT: after a go-back-N rewind SND.NXT lies below what the peer
    /// already received, and a zero-length segment below RCV.NXT is unacceptable to it
    /// (§3.10.7.4), so its ACK field would be ignored. SND.MAX never includes a zero-window
    /// probe, which the peer may not have taken.
    ///
    /// Refused by a full NIC queue, the ACK stays owed (`acknowledgmentPending`) and goes out
    /// with the table's next pass (`transmitBlocked`).
    mutating func sendAcknowledgment<Output: TCPSegmentTransmitter>(output: inout Output) {
        if !emitAcknowledging(sequence: sendMaximum, flags: [.acknowledgment], output: &output) {
            acknowledgmentPending = true
        }
    }

    /// <SEQ=sequence><CTL=RST>.
    mutating func sendReset<Output: TCPSegmentTransmitter>(sequence: SequenceNumber, output: inout Output) {
        statistics.resetsSent += 1
        emit(sequence: sequence, acknowledgment: SequenceNumber(0), flags: [.reset], window: 0, output: &output)
    }

    /// `length` bytes of the send buffer from sequence number `sequence` on (within it), read
    /// when the segment is built.
    func storedData(from sequence: SequenceNumber, length: Int) -> TCPStoredPayload {
        TCPStoredPayload(store: sendBuffer, offset: Int(SequenceNumber.octets(from: sendBufferSequence, to: sequence)),
                         count: length)
    }

    /// Emits a segment carrying <ACK=RCV.NXT> and our current window (RFC 9293 §3.10.7.4): it
    /// acknowledges everything received, so any owed or delayed ACK is settled by it — once
    /// the NIC took it. Returns false when the NIC refused it (nothing changes but
    /// `transmitBlocked`, which asks the table for another try on its next pass).
    @discardableResult
    mutating func emitAcknowledging<Output: TCPSegmentTransmitter>(sequence: SequenceNumber, flags: TCPFlags,
                                                                   data: TCPStoredPayload? = nil,
                                                                   segmentationSize: Int = 0,
                                                                   output: inout Output) -> Bool {
        // The window edge this records may not reach the peer if the segment is refused; the
        // retry advertises at least as much, so the edge remembered is never more than offered.
        let window = advertisedWindowField()
        guard emit(sequence: sequence, acknowledgment: receiveNext, flags: flags, window: window,
                   data: data, segmentationSize: segmentationSize, output: &output) else {
            transmitBlocked = true
            return false
        }
        acknowledgmentPending = false
        delayedAcknowledgmentDeadline = nil
        segmentsSinceAcknowledgment = 0
        return true
    }

    /// Hands one segment to the transmitter: the fixed header of RFC 9293 §3.1 plus options
    /// (§3.2); the transmitter builds and checksums it. Returns false when the NIC refused it.
    @discardableResult
    func emit<Output: TCPSegmentTransmitter>(sequence: SequenceNumber, acknowledgment: SequenceNumber,
                                             flags: TCPFlags, window: UInt16, options: TCPOptions = TCPOptions(),
                                             data: TCPStoredPayload? = nil,
                                             segmentationSize: Int = 0, output: inout Output) -> Bool {
        let header = TCPHeader(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                               acknowledgmentNumber: acknowledgment, flags: flags, window: window)
        return output.transmit(TCPOutgoingSegment(source: local, destination: remote, header: header, options: options,
                                                  payload: ByteReader(), payloadContinuation: ByteReader(),
                                                  storedPayload: data, segmentationSize: segmentationSize))
    }
}
