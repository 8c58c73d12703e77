// Scripted conversations for closing (active, passive, simultaneous, TIME-WAIT) and for retransmission on RTO.

import TCP
import XCTest

final class ConnectionCloseTests: XCTestCase {
    func testActiveCloseThroughFinWait2AndTimeWait() {
        var talk = Conversation()
        talk.establishPassively()
        talk.close()
        XCTAssertEqual(talk.connection.state, .finishWait1)
        expectOne(talk.wire.take(), flags: [.finish, .acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2)
        XCTAssertEqual(talk.connection.state, .finishWait2)
        // Half-close: the peer may still send data to us.
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2, payload: [42])
        talk.advance(by: 40_000_000)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, acknowledgment: 1002)
        talk.inject(flags: [.finish, .acknowledgment], sequence: 1002, acknowledgment: talk.iss &+ 2)
        XCTAssertEqual(talk.connection.state, .timeWait)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, acknowledgment: 1003)
        XCTAssertEqual(talk.read(), [42])
        talk.advance(by: 59 * oneSecond)
        XCTAssertEqual(talk.connection.state, .timeWait)
        talk.advance(by: oneSecond)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertNil(talk.connection.error)
    }

    func testFinFollowsQueuedData() {
        var talk = Conversation()
        talk.establishPassively()
        _ = talk.send([1, 2, 3])
        talk.close()
        let segments = talk.wire.take()
        XCTAssertEqual(segments.map(\.flags), [[.acknowledgment, .push], [.finish, .acknowledgment]])
        XCTAssertEqual(segments.map(\.sequence), [talk.iss &+ 1, talk.iss &+ 4])
        XCTAssertEqual(talk.send([4]), 0, "no sending after close")
    }

    func testPassiveCloseThroughCloseWaitAndLastAck() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.finish, .acknowledgment])
        XCTAssertEqual(talk.connection.state, .closeWait)
        XCTAssertTrue(talk.connection.peerFinished)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1002)
        // Half-close the other way: we may still send.
        XCTAssertEqual(talk.send([5, 6]), 2)
        expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 1, acknowledgment: 1002, payloadCount: 2)
        talk.close()
        XCTAssertEqual(talk.connection.state, .lastAcknowledgment)
        expectOne(talk.wire.take(), flags: [.finish, .acknowledgment], sequence: talk.iss &+ 3, acknowledgment: 1002)
        talk.peerSequence = 1002
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 4)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertNil(talk.connection.error)
    }

    func testSimultaneousCloseThroughClosing() {
        var talk = Conversation()
        talk.establishPassively()
        talk.close()
        _ = talk.wire.take()
        talk.inject(flags: [.finish, .acknowledgment], acknowledgment: talk.iss &+ 1)   // crosses our FIN
        XCTAssertEqual(talk.connection.state, .closing)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, acknowledgment: 1002)
        talk.peerSequence = 1002
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2)
        XCTAssertEqual(talk.connection.state, .timeWait)
    }

    func testFinAndAckTogetherInFinWait1GoesStraightToTimeWait() {
        var talk = Conversation()
        talk.establishPassively()
        talk.close()
        _ = talk.wire.take()
        talk.inject(flags: [.finish, .acknowledgment], acknowledgment: talk.iss &+ 2)
        XCTAssertEqual(talk.connection.state, .timeWait)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, acknowledgment: 1002)
    }

    func testRetransmittedFinInTimeWaitIsAcknowledgedAgain() {
        var talk = Conversation()
        talk.establishPassively()
        talk.close()
        talk.inject(flags: [.finish, .acknowledgment], acknowledgment: talk.iss &+ 2)
        _ = talk.wire.take()
        talk.inject(flags: [.finish, .acknowledgment], acknowledgment: talk.iss &+ 2)   // our ACK was lost
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, acknowledgment: 1002)
        XCTAssertEqual(talk.connection.state, .timeWait)
    }

    func testDataIsRetransmittedOnTimeoutWithBackoff() {
        var talk = Conversation()
        talk.establishPassively()
        _ = talk.send(Array("ping".utf8))
        _ = talk.wire.take()
        talk.advance(by: oneSecond - 1)
        XCTAssertTrue(talk.wire.take().isEmpty, "not before the 1 s RTO")
        talk.advance(by: 1)
        let again = expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 1, payloadCount: 4)
        XCTAssertEqual(again?.payload, Array("ping".utf8))
        XCTAssertEqual(talk.connection.retransmissionTimer.retransmissionTimeout, 2 * oneSecond)
        talk.advance(by: 2 * oneSecond)
        expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 1, payloadCount: 4)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 5)
        XCTAssertEqual(talk.connection.retransmissionTimer.smoothedRoundTripTime, 0,
                       "Karn: SRTT is still the handshake's 0 ns; the retransmitted segment's 3 s gave no sample")
        XCTAssertNil(talk.connection.retransmissionTimer.deadline)
        talk.advance(by: 10 * oneSecond)
        XCTAssertTrue(talk.wire.take().isEmpty)
    }

    func testSynAndFinAreRetransmitted() {
        var talk = Conversation()
        talk.connection.open(now: talk.now, output: &talk.wire)
        _ = talk.wire.take()
        talk.advance(by: oneSecond)
        expectOne(talk.wire.take(), flags: [.synchronize], sequence: talk.iss)

        var closing = Conversation()
        closing.establishPassively()
        closing.close()
        _ = closing.wire.take()
        closing.advance(by: oneSecond)
        expectOne(closing.wire.take(), flags: [.finish, .acknowledgment], sequence: closing.iss &+ 1)
    }

    func testGivesUpAfterTheMaximumRetransmissions() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(maximumRetransmissions: 3))
        talk.connection.open(now: talk.now, output: &talk.wire)
        _ = talk.wire.take()
        for timeout: UInt64 in [1, 2, 4] {
            talk.advance(by: timeout * oneSecond)
            expectOne(talk.wire.take(), flags: [.synchronize], sequence: talk.iss)
        }
        talk.advance(by: 8 * oneSecond)
        expectOne(talk.wire.take(), flags: [.reset], sequence: talk.iss &+ 1)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertEqual(talk.connection.error, .timedOut)
    }
}
