/// The network core's end of a channel for TCP: listen, connect, queued stream sends with backpressure, shutdown, close, delivery and events.

import Channels
import TestSupport
import XCTest

final class StreamServerChannelTests: XCTestCase {
    let sendOperation = ChannelRequest.Operation.streamSend.rawValue

    /// The buffers the network core holds for sending.
    private func heldForSending(_ fixture: ChannelFixture) -> Int {
        fixture.server.ownership.count(heldBy: .sending)
    }

    /// Fills buffer `index` with `count` bytes counting from `start`, and returns them.
    private func pattern(_ fixture: ChannelFixture, buffer index: UInt32, count: Int, start: Int, offset: Int = 0) -> [UInt8] {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: ($0 + start) &* 7 &+ 3) }
        fixture.fill(index, at: offset, with: bytes)
        return bytes
    }

    // MARK: Listen and connect

    func testListenCompletesWithListeningAndPortZeroIsRefused() {
        let fixture = ChannelFixture(identifier: 3)
        var handler = FakeStreamHandler()
        let completions = fixture.submitStream(.listen(port: 80, cookie: 42), handler: &handler)
        XCTAssertEqual(completions, [ChannelCompletion(kind: .listening, port: 80,
                                                       requestOperation: ChannelRequest.Operation.listen.rawValue,
                                                       cookie: 42)])
        XCTAssertEqual(handler.listens, [.init(port: 80, channel: 3)])

        let refused = fixture.submitStream(.listen(port: 0, cookie: 43), handler: &handler)
        XCTAssertEqual(refused.count, 1)
        XCTAssertEqual(refused.first?.decodedKind, .error)
        XCTAssertEqual(refused.first?.decodedError, .badPort)
        XCTAssertEqual(refused.first?.cookie, 43)
        XCTAssertEqual(handler.listens.count, 1, "port 0 never reaches the handler")

        handler.listenError = .portInUse
        let inUse = fixture.submitStream(.listen(port: 81, cookie: 44), handler: &handler)
        XCTAssertEqual(inUse.first?.decodedError, .portInUse)
        XCTAssertEqual(inUse.first?.requestOperation, ChannelRequest.Operation.listen.rawValue)
        XCTAssertEqual(fixture.server.counters[error: .badPort], 1)
        XCTAssertEqual(fixture.server.counters[error: .portInUse], 1)
    }

    func testConnectHasNoCompletionUntilTheCoreNotifies() {
        let fixture = ChannelFixture(identifier: 2)
        var handler = FakeStreamHandler()
        XCTAssertEqual(fixture.submitStream(.connect(address: 0x0A00_0202, port: 8080, cookie: 9), handler: &handler), [])
        XCTAssertEqual(handler.connects, [.init(address: 0x0A00_0202, port: 8080, channel: 2, cookie: 9)])
        XCTAssertEqual(fixture.server.counters.connectionsOpened, 0)

        // The handshake finishes: the core announces it.
        handler.open(5, channel: 2)
        let connected = ChannelCompletion(kind: .connected, socket: 5, length: 40000, address: 0x0A00_0202, port: 8080,
                                          requestOperation: ChannelRequest.Operation.connect.rawValue, cookie: 9)
        XCTAssertTrue(fixture.server.notify(connected))
        XCTAssertEqual(fixture.drain(), [connected])
        XCTAssertEqual(fixture.server.counters.connectionsOpened, 1)

        // Refused at once, and port 0.
        handler.connectError = .tooManyConnections
        let refused = fixture.submitStream(.connect(address: 1, port: 1, cookie: 10), handler: &handler)
        XCTAssertEqual(refused.map(\.decodedError), [.tooManyConnections])
        XCTAssertEqual(refused.first?.cookie, 10)
        let portZero = fixture.submitStream(.connect(address: 1, port: 0, cookie: 11), handler: &handler)
        XCTAssertEqual(portZero.map(\.decodedError), [.badPort])
        XCTAssertEqual(handler.connects.count, 1)
    }

    // MARK: Validation of streamSend

    func testStreamSendToAConnectionNotOursIsRefusedAndTheBufferStaysTheProgram() {
        let fixture = ChannelFixture(identifier: 1)
        var handler = FakeStreamHandler()
        handler.open(4, channel: 2)      // another channel's
        handler.open(16_500, channel: 1)    // beyond the connection capacity: must not be queued
        for connection: UInt16 in [4, 7, 16_500, UInt16.max] {
            let completions = fixture.submitStream(.streamSend(connection: connection, bufferIndex: 0, offset: 0, length: 10,
                                                               cookie: UInt64(connection)), handler: &handler)
            XCTAssertEqual(completions.count, 1, "connection \(connection)")
            XCTAssertEqual(completions.first?.decodedKind, .error)
            XCTAssertEqual(completions.first?.decodedError, .unknownSocket, "connection \(connection)")
            XCTAssertEqual(completions.first?.bufferReturned, 0, "the buffer was never taken")
            XCTAssertEqual(completions.first?.cookie, UInt64(connection))
            XCTAssertEqual(fixture.server.ownership.holder(of: 0), .program)
        }
        XCTAssertEqual(handler.writeCalls, 0)
        XCTAssertFalse(fixture.server.hasQueuedStreamWork(44))
        XCTAssertEqual(fixture.server.counters[error: .unknownSocket], 4)
        // Shutdown and close are checked the same way.
        for request in [ChannelRequest.streamShutdown(connection: 4), .streamClose(connection: 16_500), .streamClose(connection: 7)] {
            XCTAssertEqual(fixture.submitStream(request, handler: &handler).map(\.decodedError), [.unknownSocket])
        }
        XCTAssertEqual(handler.shutdowns, [])
        XCTAssertEqual(handler.releases, [])
    }

    func testStreamSendWithBadBufferIndexOrRangeIsRefused() {
        let fixture = ChannelFixture()   // 8 buffers of 2048 bytes
        var handler = FakeStreamHandler()
        handler.open(0)
        let cases: [(ChannelRequest, ChannelError)] = [
            (.streamSend(connection: 0, bufferIndex: 8, offset: 0, length: 1), .badBufferIndex),
            (.streamSend(connection: 0, bufferIndex: UInt32.max, offset: 0, length: 1), .badBufferIndex),
            (.streamSend(connection: 0, bufferIndex: 1, offset: 0, length: 2049), .badOffsetOrLength),
            (.streamSend(connection: 0, bufferIndex: 1, offset: 2000, length: 49), .badOffsetOrLength),
            (.streamSend(connection: 0, bufferIndex: 1, offset: UInt32.max, length: 2), .badOffsetOrLength),
            (.streamSend(connection: 0, bufferIndex: 1, offset: 4, length: 0), .badOffsetOrLength),
        ]
        for (request, expected) in cases {
            let completions = fixture.submitStream(request, handler: &handler)
            XCTAssertEqual(completions.map(\.decodedError), [expected], "\(request)")
            XCTAssertEqual(completions.first?.bufferReturned, 0)
        }
        XCTAssertEqual(handler.writeCalls, 0)
        XCTAssertEqual(heldForSending(fixture), 0)
        // The same buffer twice: the second is not the program's any more.
        handler.setCapacity(0, of: 0)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 0, bufferIndex: 1, offset: 0, length: 5), handler: &handler), [])
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 0, bufferIndex: 1, offset: 0, length: 5), handler: &handler)
                        .map(\.decodedError), [.doubleHandBack])
        // A buffer posted for receive cannot be sent.
        XCTAssertEqual(fixture.submitStream(.postReceiveBuffer(2), handler: &handler), [])
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 0, bufferIndex: 2, offset: 0, length: 5), handler: &handler)
                        .map(\.decodedError), [.bufferNotOwned])
        // An exact fit is fine.
        handler.setCapacity(1 << 20, of: 0)
        let bytes = pattern(fixture, buffer: 3, count: 48, start: 0, offset: 2000)
        let completions = fixture.submitStream(.streamSend(connection: 0, bufferIndex: 3, offset: 2000, length: 48),
                                               handler: &handler)
        XCTAssertEqual(completions.map(\.decodedKind), [.streamSent, .streamSent], "buffer 1, then buffer 3")
        XCTAssertEqual(completions.map(\.bufferIndex), [1, 3])
        XCTAssertEqual(Array(handler.stream(of: 0).suffix(48)), bytes)
    }

    // MARK: Backpressure

    func testSendIntoAFullSendBufferIsHeldUntilPumped() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(6, capacity: 0)
        let bytes = pattern(fixture, buffer: 2, count: 1000, start: 0, offset: 10)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 6, bufferIndex: 2, offset: 10, length: 1000, cookie: 77),
                                            handler: &handler), [], "held: no completion yet")
        XCTAssertEqual(fixture.server.ownership.holder(of: 2), .sending)
        XCTAssertTrue(fixture.server.hasQueuedStreamWork(6))
        XCTAssertEqual(fixture.pump(&handler), [], "still full")

        handler.setCapacity(400, of: 6)
        XCTAssertEqual(fixture.pump(&handler), [], "partly taken")
        XCTAssertEqual(handler.stream(of: 6), Array(bytes[0..<400]))
        XCTAssertEqual(handler.acknowledge(6), Array(bytes[0..<400]))
        XCTAssertEqual(fixture.pump(&handler), [], "400 more")
        handler.acknowledge(6)
        let completions = fixture.pump(&handler)
        XCTAssertEqual(completions, [ChannelCompletion(kind: .streamSent, socket: 6, bufferIndex: 2, offset: 10, length: 1000,
                                                       requestOperation: sendOperation, cookie: 77)])
        XCTAssertEqual(handler.stream(of: 6), bytes)
        XCTAssertEqual(fixture.server.ownership.holder(of: 2), .program)
        XCTAssertFalse(fixture.server.hasQueuedStreamWork(6))
        XCTAssertEqual(fixture.server.counters.streamBytesSent, 1000)
        let callsBefore = handler.writeCalls
        XCTAssertEqual(fixture.pump(&handler), [])
        XCTAssertEqual(handler.writeCalls, callsBefore, "nothing queued: the pump does not call the handler")
    }

    func testSeveralSendsOnOneConnectionStayInOrderWithPartialTakes() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(1, capacity: 0)
        var expected: [UInt8] = []
        let lengths = [700, 1, 2048, 333, 1500]
        for (index, length) in lengths.enumerated() {
            expected += pattern(fixture, buffer: UInt32(index), count: length, start: expected.count)
            XCTAssertEqual(fixture.submitStream(.streamSend(connection: 1, bufferIndex: UInt32(index), offset: 0,
                                                            length: UInt32(length), cookie: UInt64(100 + index)),
                                                handler: &handler), [])
        }
        XCTAssertEqual(heldForSending(fixture), lengths.count)
        var sent: [ChannelCompletion] = []
        var rounds = 0
        while sent.count < lengths.count && rounds < 1000 {
            // Room for 257 bytes at a time: every buffer is taken in pieces.
            handler.setCapacity(257, of: 1)
            sent += fixture.pump(&handler)
            handler.acknowledge(1)
            rounds += 1
        }
        XCTAssertEqual(sent.map(\.decodedKind), Array(repeating: .streamSent, count: lengths.count))
        XCTAssertEqual(sent.map(\.bufferIndex), [0, 1, 2, 3, 4])
        XCTAssertEqual(sent.map(\.cookie), [100, 101, 102, 103, 104])
        XCTAssertEqual(sent.map(\.length), lengths.map { UInt32($0) })
        XCTAssertEqual(handler.stream(of: 1), expected, "byte for byte, in request order")
        XCTAssertEqual(heldForSending(fixture), 0)
    }

    func testALaterSendCannotOvertakeAHeldOne() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(1, capacity: 100)
        let first = pattern(fixture, buffer: 0, count: 300, start: 0)
        let second = pattern(fixture, buffer: 1, count: 50, start: 300)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 1, bufferIndex: 0, offset: 0, length: 300), handler: &handler), [])
        handler.acknowledge(1)   // room for 100 again: the 50 bytes would fit, but must wait
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 1, bufferIndex: 1, offset: 0, length: 50), handler: &handler), [])
        XCTAssertEqual(handler.stream(of: 1), Array(first[0..<200]), "the new request fed the older buffer first")
        handler.setCapacity(1000, of: 1)
        XCTAssertEqual(fixture.pump(&handler).map(\.bufferIndex), [0, 1])
        XCTAssertEqual(handler.stream(of: 1), first + second)
    }

    func testSendsOnTwoConnectionsDoNotBlockEachOther() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(3, capacity: 0)
        handler.open(200, capacity: 0)
        let stuck = pattern(fixture, buffer: 0, count: 500, start: 0)
        let moving = pattern(fixture, buffer: 1, count: 600, start: 9)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 3, bufferIndex: 0, offset: 0, length: 500), handler: &handler), [])
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 200, bufferIndex: 1, offset: 0, length: 600), handler: &handler), [])
        handler.setCapacity(10_000, of: 200)
        let completions = fixture.pump(&handler)
        XCTAssertEqual(completions.map(\.socket), [200])
        XCTAssertEqual(completions.map(\.bufferIndex), [1])
        XCTAssertEqual(handler.stream(of: 200), moving)
        XCTAssertEqual(handler.stream(of: 3), [])
        // A new send on the free connection goes straight through while 3 is still stuck.
        let more = pattern(fixture, buffer: 2, count: 10, start: 1)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 200, bufferIndex: 2, offset: 0, length: 10), handler: &handler)
                        .map(\.decodedKind), [.streamSent])
        XCTAssertEqual(handler.stream(of: 200), moving + more)
        handler.setCapacity(10_000, of: 3)
        XCTAssertEqual(fixture.pump(&handler).map(\.socket), [3])
        XCTAssertEqual(handler.stream(of: 3), stuck)
    }

    // MARK: Shutdown and close

    func testShutdownAndCloseWaitBehindQueuedData() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(9, capacity: 0)
        let first = pattern(fixture, buffer: 0, count: 800, start: 0)
        let second = pattern(fixture, buffer: 1, count: 900, start: 800)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 9, bufferIndex: 0, offset: 0, length: 800, cookie: 1), handler: &handler), [])
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 9, bufferIndex: 1, offset: 0, length: 900, cookie: 2), handler: &handler), [])
        XCTAssertEqual(fixture.submitStream(.streamShutdown(connection: 9, cookie: 3), handler: &handler), [])
        XCTAssertEqual(handler.shutdowns, [], "the FIN waits for the data")
        // Sends after the shutdown request are refused; a second shutdown too.
        let late = fixture.submitStream(.streamSend(connection: 9, bufferIndex: 2, offset: 0, length: 5, cookie: 4), handler: &handler)
        XCTAssertEqual(late.map(\.decodedError), [.notWritable])
        XCTAssertEqual(late.first?.bufferReturned, 0)
        XCTAssertEqual(fixture.server.ownership.holder(of: 2), .program)
        XCTAssertEqual(fixture.submitStream(.streamShutdown(connection: 9, cookie: 5), handler: &handler).map(\.decodedError), [.notWritable])
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 9, cookie: 6), handler: &handler), [])
        XCTAssertEqual(handler.releases, [], "the close waits too")
        // Closing twice, and sending after the close, are refused.
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 9, cookie: 7), handler: &handler).map(\.decodedError), [.unknownSocket])
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 9, bufferIndex: 2, offset: 0, length: 5), handler: &handler)
                        .map(\.decodedError), [.notWritable])

        handler.setCapacity(1000, of: 9)
        XCTAssertEqual(fixture.pump(&handler).map(\.cookie), [1], "only the first buffer fits")
        XCTAssertEqual(handler.shutdowns, [])
        XCTAssertEqual(handler.releases, [])
        handler.acknowledge(9)
        let rest = fixture.pump(&handler)
        XCTAssertEqual(rest.map(\.decodedKind), [.streamSent, .streamShutDown, .streamClosed])
        XCTAssertEqual(rest.map(\.cookie), [2, 3, 6])
        XCTAssertEqual(rest.map(\.socket), [9, 9, 9])
        XCTAssertEqual(handler.stream(of: 9), first + second)
        XCTAssertEqual(handler.shutdowns, [.init(connection: 9, channel: 0)])
        XCTAssertEqual(handler.releases, [.init(connection: 9, channel: 0)])
        XCTAssertFalse(fixture.server.hasQueuedStreamWork(9))
        // The number is free now: anything on it is unknown.
        let afterClose = fixture.submitStream(.streamSend(connection: 9, bufferIndex: 2, offset: 0, length: 5), handler: &handler)
        XCTAssertEqual(afterClose.map(\.decodedError), [.unknownSocket])
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 9), handler: &handler).map(\.decodedError), [.unknownSocket])
        XCTAssertEqual(heldForSending(fixture), 0)
    }

    func testShutdownAndCloseWithNothingQueuedCompleteAtOnce() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(0)
        XCTAssertEqual(fixture.submitStream(.streamShutdown(connection: 0, cookie: 5), handler: &handler),
                       [ChannelCompletion(kind: .streamShutDown, socket: 0,
                                          requestOperation: ChannelRequest.Operation.streamShutdown.rawValue, cookie: 5)])
        // After our FIN the connection takes no data: the send is refused, the buffer never left.
        _ = pattern(fixture, buffer: 4, count: 20, start: 0)
        let writes = handler.writeCalls
        let refused = fixture.submitStream(.streamSend(connection: 0, bufferIndex: 4, offset: 0, length: 20, cookie: 8), handler: &handler)
        XCTAssertEqual(refused.map(\.decodedError), [.notWritable])
        XCTAssertEqual(refused.first?.cookie, 8)
        XCTAssertEqual(handler.writeCalls, writes, "the connection was not asked")
        XCTAssertEqual(fixture.server.ownership.holder(of: 4), .program)
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 0, cookie: 6), handler: &handler),
                       [ChannelCompletion(kind: .streamClosed, socket: 0,
                                          requestOperation: ChannelRequest.Operation.streamClose.rawValue, cookie: 6)])
        XCTAssertEqual(handler.releases, [.init(connection: 0, channel: 0)])
    }

    // MARK: Failures and full rings

    func testWriteFailureReturnsEveryQueuedBufferWithTheError() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(2, capacity: 0)
        for index: UInt32 in 0..<3 {
            _ = pattern(fixture, buffer: index, count: 100, start: Int(index))
            XCTAssertEqual(fixture.submitStream(.streamSend(connection: 2, bufferIndex: index, offset: 5, length: 100,
                                                            cookie: UInt64(index) + 50), handler: &handler), [])
        }
        XCTAssertEqual(fixture.submitStream(.streamClose(connection: 2, cookie: 99), handler: &handler), [])
        handler.connections[2]!.writeError = .connectionReset
        let completions = fixture.pump(&handler)
        XCTAssertEqual(completions.map(\.decodedKind), [.error, .error, .error, .streamClosed])
        XCTAssertEqual(completions.prefix(3).map(\.decodedError), [.connectionReset, .connectionReset, .connectionReset])
        XCTAssertEqual(completions.prefix(3).map(\.bufferReturned), [1, 1, 1])
        XCTAssertEqual(completions.prefix(3).map(\.bufferIndex), [0, 1, 2])
        XCTAssertEqual(completions.prefix(3).map(\.cookie), [50, 51, 52])
        XCTAssertEqual(completions.prefix(3).map(\.offset), [5, 5, 5])
        XCTAssertEqual(completions.prefix(3).map(\.length), [100, 100, 100])
        XCTAssertEqual(completions.prefix(3).map(\.requestOperation), [sendOperation, sendOperation, sendOperation])
        XCTAssertEqual(completions.last?.cookie, 99)
        XCTAssertEqual(heldForSending(fixture), 0)
        XCTAssertEqual(fixture.server.counters[error: .connectionReset], 3)
        XCTAssertEqual(handler.releases.count, 1)
    }

    func testFullCompletionRingStopsThePumpAndItResumesWithoutLoss() {
        let fixture = ChannelFixture(layout: ChannelLayout(requestCapacity: 16, completionCapacity: 4, bufferCount: 8, bufferSize: 1536))
        var handler = FakeStreamHandler()
        handler.open(0, capacity: 0)
        handler.open(1, capacity: 0)
        var expected: [UInt16: [UInt8]] = [0: [], 1: []]
        for index: UInt32 in 0..<8 {
            let connection = UInt16(index % 2)
            expected[connection]! += pattern(fixture, buffer: index, count: 200, start: Int(index) * 13)
            XCTAssertTrue(fixture.requests.tryPush(.streamSend(connection: connection, bufferIndex: index, offset: 0, length: 200,
                                                               cookie: UInt64(index))))
        }
        XCTAssertTrue(fixture.requests.tryPush(.streamClose(connection: 0, cookie: 100)))
        XCTAssertEqual(fixture.server.serveRequests(budget: 64, handler: &handler), 9)
        XCTAssertEqual(fixture.drain(), [])
        handler.setCapacity(1 << 20, of: 0)
        handler.setCapacity(1 << 20, of: 1)

        // Nobody reads the completion ring: the pump fills it and stops.
        fixture.server.pumpStreams(handler: &handler)
        fixture.server.pumpStreams(handler: &handler)
        var completions: [ChannelCompletion] = []
        while let completion = fixture.completions.tryPop() { completions.append(completion) }
        XCTAssertEqual(completions.count, 4, "as many as the ring holds")
        XCTAssertEqual(heldForSending(fixture), 4, "the rest are still held")
        for _ in 0..<10 {
            // Twice between reads: the second finds the ring full again and must not lose anything.
            fixture.server.pumpStreams(handler: &handler)
            fixture.server.pumpStreams(handler: &handler)
            while let completion = fixture.completions.tryPop() { completions.append(completion) }
        }
        XCTAssertEqual(completions.count, 9)
        XCTAssertEqual(Set(completions.filter { $0.decodedKind == .streamSent }.map(\.bufferIndex)), Set(0..<8))
        XCTAssertEqual(completions.filter { $0.socket == 0 }.map(\.cookie), [0, 2, 4, 6, 100])
        XCTAssertEqual(completions.filter { $0.socket == 1 }.map(\.cookie), [1, 3, 5, 7])
        XCTAssertEqual(handler.stream(of: 0), expected[0])
        XCTAssertEqual(handler.stream(of: 1), expected[1])
        XCTAssertEqual(heldForSending(fixture), 0)
    }

    func testPumpTakesNothingWhileTheCompletionRingIsFull() {
        let fixture = ChannelFixture(layout: ChannelLayout(requestCapacity: 16, completionCapacity: 2, bufferCount: 8, bufferSize: 1536))
        var handler = FakeStreamHandler()
        handler.open(0, capacity: 0)
        _ = pattern(fixture, buffer: 0, count: 100, start: 0)
        XCTAssertEqual(fixture.submitStream(.streamSend(connection: 0, bufferIndex: 0, offset: 0, length: 100), handler: &handler), [])
        // Fill the ring with events the program has not read.
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .peerFinished, socket: 0)))
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .peerFinished, socket: 0)))
        XCTAssertFalse(fixture.server.notify(ChannelCompletion(kind: .accepted, socket: 1)), "ring full: the core keeps the event")
        XCTAssertEqual(fixture.server.counters.connectionsOpened, 0)
        handler.setCapacity(1000, of: 0)
        let calls = handler.writeCalls
        fixture.server.pumpStreams(handler: &handler)
        XCTAssertEqual(handler.writeCalls, calls, "no room for the answer: the bytes are not taken")
        XCTAssertEqual(handler.stream(of: 0), [])
        XCTAssertEqual(fixture.drain().map(\.decodedKind), [.peerFinished, .peerFinished])
        XCTAssertEqual(fixture.pump(&handler).map(\.decodedKind), [.streamSent])
        XCTAssertEqual(handler.stream(of: 0).count, 100)
    }

    // MARK: Delivery and events

    func testDeliverStreamUsesPostedBuffersInOrder() {
        let fixture = ChannelFixture()
        var handler = FakeStreamHandler()
        handler.open(12)
        XCTAssertFalse(fixture.server.canDeliverStream())
        var readCalled = false
        XCTAssertEqual(fixture.server.deliverStream(connection: 12) { _ in readCalled = true; return 5 }, 0)
        XCTAssertFalse(readCalled, "no buffer posted: nothing is read")
        XCTAssertEqual(fixture.drain(), [])

        for index: UInt32 in [5, 2, 7] { XCTAssertEqual(fixture.submitStream(.postReceiveBuffer(index), handler: &handler), []) }
        XCTAssertTrue(fixture.server.canDeliverStream())
        var delivered: [ChannelCompletion] = []
        for chunk in 0..<3 {
            let count = fixture.server.deliverStream(connection: 12) { buffer in
                XCTAssertEqual(buffer.count, 2048, "the whole buffer is offered")
                let length = 10 + chunk
                for position in 0..<length { buffer[position] = UInt8(chunk * 16 + position) }
                return length
            }
            XCTAssertEqual(count, 10 + chunk)
            delivered += fixture.drain()
        }
        XCTAssertEqual(delivered, [5, 2, 7].enumerated().map { chunk, index in
            ChannelCompletion(kind: .streamReceived, socket: 12, bufferIndex: index, offset: 0, length: UInt32(10 + chunk))
        })
        XCTAssertEqual(Array(fixture.memory.buffer(2)[0..<11]), (0..<11).map { UInt8(16 + $0) })
        XCTAssertEqual(fixture.server.ownership.holder(of: 7), .program)
        XCTAssertEqual(fixture.server.counters.streamBytesReceived, 33)
        XCTAssertEqual(fixture.server.deliverStream(connection: 12) { _ in 1 }, 0, "all used up")
        XCTAssertFalse(fixture.server.canDeliverStream())
    }

    func testDeliverStreamWaitsWhenTheCompletionRingIsFull() {
        let fixture = ChannelFixture(layout: ChannelLayout(requestCapacity: 16, completionCapacity: 2, bufferCount: 8, bufferSize: 1536))
        var handler = FakeStreamHandler()
        XCTAssertEqual(fixture.submitStream(.postReceiveBuffer(0), handler: &handler), [])
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .peerFinished, socket: 0)))
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .peerFinished, socket: 1)))
        XCTAssertFalse(fixture.server.canDeliverStream())
        var readCalled = false
        XCTAssertEqual(fixture.server.deliverStream(connection: 0) { _ in readCalled = true; return 3 }, 0)
        XCTAssertFalse(readCalled)
        XCTAssertEqual(fixture.server.postedReceiveBufferCount, 1, "the buffer stays posted")
        _ = fixture.drain()
        XCTAssertEqual(fixture.server.deliverStream(connection: 0) { _ in 3 }, 3)
    }

    func testNotifyCountsConnectionsAndErrors() {
        let fixture = ChannelFixture()
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .accepted, socket: 1, length: 80, address: 5, port: 6)))
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .error, error: .connectionRefused,
                                                              requestOperation: ChannelRequest.Operation.connect.rawValue, cookie: 3)))
        XCTAssertTrue(fixture.server.notify(ChannelCompletion(kind: .streamAborted, error: .timedOut, socket: 1)))
        XCTAssertEqual(fixture.drain().map(\.decodedKind), [.accepted, .error, .streamAborted])
        XCTAssertEqual(fixture.server.counters.connectionsOpened, 1)
        XCTAssertEqual(fixture.server.counters[error: .connectionRefused], 1)
    }

    // MARK: Random

    /// Random sends over four connections, random send-buffer capacities and acknowledgements,
    /// random shutdowns: every byte arrives once, in order, on its own connection.
    func testRandomizedSendsKeepOrderPerConnection() {
        var random = SplitMix64(seed: 0x5EED_0001)
        let fixture = ChannelFixture(layout: ChannelLayout(requestCapacity: 16, completionCapacity: 8, bufferCount: 16, bufferSize: 1536))
        var handler = FakeStreamHandler()
        let connections: [UInt16] = [0, 17, 100, 255]
        for connection in connections { handler.open(connection, capacity: 0) }
        var expected: [UInt16: [UInt8]] = [:]
        var free = Array(UInt32(0)..<16)
        var outstanding: [UInt32: (connection: UInt16, cookie: UInt64)] = [:]
        var nextCookie: UInt64 = 1
        var completedCookies: [UInt16: [UInt64]] = [:]
        var issuedCookies: [UInt16: [UInt64]] = [:]
        var counter = 0
        for _ in 0..<20_000 {
            switch random.next() % 4 {
            case 0, 1:
                guard let slot = free.indices.randomElement(using: &random), fixture.requests.hasFreeSlot() else { break }
                let index = free.remove(at: slot)
                let connection = connections.randomElement(using: &random)!
                let offset = Int(random.next() % 64)
                let length = Int(random.next() % UInt64(512 - offset)) + 1
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: (counter + $0) &* 31 &+ 7) }
                counter += length
                fixture.fill(index, at: offset, with: bytes)
                expected[connection, default: []] += bytes
                outstanding[index] = (connection, nextCookie)
                issuedCookies[connection, default: []].append(nextCookie)
                XCTAssertTrue(fixture.requests.tryPush(.streamSend(connection: connection, bufferIndex: index, offset: UInt32(offset),
                                                                   length: UInt32(length), cookie: nextCookie)))
                nextCookie += 1
            case 2:
                let connection = connections.randomElement(using: &random)!
                handler.setCapacity(Int(random.next() % 1500), of: connection)
                handler.acknowledge(connection, count: Int(random.next() % 1500))
            default:
                _ = fixture.server.serveRequests(budget: Int(random.next() % 4), handler: &handler)
                if random.next() % 2 == 0 { fixture.server.pumpStreams(handler: &handler) }
                // Read only some of the completions: the ring fills now and then.
                var reads = Int(random.next() % 6)
                while reads > 0, let completion = fixture.completions.tryPop() {
                    reads -= 1
                    guard completion.decodedKind == .streamSent, let entry = outstanding.removeValue(forKey: completion.bufferIndex) else {
                        XCTFail("unexpected completion \(completion)")
                        return
                    }
                    XCTAssertEqual(entry.connection, completion.socket)
                    XCTAssertEqual(entry.cookie, completion.cookie)
                    completedCookies[completion.socket, default: []].append(completion.cookie)
                    free.append(completion.bufferIndex)
                }
            }
        }
        // Let everything out.
        for connection in connections { handler.setCapacity(1 << 30, of: connection) }
        for _ in 0..<100 {
            _ = fixture.server.serveRequests(budget: 64, handler: &handler)
            fixture.server.pumpStreams(handler: &handler)
            while let completion = fixture.completions.tryPop() {
                XCTAssertEqual(completion.decodedKind, .streamSent)
                outstanding[completion.bufferIndex] = nil
                completedCookies[completion.socket, default: []].append(completion.cookie)
            }
        }
        XCTAssertEqual(outstanding.count, 0)
        for connection in connections {
            XCTAssertEqual(handler.stream(of: connection), expected[connection] ?? [], "connection \(connection)")
            XCTAssertEqual(completedCookies[connection] ?? [], issuedCookies[connection] ?? [], "completions in request order")
        }
        XCTAssertGreaterThan(expected.values.map(\.count).reduce(0, +), 100_000, "the test moved real data")
        XCTAssertEqual(fixture.server.counters.totalErrors, 0)
        XCTAssertEqual(heldForSending(fixture), 0)
    }
}
