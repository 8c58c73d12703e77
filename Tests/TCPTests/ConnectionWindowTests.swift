// Scripted conversations for window scaling (RFC 7323), the advertised window's right edge, zero-window probes and delayed ACKs.

import TCP
import TestSupport
import XCTest

final class ConnectionWindowTests: XCTestCase {
    // MARK: - Window scaling (RFC 7323 §2)

    func testShiftCoversTheReceiveBuffer() {
        XCTAssertEqual(TCPConnection.windowScale(forReceiveCapacity: 65_535), 0)
        XCTAssertEqual(TCPConnection.windowScale(forReceiveCapacity: 65_536), 1)
        XCTAssertEqual(TCPConnection.windowScale(forReceiveCapacity: 131_072), 2)
        XCTAssertEqual(TCPConnection.windowScale(forReceiveCapacity: 1 << 30), 14, "never beyond 14")
    }

    func testActiveOpenSendsWindowScaleAndUsesItWhenTheSynAckHasIt() {
        var talk = Conversation()
        talk.connection.open(now: talk.now, output: &talk.wire)
        let syn = expectOne(talk.wire.take(), flags: [.synchronize], sequence: talk.iss)
        XCTAssertEqual(syn?.options.windowScale, 2, "the shift covers the 128 KiB the buffer may grow to")
        XCTAssertEqual(syn?.header.window, 65_535, "a SYN's window is never scaled")
        talk.inject(flags: [.synchronize, .acknowledgment], sequence: 5000, acknowledgment: talk.iss &+ 1, window: 1000,
                    options: TCPOptions(maximumSegmentSize: 1460, windowScale: 3))
        XCTAssertEqual(talk.connection.sendWindow, 1000, "the SYN-ACK's window is taken as it is")
        let ack = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 5001)
        XCTAssertEqual(ack?.header.window, UInt16(65_536 >> 2), "our (initial 64 KiB) window, scaled by our shift")
        talk.inject(flags: [.acknowledgment], sequence: 5001, acknowledgment: talk.iss &+ 1, window: 1000)
        XCTAssertEqual(talk.connection.sendWindow, 8000, "later windows are scaled by the peer's shift")
    }

    func testActiveOpenWithoutScaleInTheSynAckScalesNothing() {
        var talk = Conversation()
        talk.connection.open(now: talk.now, output: &talk.wire)
        _ = talk.wire.take()
        talk.inject(flags: [.synchronize, .acknowledgment], sequence: 5000, acknowledgment: talk.iss &+ 1, window: 1000)
        let ack = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 5001)
        XCTAssertEqual(ack?.header.window, 65_535, "unscaled: capped at 65535")
        talk.inject(flags: [.acknowledgment], sequence: 5001, acknowledgment: talk.iss &+ 1, window: 1000)
        XCTAssertEqual(talk.connection.sendWindow, 1000)
        XCTAssertEqual(talk.connection.receiveWindowShift, 0)
    }

    func testSynAckCarriesTheScaleOnlyWhenThePeersSynDid() {
        var plain = Conversation()
        plain.connection.listen()
        plain.inject(flags: [.synchronize], sequence: 1000, acknowledgment: 0, options: TCPOptions(maximumSegmentSize: 1460))
        let plainSynAck = expectOne(plain.wire.take(), flags: [.synchronize, .acknowledgment], sequence: plain.iss)
        XCTAssertNil(plainSynAck?.options.windowScale, "RFC 7323 §2.2: no WS on a SYN-ACK to a SYN without it")

        var scaled = Conversation()
        scaled.connection.listen()
        // As a SYN rebuilt from a cookie would be: only MSS and WS.
        scaled.inject(flags: [.synchronize], sequence: 1000, acknowledgment: 0, window: 512,
                      options: TCPOptions(maximumSegmentSize: 1200, windowScale: 7))
        let synAck = expectOne(scaled.wire.take(), flags: [.synchronize, .acknowledgment], sequence: scaled.iss)
        XCTAssertEqual(synAck?.options.windowScale, 2)
        XCTAssertEqual(scaled.connection.sendWindow, 512)
        scaled.peerSequence = 1001
        scaled.peerAcknowledgment = scaled.iss &+ 1
        scaled.inject(flags: [.acknowledgment], window: 512)
        XCTAssertEqual(scaled.connection.state, .established)
        XCTAssertEqual(scaled.connection.sendWindow, 512 << 7)
        XCTAssertEqual(scaled.connection.peerMaximumSegmentSize, 1200)
    }

    func testRightEdgeNeverMovesBackUnderScaling() {
        var talk = Conversation()
        talk.establishPassively(peerOptions: TCPOptions(maximumSegmentSize: 1460, windowScale: 0))
        var random = SplitMix64(seed: 3)
        var lastEdge: UInt32 = 0
        var sequence: UInt32 = 1001
        // Odd-sized segments, never read: each ACK's right edge (ACK + window << 2) must not fall back.
        while talk.connection.receiveWindow > 0 {
            let size = Int.random(in: 1...1460, using: &random) | 1
            talk.inject(flags: [.acknowledgment], sequence: sequence, payload: [UInt8](repeating: 1, count: size))
            sequence = talk.connection.receiveNext.rawValue
            talk.advance(by: 40_000_000)
            for ack in talk.wire.take() {
                let edge = ack.acknowledgment &+ UInt32(ack.header.window) << 2
                XCTAssertGreaterThanOrEqual(edge, lastEdge, "the window shrank")
                lastEdge = edge
            }
        }
        XCTAssertEqual(talk.connection.readableCount, 65_536,
                       "the initial capacity filled, no more: a reader that never reads never grows its buffer")
    }

    func testZeroReceiveWindowStillTakesTheAckField() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(receiveBufferCapacity: 4))
        talk.establishPassively()
        _ = talk.send([1, 2, 3])
        _ = talk.wire.take()
        talk.inject(flags: [.acknowledgment], payload: [9, 9, 9, 9])
        _ = talk.wire.take()
        XCTAssertEqual(talk.connection.receiveWindow, 0)
        // The peer's zero-window probe at RCV.NXT also acknowledges our data.
        talk.inject(flags: [.acknowledgment], sequence: 1005, acknowledgment: talk.iss &+ 4, payload: [7])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 4, acknowledgment: 1005)
        XCTAssertEqual(talk.connection.sendUnacknowledged.rawValue, talk.iss &+ 4, "RFC 9293: valid ACKs are taken")
        XCTAssertEqual(talk.connection.readableCount, 4, "the probe's byte is not")
        XCTAssertEqual(talk.connection.statistics.unacceptableSegments, 1)
    }

    // MARK: - Zero-window probes (RFC 9293 §3.8.6.1)

    func testZeroWindowIsProbedWithBackoffForAsLongAsThePeerAnswers() {
        var talk = Conversation()
        talk.peerWindow = 0
        talk.establishPassively()
        XCTAssertEqual(talk.send(Array("data".utf8)), 4)
        XCTAssertTrue(talk.wire.take().isEmpty, "nothing fits a zero window")
        XCTAssertEqual(talk.connection.nextDeadline, talk.now + oneSecond, "the persist timer starts at the RTO")
        var interval = oneSecond
        for probe in 1...20 {   // more than maximumRetransmissions (12): answered probes never abort
            talk.advance(by: interval - 1)
            XCTAssertTrue(talk.wire.take().isEmpty)
            talk.advance(by: 1)
            let sent = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, payloadCount: 1)
            XCTAssertEqual(sent?.payload, Array("d".utf8))
            XCTAssertEqual(talk.connection.statistics.zeroWindowProbes, UInt64(probe))
            talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1, window: 0)
            XCTAssertTrue(talk.wire.take().isEmpty, "the answer is no duplicate ACK and needs no reply")
            interval = min(interval * 2, 60 * oneSecond)
        }
        XCTAssertEqual(talk.connection.state, .established)
        XCTAssertEqual(talk.connection.statistics.fastRetransmissions, 0)
        // The window opens: everything goes, the persist timer stops.
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1, window: 100)
        let data = expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 1, payloadCount: 4)
        XCTAssertEqual(data?.payload, Array("data".utf8))
        XCTAssertNil(talk.connection.persistTimer.deadline)
    }

    func testProbeByteTakenByThePeerIsAcknowledged() {
        var talk = Conversation()
        talk.peerWindow = 0
        talk.establishPassively()
        _ = talk.send(Array("ab".utf8))
        talk.advance(by: oneSecond)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, payloadCount: 1)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2, window: 0)
        XCTAssertEqual(talk.connection.sendUnacknowledged.rawValue, talk.iss &+ 2)
        talk.advance(by: 2 * oneSecond)
        let next = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 2, payloadCount: 1)
        XCTAssertEqual(next?.payload, Array("b".utf8))
    }

    func testUnansweredProbesEndTheConnection() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(maximumRetransmissions: 3))
        talk.peerWindow = 0
        talk.establishPassively()
        _ = talk.send([1])
        for interval: UInt64 in [1, 2, 4] {
            talk.advance(by: interval * oneSecond)
            expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, payloadCount: 1)
        }
        talk.advance(by: 8 * oneSecond)
        expectOne(talk.wire.take(), flags: [.reset], sequence: talk.iss &+ 1)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertEqual(talk.connection.error, .timedOut)
    }

    // MARK: - Delayed ACKs (RFC 5681 §4.2, RFC 1122 §4.2.3.2)

    func testEverySecondSegmentIsAcknowledgedAtOnce() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: [UInt8](repeating: 1, count: 1460))
        XCTAssertTrue(talk.wire.take().isEmpty)
        talk.inject(flags: [.acknowledgment], sequence: 2461, payload: [UInt8](repeating: 2, count: 1460))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 3921)
        XCTAssertNil(talk.connection.delayedAcknowledgmentDeadline)
        XCTAssertNil(talk.connection.nextDeadline, "nothing owed, nothing in flight")
    }

    func testDelayedAckGoesOutAtItsDeadline() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(delayedAcknowledgmentTimeout: 100_000_000))
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: [1])
        XCTAssertEqual(talk.connection.nextDeadline, talk.now + 100_000_000)
        talk.advance(by: 99_999_999)
        XCTAssertTrue(talk.wire.take().isEmpty)
        talk.advance(by: 1)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1002)
    }

    func testDelayedAckRidesOnOutgoingData() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: Array("GET".utf8))
        XCTAssertTrue(talk.wire.take().isEmpty)
        _ = talk.send(Array("200".utf8))
        expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 1, acknowledgment: 1004, payloadCount: 3)
        XCTAssertNil(talk.connection.delayedAcknowledgmentDeadline, "the data segment carried the ACK")
    }

    func testZeroDelayAcknowledgesEverySegment() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(delayedAcknowledgmentTimeout: 0))
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: [1])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1002)
    }

    func testNextDeadlineIsTheEarliestTimer() {
        var talk = Conversation()
        talk.establishPassively()
        XCTAssertNil(talk.connection.nextDeadline)
        _ = talk.send([1])
        XCTAssertEqual(talk.connection.nextDeadline, talk.now + oneSecond, "the RTO")
        talk.inject(flags: [.acknowledgment], payload: [5])
        XCTAssertEqual(talk.connection.nextDeadline, talk.now + 40_000_000, "the delayed ACK comes first")
        talk.inject(flags: [.finish, .acknowledgment], sequence: 1002, acknowledgment: talk.iss &+ 2)
        talk.close()
        talk.inject(flags: [.acknowledgment], sequence: 1003, acknowledgment: talk.iss &+ 3)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertNil(talk.connection.nextDeadline)
    }

    // MARK: - Statistics

    func testChallengeAcksAndResetsAreCounted() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.reset], sequence: 1500)
        talk.inject(flags: [.synchronize], sequence: 1001, acknowledgment: 0)
        XCTAssertEqual(talk.connection.statistics.challengeAcknowledgments, 2)
        talk.inject(flags: [.acknowledgment], sequence: 1001 &+ 200_000, payload: [1])
        XCTAssertEqual(talk.connection.statistics.unacceptableSegments, 1)
        talk.connection.abort(output: &talk.wire)
        XCTAssertEqual(talk.connection.statistics.resetsSent, 1)
    }
}
