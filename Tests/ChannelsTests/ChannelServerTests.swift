/// The network core's end of a channel: valid requests, every malformed request, hostile indices, delivery.

import Channels
import XCTest

final class ChannelServerTests: XCTestCase {
    func testBindSendAndClose() {
        let channel = ChannelFixture(identifier: 3)
        var stack = FakeNetworkStack()
        let socket = channel.bind(5000, handler: &stack)
        XCTAssertEqual(socket, 0)
        XCTAssertEqual(stack.ports[5000]?.channel, 3)
        XCTAssertEqual(channel.server.port(ofSocket: 0), 5000)

        let buffer = channel.memory.buffer(2)
        for index in 0..<100 { buffer[index] = UInt8(index) }
        let completions = channel.submit(.send(socket: socket, bufferIndex: 2, offset: 10, length: 50,
                                               address: 0x0A00_0202, port: 9, cookie: 77), handler: &stack)
        XCTAssertEqual(stack.sent, [.init(payload: (10..<60).map { UInt8($0) }, address: 0x0A00_0202, port: 9, sourcePort: 5000)])
        XCTAssertEqual(completions, [ChannelCompletion(kind: .sent, socket: 0, bufferIndex: 2, offset: 10, length: 50,
                                                       address: 0x0A00_0202, port: 9, requestOperation: 2, cookie: 77)])
        XCTAssertEqual(channel.server.ownership.holder(of: 2), .program)

        let closed = channel.submit(.close(socket: socket, cookie: 5), handler: &stack)
        XCTAssertEqual(closed.first?.decodedKind, .closed)
        XCTAssertEqual(closed.first?.port, 5000)
        XCTAssertNil(stack.ports[5000])
        XCTAssertNil(channel.server.port(ofSocket: 0))
        let counters = channel.server.counters
        XCTAssertEqual([counters.requests, counters.bound, counters.sent, counters.bytesSent, counters.closed, counters.completions],
                       [3, 1, 1, 50, 1, 3])
        XCTAssertEqual(counters.totalErrors, 0)
    }

    func testBindErrors() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        XCTAssertEqual(channel.submit(.bind(port: 0), handler: &stack).first?.decodedError, .badPort)
        XCTAssertEqual(channel.submit(.bind(port: 7), handler: &stack).first?.decodedError, .portInUse)
        for port in 1000..<1016 { _ = channel.bind(UInt16(port), handler: &stack) }
        let full = channel.submit(.bind(port: 2000, cookie: 9), handler: &stack)
        XCTAssertEqual(full.first?.decodedKind, .error)
        XCTAssertEqual(full.first?.decodedError, .tooManySockets)
        XCTAssertEqual(full.first?.cookie, 9)
        XCTAssertEqual(full.first?.requestOperation, ChannelRequest.Operation.bind.rawValue)
        XCTAssertNil(stack.ports[2000])
        XCTAssertEqual(channel.server.counters[error: .badPort], 1)
        XCTAssertEqual(channel.server.counters[error: .portInUse], 1)
        XCTAssertEqual(channel.server.counters[error: .tooManySockets], 1)
        XCTAssertEqual(channel.server.counters.bound, 16)
    }

    /// Every malformed request: the right error completion and counter, no send, no change to
    /// any buffer, ownership unchanged (the channel sits between guard pages, so an access
    /// outside it would crash the test).
    func testEveryMalformedRequestGetsItsErrorAndTouchesNothing() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        let socket = channel.bind(5000, handler: &stack)
        // Buffer 1 is posted for receive (held by the network core).
        XCTAssertEqual(channel.submit(.postReceiveBuffer(1), handler: &stack), [])
        // Fill the pool with a pattern to detect writes.
        let pool = UnsafeMutableRawBufferPointer(start: channel.shared.base + channel.layout.bufferPoolOffset,
                                                 count: Int(channel.layout.bufferCount) * 2048)
        for index in pool.indices { pool[index] = UInt8(truncatingIfNeeded: index &* 7) }
        let before = channel.poolSnapshot()

        var reservedSet = ChannelRequest.postReceiveBuffer(2)
        reservedSet.flags = ChannelRequest.postAfterSend   // a flag only the two sends have
        var unknownFlag = ChannelRequest.send(socket: socket, bufferIndex: 0, offset: 0, length: 1, address: 1, port: 1)
        unknownFlag.flags = 2
        var reservedSet1 = ChannelRequest.send(socket: socket, bufferIndex: 0, offset: 0, length: 1, address: 1, port: 1)
        reservedSet1.reserved1 = 0x8000
        let cases: [(ChannelRequest, ChannelError)] = [
            (.send(socket: socket, bufferIndex: 8, offset: 0, length: 1, address: 1, port: 1), .badBufferIndex),
            (.send(socket: socket, bufferIndex: .max, offset: 0, length: 1, address: 1, port: 1), .badBufferIndex),
            (.postReceiveBuffer(8), .badBufferIndex),
            (.postReceiveBuffer(.max), .badBufferIndex),
            (.send(socket: socket, bufferIndex: 0, offset: .max, length: 2, address: 1, port: 1), .badOffsetOrLength),
            (.send(socket: socket, bufferIndex: 0, offset: 2, length: .max, address: 1, port: 1), .badOffsetOrLength),
            (.send(socket: socket, bufferIndex: 0, offset: 2000, length: 49, address: 1, port: 1), .badOffsetOrLength),
            (.send(socket: socket, bufferIndex: 0, offset: 0, length: 2049, address: 1, port: 1), .badOffsetOrLength),
            (.send(socket: socket, bufferIndex: 1, offset: 0, length: 10, address: 1, port: 1), .bufferNotOwned),
            (.postReceiveBuffer(1), .doubleHandBack),
            (.send(socket: 1, bufferIndex: 0, offset: 0, length: 10, address: 1, port: 1), .unknownSocket),
            (.send(socket: .max, bufferIndex: 0, offset: 0, length: 10, address: 1, port: 1), .unknownSocket),
            (.close(socket: 16), .unknownSocket),
            (ChannelRequest(operation: 0), .unknownRequest),
            (ChannelRequest(operation: 99, bufferIndex: .max), .unknownRequest),
            (reservedSet, .unknownRequest),
            (reservedSet1, .unknownRequest),
            (unknownFlag, .unknownRequest),
        ]
        var expectedCounts: [ChannelError: UInt64] = [:]
        for (number, (request, error)) in cases.enumerated() {
            var tagged = request
            tagged.cookie = UInt64(number) + 1000
            let completions = channel.submit(tagged, handler: &stack)
            XCTAssertEqual(completions.count, 1, "case \(number)")
            XCTAssertEqual(completions.first?.decodedKind, .error, "case \(number)")
            XCTAssertEqual(completions.first?.decodedError, error, "case \(number)")
            XCTAssertEqual(completions.first?.cookie, tagged.cookie, "case \(number)")
            XCTAssertEqual(completions.first?.bufferReturned, 0, "case \(number)")
            XCTAssertEqual(completions.first?.bufferIndex, tagged.bufferIndex, "case \(number)")
            expectedCounts[error, default: 0] += 1
        }
        for raw in 1...UInt8(ChannelError.count) {
            let error = ChannelError(rawValue: raw)!
            XCTAssertEqual(channel.server.counters[error: error], expectedCounts[error] ?? 0, "\(error)")
        }
        XCTAssertEqual(channel.server.counters.totalErrors, UInt64(cases.count))
        XCTAssertEqual(stack.sent, [])
        XCTAssertEqual(channel.poolSnapshot(), before, "no buffer byte changed")
        XCTAssertEqual(channel.server.ownership.holder(of: 1), .postedForReceive)
        XCTAssertEqual(channel.server.ownership.count(heldBy: .program), 7)
        XCTAssertEqual(channel.server.postedReceiveBufferCount, 1)
        XCTAssertNil(channel.server.violation)
        // Still serving normally afterwards.
        XCTAssertEqual(channel.submit(.send(socket: socket, bufferIndex: 0, offset: 0, length: 4, address: 1, port: 1),
                                      handler: &stack).first?.decodedKind, .sent)
    }

    func testFailedSendReturnsTheBuffer() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        let socket = channel.bind(5000, handler: &stack)
        stack.transmitCapacity = 1
        let first = channel.submit(.send(socket: socket, bufferIndex: 0, offset: 0, length: 4, address: 1, port: 1), handler: &stack)
        XCTAssertEqual(first.first?.decodedKind, .sent)
        let second = channel.submit(.send(socket: socket, bufferIndex: 3, offset: 0, length: 4, address: 1, port: 1), handler: &stack)
        XCTAssertEqual(second.first?.decodedError, .throttled)
        XCTAssertEqual(second.first?.bufferReturned, 1)
        XCTAssertEqual(channel.server.ownership.holder(of: 3), .program)
        stack.sendError = .noRoute
        XCTAssertEqual(channel.submit(.send(socket: socket, bufferIndex: 3, offset: 0, length: 4, address: 1, port: 1),
                                      handler: &stack).first?.decodedError, .noRoute)
        XCTAssertEqual(channel.server.counters[error: .throttled], 1)
        XCTAssertEqual(channel.server.counters[error: .noRoute], 1)
    }

    func testHostileTailStopsTheChannelWithoutReadingOutsideIt() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        _ = channel.bind(5000, handler: &stack)
        let before = channel.poolSnapshot()
        // The program claims 1000 more requests than its ring of 16 can hold.
        let tail = channel.memory.base + channel.layout.requestRingOffset + 64
        tail.storeBytes(of: tail.load(as: UInt32.self) &+ 1000, as: UInt32.self)
        XCTAssertEqual(channel.server.serveRequests(budget: 64, handler: &stack), 0)
        XCTAssertEqual(channel.server.violation, .tailOutOfRange(head: 1, tail: 1001))
        XCTAssertEqual(channel.server.counters.protocolViolations, 1)
        XCTAssertEqual(channel.drain(), [], "no completion for garbage")
        XCTAssertEqual(channel.poolSnapshot(), before)
        XCTAssertEqual(stack.sent, [])
        // Stays stopped; delivery refuses too.
        XCTAssertEqual(channel.server.serveRequests(budget: 64, handler: &stack), 0)
        let outcome = [UInt8](repeating: 1, count: 10).withUnsafeBytes {
            channel.server.deliver(payload: $0, from: (address: 1, port: 2), to: 0)
        }
        XCTAssertEqual(outcome, .droppedNotDeliverable)
        XCTAssertEqual(channel.server.counters.protocolViolations, 1)
    }

    func testHostileCompletionHeadStopsTheChannel() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        _ = channel.bind(5000, handler: &stack)
        // The program claims to have consumed completions that were never produced.
        let head = channel.memory.base + channel.layout.completionRingOffset
        head.storeBytes(of: 500, as: UInt32.self)
        // Fill the completion ring so the server has to look at the head.
        for _ in 0..<15 { XCTAssertTrue(channel.requests.tryPush(.bind(port: 0))) }
        _ = channel.server.serveRequests(budget: 64, handler: &stack)
        XCTAssertEqual(channel.server.violation, .headOutOfRange(head: 500, tail: 16))
        XCTAssertEqual(channel.server.counters.protocolViolations, 1)
    }

    func testFullCompletionRingHoldsRequestsBack() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        for _ in 0..<20 { _ = channel.requests.tryPush(.bind(port: 0)) }   // 16 fit
        XCTAssertEqual(channel.server.serveRequests(budget: 64, handler: &stack), 16)
        XCTAssertEqual(channel.server.counters.completionRingFullPasses, 0)
        XCTAssertTrue(channel.requests.tryPush(.bind(port: 0)))
        XCTAssertEqual(channel.server.serveRequests(budget: 64, handler: &stack), 0, "no room to answer")
        XCTAssertEqual(channel.server.counters.completionRingFullPasses, 1)
        XCTAssertEqual(channel.drain().count, 16)
        XCTAssertEqual(channel.server.serveRequests(budget: 64, handler: &stack), 1)
        XCTAssertEqual(channel.drain().count, 1)
        XCTAssertEqual(channel.server.counters[error: .badPort], 17)
    }

    func testDeliveryIntoPostedBuffers() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        let socket = channel.bind(5000, handler: &stack)
        let payload: [UInt8] = Array(1...200)
        func deliver(_ bytes: [UInt8], to socket: UInt16 = 0) -> DeliveryOutcome {
            bytes.withUnsafeBytes { channel.server.deliver(payload: $0, from: (address: 0x0A00_0202, port: 1234), to: socket) }
        }
        XCTAssertEqual(deliver(payload), .droppedNoReceiveBuffer)
        XCTAssertEqual(channel.submit(.postReceiveBuffer(5), handler: &stack), [])
        XCTAssertEqual(channel.submit(.postReceiveBuffer(6), handler: &stack), [])
        XCTAssertEqual(channel.server.ownership.holder(of: 5), .postedForReceive)
        XCTAssertEqual(deliver(payload, to: 4), .droppedNotDeliverable, "socket 4 is not bound")
        XCTAssertEqual(deliver([UInt8](repeating: 0, count: 2049)), .droppedTooLarge)
        XCTAssertEqual(deliver(payload), .delivered)
        let received = channel.drain()
        XCTAssertEqual(received, [ChannelCompletion(kind: .received, socket: socket, bufferIndex: 5, offset: 0, length: 200,
                                                    address: 0x0A00_0202, port: 1234)])
        XCTAssertEqual(Array(UnsafeRawBufferPointer(rebasing: channel.memory.buffer(5)[0..<200])), payload)
        XCTAssertEqual(channel.server.ownership.holder(of: 5), .program)
        // Completion ring full: the datagram is dropped and counted, buffer 6 stays posted.
        for _ in 0..<16 { _ = channel.requests.tryPush(.bind(port: 0)) }
        _ = channel.server.serveRequests(budget: 64, handler: &stack)
        XCTAssertEqual(deliver(payload), .droppedCompletionRingFull)
        XCTAssertEqual(channel.server.ownership.holder(of: 6), .postedForReceive)
        XCTAssertEqual(channel.drain().count, 16)
        XCTAssertEqual(deliver([]), .delivered, "an empty datagram is a datagram")
        XCTAssertEqual(channel.drain().first?.bufferIndex, 6)
        let counters = channel.server.counters
        XCTAssertEqual([counters.received, counters.bytesReceived, counters.droppedNoReceiveBuffer,
                        counters.droppedNotDeliverable, counters.droppedTooLarge, counters.droppedCompletionRingFull],
                       [2, 200, 1, 1, 1, 1])
    }

    func testReceiveBuffersAreFilledInPostingOrderAcrossWrapAround() {
        let channel = ChannelFixture()
        var stack = FakeNetworkStack()
        _ = channel.bind(5000, handler: &stack)
        var order: [UInt32] = []
        for round in 0..<5 {
            for index: UInt32 in [7, 2, 5, 0, 3] { XCTAssertEqual(channel.submit(.postReceiveBuffer(index), handler: &stack), []) }
            for _ in 0..<5 {
                XCTAssertEqual([UInt8(round)].withUnsafeBytes { channel.server.deliver(payload: $0, from: (address: 1, port: 2), to: 0) }, .delivered)
                order += channel.drain().map(\.bufferIndex)
            }
        }
        XCTAssertEqual(order, Array([[7, 2, 5, 0, 3], [7, 2, 5, 0, 3], [7, 2, 5, 0, 3], [7, 2, 5, 0, 3], [7, 2, 5, 0, 3]].joined()))
    }
}
