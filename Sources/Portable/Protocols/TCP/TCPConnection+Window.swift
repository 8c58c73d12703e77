// Windows of one connection: window scaling (RFC 7323 §2), the window we advertise and its right edge, and the peer's window (RFC 9293 §3.8.6).

extension TCPConnection {
    /// The shift we announce for a receive buffer of `capacity` bytes — RFC 7323 §2.3: the
    /// smallest that lets the 16-bit window field cover the whole buffer, at most 14.
    public static func windowScale(forReceiveCapacity capacity: Int) -> UInt8 {
        var shift: UInt8 = 0
        while shift < TCPOptions.maximumWindowScale && (0xFFFF << Int(shift)) < capacity { shift += 1 }
        return shift
    }

    /// RCV.WND: what the receive buffer can take now (its free space), within what the window
    /// field can express with our shift.
    @inline(__always)
    public var receiveWindow: Int { min(receiveBuffer.freeSpace, 0xFFFF << Int(receiveWindowShift)) }

    /// The bytes from RCV.NXT to the right edge the peer was last told about.
    @inline(__always)
    var advertisedWindowRemaining: Int {
        advertisedWindowEdge > receiveNext ? Int(SequenceNumber.octets(from: receiveNext, to: advertisedWindowEdge)) : 0
    }

    /// The window a segment is checked against (§3.10.7.4): RCV.WND, or what we advertised when
    /// that is more — the peer may use the whole window we offered, even if rounding or a
    /// silly-window hold made the offer a little larger than the free space.
    @inline(__always)
    var acceptanceWindow: UInt32 { UInt32(max(receiveWindow, advertisedWindowRemaining)) }

    /// Receiver SWS avoidance — RFC 9293 §3.8.6.2.2: move the right edge only by at least
    /// min(half the buffer, MSS).
    @inline(__always)
    var receiveSillyWindowThreshold: Int {
        max(1, min(receiveBuffer.capacity / 2, Int(configuration.maximumSegmentSize)))
    }

    /// The window field for a segment we send now (never a SYN: RFC 7323 §2.2 leaves those
    /// unscaled), recording the right edge it announces.
    ///
    /// RFC 9293 §3.8.6 forbids shrinking the window (moving the right edge back); RFC 7323 §2.4
    /// notes that scaling loses the low bits, so when rounding RCV.WND down would move the edge
    /// back we round up instead. The edge moves forward only by the receiver SWS threshold.
    mutating func advertisedWindowField() -> UInt16 {
        let shift = Int(receiveWindowShift)
        let remaining = advertisedWindowRemaining
        let available = receiveWindow
        let window = available >= remaining + receiveSillyWindowThreshold ? available : remaining
        var units = window >> shift
        if units << shift < remaining { units = (remaining + (1 << shift) - 1) >> shift }
        units = min(units, 0xFFFF)
        let edge = receiveNext + UInt32(units << shift)
        if edge > advertisedWindowEdge { advertisedWindowEdge = edge }
        return UInt16(units)
    }

    /// After a read: whether telling the peer about the freed space is worth a segment of its
    /// own — the window would grow by the SWS threshold and at least double what the peer may
    /// still send (RFC 1122 §4.2.3.3; below that, ACKs of arriving data carry the update).
    @inline(__always)
    var windowUpdateIsWorthSending: Bool {
        let remaining = advertisedWindowRemaining
        let available = receiveWindow
        return available >= remaining + receiveSillyWindowThreshold && remaining <= available / 2
    }

    /// The peer's window from a non-SYN segment, scaled — RFC 7323 §2.3.
    @inline(__always)
    func scaledWindow(of segment: TCPSegment) -> UInt32 {
        UInt32(segment.header.window) << UInt32(sendWindowShift)
    }

    /// The window update rule of §3.10.7.4 "fifth": only newer segments change SND.WND.
    mutating func updateSendWindow(_ segment: TCPSegment) {
        let header = segment.header
        if sendWindowUpdateSequence < header.sequenceNumber
            || (sendWindowUpdateSequence == header.sequenceNumber && sendWindowUpdateAcknowledgment <= header.acknowledgmentNumber) {
            sendWindow = scaledWindow(of: segment)
            maximumSendWindow = max(maximumSendWindow, sendWindow)
            sendWindowUpdateSequence = header.sequenceNumber
            sendWindowUpdateAcknowledgment = header.acknowledgmentNumber
        }
    }
}
