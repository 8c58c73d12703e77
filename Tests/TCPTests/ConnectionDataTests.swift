// Scripted conversations for data transfer: in-order receive, ACKs, segmentation by MSS and window, acceptability, RST/SYN checks.

import TCP
import XCTest

final class ConnectionDataTests: XCTestCase {
    func testInOrderDataIsAcknowledgedAndReadable() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment, .push], payload: Array("hello".utf8))
        XCTAssertTrue(talk.wire.take().isEmpty, "one segment: the ACK is delayed (RFC 5681 §4.2)")
        XCTAssertEqual(talk.connection.nextDeadline, talk.now + 40_000_000)
        talk.advance(by: 40_000_000)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1006)
        XCTAssertEqual(talk.connection.readableCount, 5)
        XCTAssertEqual(talk.read(), Array("hello".utf8))
        XCTAssertEqual(talk.connection.readableCount, 0)
    }

    func testOutOfOrderDataIsAnsweredWithAnImmediateDuplicateAck() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], sequence: 1011, payload: [9, 9, 9])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.readableCount, 0, "held for reassembly, not readable")
    }

    func testRetransmittedOldDataIsTrimmed() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: [1, 2, 3, 4])
        talk.advance(by: 40_000_000)
        _ = talk.wire.take()
        // Overlaps: 1003...1008 carries two old bytes and four new ones.
        talk.inject(flags: [.acknowledgment], sequence: 1003, payload: [3, 4, 5, 6, 7, 8])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1009)
        XCTAssertEqual(talk.read(), [1, 2, 3, 4, 5, 6, 7, 8])
    }

    func testDataAcrossTheSequenceWrap() {
        var talk = Conversation()
        talk.connection.listen()
        talk.inject(flags: [.synchronize], sequence: 0xFFFF_FFF0, acknowledgment: 0)
        talk.peerAcknowledgment = talk.iss &+ 1
        talk.inject(flags: [.acknowledgment], sequence: 0xFFFF_FFF1)
        _ = talk.wire.take()
        let payload = (0..<32).map { UInt8($0) }
        talk.inject(flags: [.acknowledgment], sequence: 0xFFFF_FFF1, payload: payload)
        talk.advance(by: 40_000_000)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 0x11)
        XCTAssertEqual(talk.read(), payload)
    }

    func testSendIsCutIntoSegmentsOfThePeersMSS() {
        var talk = Conversation()
        talk.establishPassively(peerOptions: TCPOptions(maximumSegmentSize: 1000))
        let data = (0..<2500).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(talk.send(data), 2500)
        let segments = talk.wire.take()
        XCTAssertEqual(segments.map(\.payload.count), [1000, 1000, 500])
        XCTAssertEqual(segments.map(\.sequence), [talk.iss &+ 1, talk.iss &+ 1001, talk.iss &+ 2001])
        XCTAssertEqual(segments.map(\.flags), [[.acknowledgment], [.acknowledgment], [.acknowledgment, .push]])
        XCTAssertEqual(segments.flatMap(\.payload), data)
        XCTAssertNotNil(talk.connection.retransmissionTimer.deadline)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 2501)
        XCTAssertEqual(talk.connection.sendUnacknowledged.rawValue, talk.iss &+ 2501)
        XCTAssertNil(talk.connection.retransmissionTimer.deadline, "all acknowledged: timer stopped")
        XCTAssertTrue(talk.wire.take().isEmpty, "a pure ACK is not acknowledged")
    }

    func testSendRespectsThePeersWindowAndResumesOnAWindowUpdate() {
        var talk = Conversation()
        talk.peerWindow = 1500
        talk.establishPassively()
        XCTAssertEqual(talk.send([UInt8](repeating: 7, count: 4000)), 4000)
        XCTAssertEqual(talk.wire.take().map(\.payload.count), [1460],
                       "sender SWS avoidance (RFC 9293 §3.8.6.2.1): no 40-byte tail while a segment is in flight")
        talk.peerWindow = 3000
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 1461)
        XCTAssertEqual(talk.wire.take().map(\.payload.count), [1460, 1080], "2540 left, 3000 offered")
    }

    func testSendBufferIsBounded() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(sendBufferCapacity: 1000))
        talk.peerWindow = 0
        talk.establishPassively()
        XCTAssertEqual(talk.send([UInt8](repeating: 1, count: 1500)), 1000)
        XCTAssertEqual(talk.send([1]), 0)
        XCTAssertTrue(talk.wire.take().isEmpty, "a zero window sends nothing")
    }

    func testReceiveWindowShrinksAndReopens() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(receiveBufferCapacity: 8))
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        let ack = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1009)
        XCTAssertEqual(ack?.header.window, 0, "only what fits is taken; the window is closed")
        XCTAssertEqual(talk.read(upTo: 3), [1, 2, 3])
        XCTAssertTrue(talk.wire.take().isEmpty, "receiver SWS avoidance: 3 bytes are less than half the buffer")
        XCTAssertEqual(talk.read(upTo: 1), [4])
        let update = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1009)
        XCTAssertEqual(update?.header.window, 4, "reading reopens the window and says so")
    }

    /// Read by read, with nothing holding the ACK, the reopened window is announced at each
    /// doubling (`TCPConnectionTableTests.testReadsInOnePassAnnounceTheWindowOnce` holds it).
    func testReadByReadTheWindowIsAnnouncedAtEachDoubling() {
        var eager = Conversation(configuration: TCPConnectionConfiguration(receiveBufferCapacity: 8))
        eager.establishPassively()
        eager.inject(flags: [.acknowledgment], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        _ = eager.wire.take()
        var updates: [UInt16] = []
        for _ in 0..<4 {
            _ = eager.read(upTo: 2)
            updates += eager.wire.take().map(\.header.window)
        }
        XCTAssertEqual(updates, [4, 8], "read by read, the window is announced at each doubling")
    }

    func testUnacceptableSegmentIsAnsweredWithAnAck() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], sequence: 500, payload: [1])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        talk.inject(flags: [.acknowledgment], sequence: 1001 &+ 70_000, payload: [1])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.state, .established)
    }

    func testResetAtReceiveNextCloses() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.reset], sequence: 1001)
        XCTAssertEqual(talk.connection.state, .closed)
        XCTAssertEqual(talk.connection.error, .reset)
        XCTAssertTrue(talk.wire.take().isEmpty)
    }

    func testResetInWindowButNotExactGetsAChallengeAck() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.reset], sequence: 1500)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.state, .established, "RFC 5961 §3.2: a blind RST must hit RCV.NXT exactly")
        talk.inject(flags: [.reset], sequence: 1001 &+ 100_000)
        XCTAssertTrue(talk.wire.take().isEmpty, "an out-of-window RST is dropped silently")
        XCTAssertEqual(talk.connection.state, .established)
    }

    func testSynInEstablishedGetsAChallengeAck() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.synchronize], sequence: 1001, acknowledgment: 0)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.state, .established)
    }

    func testAckOfUnsentDataIsAnsweredAndIgnored() {
        var talk = Conversation()
        talk.establishPassively()
        _ = talk.send([1, 2, 3])
        _ = talk.wire.take()
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 100)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 4, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.sendUnacknowledged.rawValue, talk.iss &+ 1, "RFC 5961 §5: not believed")
    }
}
