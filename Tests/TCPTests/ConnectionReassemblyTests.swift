// Scripted conversations for out-of-order reassembly (holes, FIN beyond a hole, the bounded run list) and unit tests of ReassemblyQueue.

import TCP
import XCTest

final class ConnectionReassemblyTests: XCTestCase {
    func testOutOfOrderSegmentsAreKeptAndDeliveredWhenTheHoleFills() {
        var talk = Conversation()
        talk.establishPassively()
        let data = (0..<30).map { UInt8($0) }
        talk.inject(flags: [.acknowledgment], sequence: 1011, payload: Array(data[10..<20]))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        talk.inject(flags: [.acknowledgment], sequence: 1021, payload: Array(data[20..<30]))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.readableCount, 0, "nothing readable before the hole fills")
        XCTAssertEqual(talk.connection.reassembly.count, 1, "adjacent runs merge")
        // The hole fills: RFC 5681 §4.2 wants an immediate ACK, covering everything held.
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: Array(data[0..<10]))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1031)
        XCTAssertEqual(talk.read(), data)
        XCTAssertEqual(talk.connection.statistics.outOfOrderSegments, 2)
        XCTAssertTrue(talk.connection.reassembly.isEmpty)
    }

    func testPartialFillDeliversUpToTheNextHole() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.acknowledgment], sequence: 1006, payload: [6, 7, 8, 9, 10])
        talk.inject(flags: [.acknowledgment], sequence: 1016, payload: [16, 17])
        _ = talk.wire.take()
        XCTAssertEqual(talk.connection.reassembly.count, 2)
        // Overlapping the first run (1006..1010) and stopping before the second.
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: [1, 2, 3, 4, 5, 6, 7])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1011)
        XCTAssertEqual(talk.read(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        XCTAssertEqual(talk.connection.reassembly.count, 1)
        talk.inject(flags: [.acknowledgment], sequence: 1011, payload: [11, 12, 13, 14, 15])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1018)
        XCTAssertEqual(talk.read(), [11, 12, 13, 14, 15, 16, 17])
    }

    func testFinBeyondAHoleIsTakenWhenTheHoleFills() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.finish, .acknowledgment], sequence: 1006, payload: [6, 7, 8, 9, 10])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.state, .established)
        XCTAssertFalse(talk.connection.peerFinished)
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: [1, 2, 3, 4, 5])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1012)
        XCTAssertEqual(talk.connection.state, .closeWait)
        XCTAssertTrue(talk.connection.peerFinished)
        XCTAssertEqual(talk.read(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    }

    func testBareFinBeyondAHoleIsRemembered() {
        var talk = Conversation()
        talk.establishPassively()
        talk.inject(flags: [.finish, .acknowledgment], sequence: 1004)
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: [1, 2, 3])
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1005)
        XCTAssertEqual(talk.connection.state, .closeWait)
    }

    func testRunListIsBoundedAndOverflowIsCounted() {
        var talk = Conversation()
        talk.establishPassively()
        // Nine disjoint runs: 1011, 1031, ... 1171, five bytes each; the ninth does not fit.
        for run in 0..<9 {
            talk.inject(flags: [.acknowledgment], sequence: 1011 &+ UInt32(run * 20), payload: [UInt8](repeating: UInt8(run), count: 5))
            expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        }
        XCTAssertEqual(talk.connection.reassembly.count, ReassemblyQueue.capacity)
        XCTAssertEqual(talk.connection.statistics.outOfOrderSegments, 8)
        XCTAssertEqual(talk.connection.statistics.reassemblyOverflows, 1)
        // Everything up to 1171 in one segment: the eight runs are delivered, the ninth is not there.
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: [UInt8](repeating: 0xEE, count: 170))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1171)
        XCTAssertEqual(talk.connection.readableCount, 170)
    }

    func testOutOfOrderDataBeyondTheBufferIsTrimmed() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(receiveBufferCapacity: 16))
        talk.establishPassively()
        talk.inject(flags: [.finish, .acknowledgment], sequence: 1011, payload: [UInt8](repeating: 9, count: 10))
        expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1001)
        XCTAssertEqual(talk.connection.reassembly[0], ReceivedInterval(start: SequenceNumber(1011), end: SequenceNumber(1017)),
                       "only what the buffer can hold is kept; the FIN beyond it is not")
        talk.inject(flags: [.acknowledgment], sequence: 1001, payload: [UInt8](repeating: 1, count: 10))
        let ack = expectOne(talk.wire.take(), flags: [.acknowledgment], sequence: talk.iss &+ 1, acknowledgment: 1017)
        XCTAssertEqual(ack?.header.window, 0)
        XCTAssertEqual(talk.connection.state, .established)
    }

    // MARK: - ReassemblyQueue

    func testQueueMergesOverlappingAndTouchingRuns() {
        var queue = ReassemblyQueue()
        XCTAssertTrue(queue.insert(start: SequenceNumber(100), end: SequenceNumber(110)))
        XCTAssertTrue(queue.insert(start: SequenceNumber(130), end: SequenceNumber(140)))
        XCTAssertTrue(queue.insert(start: SequenceNumber(120), end: SequenceNumber(125)))
        XCTAssertEqual(queue.count, 3)
        XCTAssertEqual(queue[1], ReceivedInterval(start: SequenceNumber(120), end: SequenceNumber(125)), "kept sorted")
        // Bridges all three (touching 110 and 130).
        XCTAssertTrue(queue.insert(start: SequenceNumber(110), end: SequenceNumber(130)))
        XCTAssertEqual(queue.count, 1)
        XCTAssertEqual(queue[0], ReceivedInterval(start: SequenceNumber(100), end: SequenceNumber(140)))
        XCTAssertEqual(queue.advance(from: SequenceNumber(90)), SequenceNumber(90), "a hole before the run")
        XCTAssertEqual(queue.advance(from: SequenceNumber(100)), SequenceNumber(140))
        XCTAssertTrue(queue.isEmpty)
    }

    func testQueueWorksAcrossTheSequenceWrap() {
        var queue = ReassemblyQueue()
        queue.insert(start: SequenceNumber(0xFFFF_FFF0), end: SequenceNumber(0xFFFF_FFFA))
        queue.insert(start: SequenceNumber(0x0000_0005), end: SequenceNumber(0x0000_0010))
        queue.insert(start: SequenceNumber(0xFFFF_FFFA), end: SequenceNumber(0x0000_0005))
        XCTAssertEqual(queue.count, 1)
        XCTAssertEqual(queue.advance(from: SequenceNumber(0xFFFF_FFF0)), SequenceNumber(0x10))
    }

    func testQueueRefusesANinthRunWithoutChangingAnything() {
        var queue = ReassemblyQueue()
        for run in 0..<8 { XCTAssertTrue(queue.insert(start: SequenceNumber(UInt32(run * 10)), end: SequenceNumber(UInt32(run * 10 + 5)))) }
        XCTAssertFalse(queue.insert(start: SequenceNumber(200), end: SequenceNumber(205)))
        XCTAssertEqual(queue.count, 8)
        XCTAssertTrue(queue.insert(start: SequenceNumber(72), end: SequenceNumber(90)), "a run that merges still fits")
        XCTAssertEqual(queue[7], ReceivedInterval(start: SequenceNumber(70), end: SequenceNumber(90)))
    }
}
