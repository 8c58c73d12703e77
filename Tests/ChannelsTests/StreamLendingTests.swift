/// Lent stream sends on the network core's end of a channel: buffers back only when handed back, in order; close recalls; an ended connection returns everything with its error.

import Channels
import TestSupport
import XCTest

final class StreamLendingTests: XCTestCase {
    private func send(_ fixture: ChannelFixture, _ handler: inout FakeStreamHandler, buffer: UInt32, count: Int,
                      cookie: UInt64) -> [ChannelCompletion] {
        fixture.fill(buffer, with: (0..<count).map { UInt8(truncatingIfNeeded: Int(buffer) &* 31 &+ $0) })
        return fixture.submitStream(.streamSend(connection: 0, bufferIndex: buffer, offset: 0, length: UInt32(count),
                                                cookie: cookie), handler: &handler)
    }

    private func lendingFixture(_ layout: ChannelLayout? = nil) -> ChannelFixture {
        layout.map { ChannelFixture(layout: $0) } ?? ChannelFixture()
    }

    private func lendingHandler(capacity: Int = 1 << 20) -> FakeStreamHandler {
        var handler = FakeStreamHandler()
        handler.lends = true
        handler.open(0, capacity: capacity)
        return handler
    }

    func testALentBufferComesBackOnlyWhenEveryByteIsAcknowledged() {
        let fixture = lendingFixture()
        var handler = lendingHandler()
        XCTAssertEqual(send(fixture, &handler, buffer: 2, count: 20, cookie: 7), [], "taken, but lent: no streamSent yet")
        XCTAssertEqual(handler.lentCount(of: 0), 20)
        XCTAssertEqual(fixture.server.ownership.holder(of: 2), .sending)
        handler.acknowledge(0, count: 19)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler), [], "one byte is still unacknowledged")
        handler.acknowledge(0, count: 1)
        fixture.server.wakeStream(0)
        let back = fixture.pump(&handler)
        XCTAssertEqual(back.map(\.decodedKind), [.streamSent])
        XCTAssertEqual(back.first?.bufferIndex, 2)
        XCTAssertEqual(back.first?.cookie, 7)
        XCTAssertEqual(fixture.server.ownership.holder(of: 2), .program)
    }

    func testBuffersComeBackInOrderAsAcknowledgementsCrossThem() {
        // 16 buffers: up to 4 held may be lent, so all three are.
        let fixture = lendingFixture(ChannelLayout(requestCapacity: 16, completionCapacity: 16, bufferCount: 16, bufferSize: 2048))
        var handler = lendingHandler(capacity: 50)
        for buffer: UInt32 in 0..<3 { XCTAssertEqual(send(fixture, &handler, buffer: buffer, count: 20, cookie: UInt64(buffer)), []) }
        XCTAssertEqual(handler.stream(of: 0).count, 50, "the third buffer is taken in part")
        handler.acknowledge(0, count: 45)   // the first two, and 5 bytes of the third
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [0, 1])
        XCTAssertEqual(handler.stream(of: 0).count, 60, "the same pump lent the rest of the third")
        handler.acknowledge(0, count: 14)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [], "one byte of the third unacknowledged")
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [2])
        XCTAssertEqual(handler.stream(of: 0), (0..<3).flatMap { buffer in (0..<20).map { UInt8(truncatingIfNeeded: buffer &* 31 &+ $0) } })
    }

    /// A queue that only waits for acknowledgements costs a pass nothing until its connection
    /// wakes it.
    func testAQueueWaitingForAcknowledgementsIsVisitedOnlyWhenWoken() {
        let fixture = lendingFixture()
        var handler = lendingHandler()
        _ = send(fixture, &handler, buffer: 1, count: 10, cookie: 1)
        _ = fixture.pump(&handler)
        let calls = handler.progressCalls
        for _ in 0..<10 { XCTAssertEqual(fixture.pump(&handler), []) }
        XCTAssertEqual(handler.progressCalls, calls, "not visited while nothing happened")
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.decodedKind), [.streamSent])
    }

    func testShutdownGoesOutBehindLentBytesWithoutWaitingForTheirAcknowledgement() {
        let fixture = lendingFixture()
        var handler = lendingHandler()
        _ = send(fixture, &handler, buffer: 1, count: 10, cookie: 1)
        let done = fixture.submitStream(.streamShutdown(connection: 0, cookie: 2), handler: &handler)
        XCTAssertEqual(done.map(\.decodedKind), [.streamShutDown])
        XCTAssertEqual(handler.shutdowns.count, 1)
        XCTAssertEqual(handler.lentCount(of: 0), 10, "still lent after the FIN was queued")
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.decodedKind), [.streamSent])
    }

    func testCloseRecallsLentBytesAndReturnsTheBuffersBeforeReleasing() {
        let fixture = lendingFixture()
        var handler = lendingHandler()
        _ = send(fixture, &handler, buffer: 1, count: 10, cookie: 1)
        _ = send(fixture, &handler, buffer: 2, count: 10, cookie: 2)
        handler.recallRefused = true
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 0, cookie: 3), handler: &handler), [],
                       "memory short: the close waits, the buffers stay lent")
        XCTAssertEqual(handler.releases.count, 0)
        XCTAssertEqual(fixture.pump(&handler), [], "tried again each pass")
        handler.recallRefused = false
        let done = fixture.pump(&handler)
        XCTAssertEqual(done.map(\.decodedKind), [.streamSent, .streamSent, .streamClosed])
        XCTAssertEqual(handler.lentCount(of: 0), 0, "nothing of the program's is read after the close")
        XCTAssertEqual(handler.releases.count, 1)
        XCTAssertEqual(handler.stream(of: 0).count, 20, "the bytes themselves still go out")
        XCTAssertEqual(fixture.server.ownership.count(heldBy: .sending), 0)
    }

    func testAnEndedConnectionReturnsEveryBufferWithItsError() {
        let fixture = lendingFixture()
        var handler = lendingHandler(capacity: 15)
        _ = send(fixture, &handler, buffer: 1, count: 10, cookie: 1)
        _ = send(fixture, &handler, buffer: 2, count: 10, cookie: 2)   // half taken
        _ = send(fixture, &handler, buffer: 3, count: 10, cookie: 3)   // not taken
        handler.acknowledge(0, count: 10)
        handler.connections[0]!.writeError = .connectionReset
        fixture.server.wakeStream(0)
        let back = fixture.pump(&handler)
        XCTAssertEqual(back.map(\.decodedKind), [.streamSent, .error, .error])
        XCTAssertEqual(back.map(\.cookie), [1, 2, 3])
        XCTAssertEqual(back.dropFirst().map(\.decodedError), [.connectionReset, .connectionReset])
        XCTAssertEqual(back.dropFirst().map(\.bufferReturned), [1, 1])
        XCTAssertEqual(fixture.server.ownership.count(heldBy: .sending), 0)
        XCTAssertEqual(fixture.server.counters[error: .connectionReset], 2)
    }

    /// The completion ring fills: the buffers wait, handed back but not yet returned, and come
    /// back in order as the program drains the ring.
    func testAFullCompletionRingDelaysReturnsWithoutLosingThem() {
        let fixture = lendingFixture(ChannelLayout(requestCapacity: 16, completionCapacity: 4, bufferCount: 8, bufferSize: 2048))
        var handler = lendingHandler()
        let count = 8
        for buffer in 0..<count { _ = send(fixture, &handler, buffer: UInt32(buffer), count: 5, cookie: UInt64(buffer)) }
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        fixture.server.pumpStreams(handler: &handler)
        var cookies = fixture.drain().map(\.cookie)
        XCTAssertEqual(cookies.count, 4, "as many as the ring holds")
        cookies += fixture.pump(&handler).map(\.cookie)   // listed again by itself: no wake needed
        XCTAssertEqual(cookies, (0..<count).map { UInt64($0) })
    }

    /// Above a quarter of the channel's buffers held for sending, the channel asks for copies:
    /// those come back at once, so a program with many connections keeps buffers to work with.
    func testLendingStopsAboveAQuarterOfTheBuffersAndCopiesComeBackAtOnce() {
        let fixture = lendingFixture()   // 8 buffers: lending up to 2 held
        var handler = lendingHandler()
        for buffer: UInt32 in 0..<4 { _ = send(fixture, &handler, buffer: buffer, count: 10, cookie: UInt64(buffer)) }
        XCTAssertEqual(handler.lentCount(of: 0), 20, "the first two buffers lent")
        XCTAssertEqual(handler.lendRefusals, 2, "the third and fourth copied")
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [], "the copies wait behind the lent buffers, in order")
        handler.acknowledge(0, count: 20)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [0, 1, 2, 3])
    }

    /// A buffer taken in part goes on the way it began: the rest of a lent buffer must be lent
    /// (a connection that copied it would never hand those bytes back, and the buffer would
    /// never return — a bulk stream stalled that way once).
    func testTheRestOfAPartlyTakenBufferGoesTheSameWay() {
        let fixture = lendingFixture()
        var handler = lendingHandler(capacity: 6)
        XCTAssertEqual(send(fixture, &handler, buffer: 1, count: 10, cookie: 1), [])
        XCTAssertEqual(handler.lendingAsked, [.either])
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        _ = fixture.pump(&handler)
        XCTAssertEqual(handler.lendingAsked.last, .lend, "the rest of a lent buffer is lent")
        handler.acknowledge(0)
        fixture.server.wakeStream(0)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [1])
    }
}
