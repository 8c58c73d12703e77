// Buffer auto-tuning: send and receive capacities that follow the connection's bandwidth-delay product, and memory given back when a buffer empties.

extension TCPConnection {
    /// The receive buffer's capacity now (what our window is computed from).
    public var receiveBufferCapacity: Int { receiveBuffer.capacity }
    /// The send buffer's capacity now.
    public var sendBufferCapacity: Int { sendBuffer.capacity }
    /// The pool memory both buffers hold now (0 for an idle connection).
    public var bufferBytesHeld: Int { receiveBuffer.storageBytes + sendBuffer.storageBytes }

    /// The largest pool block the buffers of `configuration` can need: the larger maximum,
    /// rounded up to a power of two.
    public static func largestBlock(for configuration: TCPConnectionConfiguration) -> Int {
        powerOfTwo(atLeast: max(configuration.sendBufferCapacity, configuration.receiveBufferCapacity), floor: 2048)
    }

    /// The owner read `count` bytes at `now`: receive-buffer auto-tuning ("dynamic right-sizing",
    /// Fisk and Feng 2001, as Linux's tcp_rcv_space_adjust does it). Over each measurement
    /// round of at least one RTT, the bytes that both arrived and were read are what the peer
    /// could send in that time: when one RTT's worth exceeds half the capacity, the window may
    /// be what holds the peer back, so the capacity grows to twice that amount (up to the
    /// maximum). Counting reads alone would let a reader draining a backlog look fast;
    /// counting arrivals alone would let a full window look like demand. A slow reader reads
    /// little per RTT and so never grows its buffer: memory follows the bandwidth-delay
    /// product, not the backlog.
    mutating func tuneReceiveBuffer(afterReading count: Int, now: UInt64) {
        receiveTuning.bytes += count
        // The smallest RTT sample, not SRTT: queueing and delayed ACKs inflate SRTT, and a
        // round that long would count more than one RTT's worth. Without a sample (the
        // handshake usually gives one) a round is 10 ms, longer than any RTT on the links
        // Swiglet runs on: the estimate then errs towards a larger buffer.
        let roundTripTime = max(retransmissionTimer.minimumRoundTripTime ?? 10_000_000, 100_000)
        let elapsed = now &- receiveTuning.start
        guard elapsed >= roundTripTime else { return }
        let arrived = Int(SequenceNumber.octets(from: receiveTuning.startSequence, to: receiveNext))
        let measured = UInt64(min(receiveTuning.bytes, arrived))
        let perRoundTrip = Int(measured &* roundTripTime / max(elapsed, 1))
        if perRoundTrip * 2 > receiveBuffer.capacity && receiveBuffer.capacity < receiveBuffer.maximumCapacity {
            receiveBuffer.raiseCapacity(to: powerOfTwo(atLeast: perRoundTrip * 2))
            statistics.bufferGrowths += 1
        }
        receiveTuning = BufferTuningRound(start: now, startSequence: receiveNext, bytes: 0)
    }

    /// The owner offered more than the send buffer holds, or filled it: send-buffer
    /// auto-tuning. The buffer must hold what may be in flight (min(cwnd, SND.WND)) plus as
    /// much again to send when that is acknowledged, or the congestion window can never be
    /// filled (Linux sizes it to twice the congestion window, tcp_sndbuf_expand). It grows only
    /// while the owner is actually limited by it.
    mutating func tuneSendBuffer() {
        let flight = Int(min(congestion.congestionWindow, max(sendWindow, maximumSendWindow)))
        guard flight * 2 > sendBuffer.capacity && sendBuffer.capacity < sendBuffer.maximumCapacity else { return }
        sendBuffer.raiseCapacity(to: powerOfTwo(atLeast: flight * 2))
        statistics.bufferGrowths += 1
    }

    /// Gives the receive buffer's memory back when the owner has read everything and no
    /// out-of-order bytes wait in it.
    mutating func releaseIdleReceiveBuffer() {
        if receiveBuffer.count == 0 && reassembly.isEmpty { receiveBuffer.releaseStorage() }
    }
}

/// One receive-tuning measurement round: when it began and what the owner read since.
struct BufferTuningRound {
    /// When the round began (monotonic ns).
    var start: UInt64 = 0
    /// RCV.NXT when it began.
    var startSequence = SequenceNumber(0)
    /// Bytes the owner read in it.
    var bytes = 0
}
