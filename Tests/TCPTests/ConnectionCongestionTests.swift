// Scripted conversations for congestion control (IW, slow start, fast retransmit, NewReno, RTO go-back-N) and unit tests of CongestionControl.

import TCP
import XCTest

final class ConnectionCongestionTests: XCTestCase {
    /// Established with a peer MSS of 1000 (SMSS 1000, IW 10 segments by RFC 6928) and a large
    /// peer window, with `segments` full segments sent.
    func sending(_ segments: Int) -> Conversation {
        var talk = Conversation()
        talk.establishPassively(peerOptions: TCPOptions(maximumSegmentSize: 1000))
        XCTAssertEqual(talk.send([UInt8](repeating: 0x5A, count: segments * 1000)), segments * 1000)
        return talk
    }

    func testInitialWindowIsTenSegmentsThenSlowStart() {
        var talk = sending(30)
        XCTAssertEqual(talk.wire.take().map(\.payload.count), [Int](repeating: 1000, count: 10), "IW = min(10 SMSS, 14600)")
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 10_000)
        // One ACK of two segments: cwnd grows by min(N, SMSS) (RFC 5681 §3.1 eq. 2).
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2001)
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 11_000)
        XCTAssertEqual(talk.wire.take().map(\.sequence), [talk.iss &+ 10_001, talk.iss &+ 11_001, talk.iss &+ 12_001],
                       "cwnd 11000 - 8000 in flight: three segments")
    }

    func testTransmissionIsBoundByThePeerWindowWhenSmallerThanCwnd() {
        var talk = Conversation()
        talk.peerWindow = 2500
        talk.establishPassively(peerOptions: TCPOptions(maximumSegmentSize: 1000))
        _ = talk.send([UInt8](repeating: 1, count: 10_000))
        XCTAssertEqual(talk.wire.take().map(\.payload.count), [1000, 1000], "500 bytes left in the window wait (sender SWS)")
    }

    func testFastRetransmitOnTheThirdDuplicateAckThenNewRenoRecovery() {
        var talk = sending(20)
        _ = talk.wire.take()   // segments 1...10 (SEQ iss+1 ... iss+9001)
        let base = talk.iss &+ 1
        // Segment 1 is lost; segments 2, 3, 4 each bring a duplicate ACK.
        for duplicate in 1...3 {
            talk.inject(flags: [.acknowledgment], acknowledgment: base)
            if duplicate < 3 { XCTAssertTrue(talk.wire.take().isEmpty, "no action before the third duplicate") }
        }
        let resent = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: base, payloadCount: 1000)
        XCTAssertNotNil(resent)
        XCTAssertTrue(talk.connection.congestion.inFastRecovery)
        XCTAssertEqual(talk.connection.congestion.slowStartThreshold, 5000, "FlightSize 10000 / 2")
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 8000, "ssthresh + 3 SMSS")
        XCTAssertEqual(talk.connection.statistics.duplicateAcknowledgments, 3)
        XCTAssertEqual(talk.connection.statistics.fastRetransmissions, 1)
        // Further duplicates inflate cwnd by one SMSS each; at 11000 one new segment fits.
        for _ in 0..<3 { talk.inject(flags: [.acknowledgment], acknowledgment: base) }
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 11_000)
        XCTAssertEqual(talk.wire.take().map(\.sequence), [talk.iss &+ 10_001])
        // A partial ACK (segment 5 was lost too): the next hole is resent at once (RFC 6582 step 5).
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 4001)
        let partial = talk.wire.take()
        XCTAssertEqual(partial.first?.sequence, talk.iss &+ 4001)
        XCTAssertEqual(partial.first?.payload.count, 1000)
        XCTAssertTrue(talk.connection.congestion.inFastRecovery)
        XCTAssertEqual(talk.connection.statistics.fastRetransmissions, 2)
        // The full ACK (everything sent when recovery began) ends recovery with a deflated cwnd.
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 10_001)
        XCTAssertFalse(talk.connection.congestion.inFastRecovery)
        XCTAssertLessThanOrEqual(talk.connection.congestion.congestionWindow, 5000)
    }

    func testDuplicatesBelowRecoverDoNotStartAnotherRecovery() {
        var talk = sending(20)
        _ = talk.wire.take()
        // An RTO sets recover to the highest sequence sent (RFC 6582 §3.2 step 4).
        talk.advance(by: oneSecond)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, payloadCount: 1000)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1001)
        _ = talk.wire.take()
        for _ in 0..<3 { talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1001) }
        XCTAssertFalse(talk.connection.congestion.inFastRecovery, "duplicates of data sent before the timeout")
        XCTAssertEqual(talk.connection.statistics.fastRetransmissions, 0)
    }

    func testTimeoutShrinksToOneSegmentAndGoesBackN() {
        var talk = sending(10)
        _ = talk.wire.take()
        talk.advance(by: oneSecond)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, payloadCount: 1000)
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 1000, "the loss window")
        XCTAssertEqual(talk.connection.congestion.slowStartThreshold, 5000)
        XCTAssertEqual(talk.connection.statistics.timeoutRetransmissions, 1)
        // The resent segment is acknowledged: slow start to 2 SMSS, segments 2 and 3 go again.
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1001)
        XCTAssertEqual(talk.wire.take().map(\.sequence), [talk.iss &+ 1001, talk.iss &+ 2001])
        XCTAssertEqual(talk.connection.statistics.timeoutRetransmissions, 3)
        // The originals had arrived after all: an ACK beyond SND.NXT moves SND.NXT up with it.
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 10_001)
        XCTAssertEqual(talk.connection.sendNext.rawValue, talk.iss &+ 10_001)
        XCTAssertNil(talk.connection.retransmissionTimer.deadline)
        XCTAssertTrue(talk.wire.take().isEmpty)
    }

    func testSynRetransmissionLeavesAnInitialWindowOfOneSegment() {
        var talk = Conversation()
        talk.connection.open(now: talk.now, output: &talk.wire)
        talk.advance(by: oneSecond)
        _ = talk.wire.take()
        talk.inject(flags: [.synchronize, .acknowledgment], sequence: 5000, acknowledgment: talk.iss &+ 1,
                    options: TCPOptions(maximumSegmentSize: 1000))
        _ = talk.wire.take()
        XCTAssertEqual(talk.connection.congestion.congestionWindow, 1000, "RFC 5681 §3.1")
    }

    // MARK: - CongestionControl

    func testInitialWindowFormula() {
        XCTAssertEqual(CongestionControl.initialWindow(maximumSegmentSize: 1460), 14_600)
        XCTAssertEqual(CongestionControl.initialWindow(maximumSegmentSize: 536), 5360)
        XCTAssertEqual(CongestionControl.initialWindow(maximumSegmentSize: 9000), 18_000, "at least 2 SMSS")
    }

    func testCongestionAvoidanceGrowsOneSegmentPerWindowOfAckedBytes() {
        var control = CongestionControl(maximumSegmentSize: 1000, initialSendSequence: SequenceNumber(0))
        control.retransmissionTimeout(flightSize: 4000, firstTimeout: true, highestSent: SequenceNumber(4001))
        XCTAssertEqual(control.slowStartThreshold, 2000)
        XCTAssertEqual(control.congestionWindow, 1000)
        _ = control.acknowledged(1000, upTo: SequenceNumber(1001), flightSize: 0)
        XCTAssertEqual(control.congestionWindow, 2000, "slow start up to ssthresh")
        _ = control.acknowledged(1000, upTo: SequenceNumber(2001), flightSize: 0)
        XCTAssertEqual(control.congestionWindow, 2000, "avoidance: 1000 of 2000 counted")
        _ = control.acknowledged(1000, upTo: SequenceNumber(3001), flightSize: 0)
        XCTAssertEqual(control.congestionWindow, 3000)
        control.retransmissionTimeout(flightSize: 100_000, firstTimeout: false, highestSent: SequenceNumber(9001))
        XCTAssertEqual(control.slowStartThreshold, 2000, "held when the same data times out again")
    }
}
