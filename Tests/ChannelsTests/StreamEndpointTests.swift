/// The TCP library (StreamEndpoint) against a ServerChannel and a fake connection table, both sides on one thread.

import Channels
import SwigletLibrary
import TestSupport
import XCTest

/// The network core and the peers, run on the test's thread whenever the program waits: serves
/// the channel, pumps held sends, delivers the peers' bytes, and raises queued events.
final class SingleThreadStreamCore {
    let fixture: ChannelFixture
    var handler = FakeStreamHandler()
    /// Bytes each peer sent that the network core has not delivered yet.
    var inbound: [UInt16: [UInt8]] = [:]
    /// How many bytes of `inbound` were delivered, per connection.
    var delivered: [UInt16: Int] = [:]
    /// Connections whose peer sends its FIN once `inbound` is delivered.
    var finishAfterData: Set<UInt16> = []
    /// Events for `notify`, kept while the completion ring is full.
    var events: [ChannelCompletion] = []
    /// The most bytes one `deliverStream` takes (random up to this when `random` is set).
    var deliveryLimit = Int.max
    /// When set, every poll changes send-buffer capacities and acknowledges at random.
    var random: SplitMix64?
    var polls = 0

    init(layout: ChannelLayout) {
        fixture = ChannelFixture(layout: layout)
    }

    var server: ServerChannel { fixture.server }

    /// One pass of the network core.
    func poll() {
        polls += 1
        if var generator = random {
            for connection in handler.connections.keys.sorted() where !handler.connections[connection]!.released {
                handler.setCapacity(Int(generator.next() % 6000), of: connection)
                handler.acknowledge(connection, count: Int(generator.next() % 6000))
            }
            random = generator
        }
        _ = fixture.server.serveRequests(budget: 64, handler: &handler)
        fixture.server.pumpStreams(handler: &handler)
        // Announcements first (an `accepted` precedes its connection's data), then the data,
        // then the FINs of peers whose data is all delivered.
        flushEvents()
        for connection in inbound.keys.sorted() {
            let bytes = inbound[connection]!
            var position = delivered[connection, default: 0]
            while position < bytes.count {
                var limit = deliveryLimit
                if var generator = random {
                    limit = Int(generator.next() % 3000) + 1
                    random = generator
                }
                let start = position
                let count = fixture.server.deliverStream(connection: connection) { buffer in
                    let count = min(buffer.count, bytes.count - start, limit)
                    buffer.copyBytes(from: bytes[start..<start + count])
                    return count
                }
                guard count > 0 else { break }
                position += count
            }
            delivered[connection] = position
        }
        for connection in finishAfterData.sorted() where delivered[connection, default: 0] >= inbound[connection, default: []].count {
            events.append(ChannelCompletion(kind: .peerFinished, socket: connection))
            finishAfterData.remove(connection)
        }
        flushEvents()
    }

    private func flushEvents() {
        while let first = events.first, fixture.server.notify(first) { events.removeFirst() }
    }

    /// Queues `bytes` from the peer of `connection`, after what it sent before.
    func peerSends(_ bytes: [UInt8], on connection: UInt16) {
        inbound[connection, default: []] += bytes
    }

    /// Opens `connection` in the fake and announces it as accepted on `port`.
    func accept(_ connection: UInt16, port: UInt16 = 7, remote: SocketAddress = SocketAddress(10, 0, 2, 2, port: 40000),
                capacity: Int = 1 << 20) {
        handler.open(connection, capacity: capacity)
        events.append(ChannelCompletion(kind: .accepted, socket: connection, length: UInt32(port),
                                        address: remote.address.rawValue, port: remote.port))
    }
}

/// Waits by running the network core's pass; gives up after `limit` passes.
struct ServingWait: WaitPolicy {
    let core: SingleThreadStreamCore
    var remaining: Int

    init(_ core: SingleThreadStreamCore, limit: Int = 1000) {
        self.core = core
        remaining = limit
    }

    mutating func wait() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        core.poll()
        return true
    }
}

final class StreamEndpointTests: XCTestCase {
    /// 16 buffers of 2048 bytes; the library keeps 8 posted.
    let layout = ChannelLayout(requestCapacity: 32, completionCapacity: 32, bufferCount: 16, bufferSize: 2048)

    private func makeStreams(_ core: SingleThreadStreamCore) -> StreamEndpoint {
        StreamEndpoint(endpoint: ChannelEndpoint(memory: core.fixture.memory))
    }

    /// Events until none comes within a few passes.
    private func events(_ streams: inout StreamEndpoint, _ core: SingleThreadStreamCore, passes: Int = 5) -> [StreamEvent] {
        var result: [StreamEvent] = []
        var wait = ServingWait(core, limit: passes)
        while let event = streams.nextEvent(waitingWith: &wait) { result.append(event) }
        return result
    }

    /// Listens on 7 and accepts `connection`.
    private func listenAndAccept(_ streams: inout StreamEndpoint, _ core: SingleThreadStreamCore, connection: UInt16,
                                 capacity: Int = 1 << 20, file: StaticString = #filePath, line: UInt = #line) {
        var wait = ServingWait(core)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error, file: file, line: line)
        core.accept(connection, capacity: capacity)
        XCTAssertEqual(events(&streams, core),
                       [.accepted(connection: connection, remote: SocketAddress(10, 0, 2, 2, port: 40000), localPort: 7)],
                       file: file, line: line)
    }

    /// Checks that every buffer is free or posted, on both sides, after the core served what is pending.
    private func assertBuffersAccountedFor(_ streams: StreamEndpoint, _ core: SingleThreadStreamCore,
                                           file: StaticString = #filePath, line: UInt = #line) {
        core.poll()
        XCTAssertEqual(streams.endpoint.freeBufferCount + streams.endpoint.postedReceiveBufferCount, Int(layout.bufferCount),
                       "free \(streams.endpoint.freeBufferCount), posted \(streams.endpoint.postedReceiveBufferCount)",
                       file: file, line: line)
        XCTAssertEqual(core.server.postedReceiveBufferCount, streams.endpoint.postedReceiveBufferCount, file: file, line: line)
        XCTAssertEqual(core.server.ownership.count(heldBy: .sending), 0, file: file, line: line)
    }

    private func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 8) &+ seed) }
    }

    // MARK: Opening

    func testListenPostsBuffersAndAnswersBothWays() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        var wait = ServingWait(core)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error)
        XCTAssertEqual(core.handler.listens, [.init(port: 7, channel: 0)])
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 8)
        XCTAssertEqual(core.server.postedReceiveBufferCount, 8)
        core.handler.listenError = .portInUse
        XCTAssertEqual(streams.listen(port: 8, waitingWith: &wait).error, .refused(.portInUse))
        core.handler.listenError = nil
        XCTAssertEqual(streams.listen(port: 0, waitingWith: &wait).error, .refused(.badPort))
        // Nobody serves: the wait gives up.
        var never = BoundedSpinWait(limit: 10)
        XCTAssertEqual(streams.listen(port: 9, waitingWith: &never).error, .wouldBlock)
    }

    func testEventsArrivingWhileListenWaitsAreKept() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        var wait = ServingWait(core)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error)
        // A connection arrives (with data) before the second listen's answer.
        core.accept(2)
        core.peerSends([1, 2, 3], on: 2)
        core.poll()
        XCTAssertNil(streams.listen(port: 8, waitingWith: &wait).error)
        let seen = events(&streams, core)
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(seen.first, .accepted(connection: 2, remote: SocketAddress(10, 0, 2, 2, port: 40000), localPort: 7))
        guard case .received(2, let data)? = seen.last else { return XCTFail("\(seen)") }
        XCTAssertEqual(Array(data.bytes), [1, 2, 3])
    }

    func testConnectAndConnectFailed() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        guard case .success(let cookie) = streams.connect(to: SocketAddress(10, 0, 2, 2, port: 80)) else { return XCTFail() }
        XCTAssertEqual(events(&streams, core), [])
        XCTAssertEqual(core.handler.connects, [.init(address: SocketAddress(10, 0, 2, 2, port: 80).address.rawValue, port: 80,
                                                     channel: 0, cookie: cookie)])
        core.handler.open(11)
        core.events.append(ChannelCompletion(kind: .connected, socket: 11, length: 49152, address: 0x0A00_0202, port: 80,
                                             requestOperation: ChannelRequest.Operation.connect.rawValue, cookie: cookie))
        XCTAssertEqual(events(&streams, core), [.connected(connection: 11, cookie: cookie)])

        // Refused by the network core at once.
        core.handler.connectError = .tooManyConnections
        guard case .success(let second) = streams.connect(to: SocketAddress(10, 0, 2, 2, port: 81)) else { return XCTFail() }
        XCTAssertNotEqual(second, cookie)
        XCTAssertEqual(events(&streams, core), [.connectFailed(cookie: second, error: .refused(.tooManyConnections))])
        // Refused later by the peer.
        core.handler.connectError = nil
        guard case .success(let third) = streams.connect(to: SocketAddress(10, 0, 2, 2, port: 82)) else { return XCTFail() }
        core.poll()
        core.events.append(ChannelCompletion(kind: .error, error: .connectionRefused, address: 0x0A00_0202, port: 82,
                                             requestOperation: ChannelRequest.Operation.connect.rawValue, cookie: third))
        XCTAssertEqual(events(&streams, core), [.connectFailed(cookie: third, error: .refused(.connectionRefused))])
    }

    // MARK: Data

    func testReceivedDataInOrderAndReleaseRepostsBuffers() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 3)
        let sent = bytes(5000, seed: 1)
        core.peerSends(sent, on: 3)
        var received: [UInt8] = []
        var lengths: [Int] = []
        var buffers: Set<UInt32> = []
        for event in events(&streams, core) {
            guard case .received(3, let data) = event else { return XCTFail("\(event)") }
            received += data.bytes
            lengths.append(data.bytes.count)
            buffers.insert(data.bufferIndex)
            streams.release(data)
        }
        XCTAssertEqual(lengths, [2048, 2048, 904])
        XCTAssertEqual(received, sent)
        XCTAssertEqual(buffers.count, 3)
        XCTAssertEqual(streams.endpoint.statistics.received, 3)
        assertBuffersAccountedFor(streams, core)
        XCTAssertEqual(core.server.postedReceiveBufferCount, 8, "released buffers were posted again")

        // More bytes than posted buffers hold: the rest waits in the connection until released.
        let more = bytes(20 * 2048, seed: 2)
        core.peerSends(more, on: 3)
        var total: [UInt8] = []
        var rounds = 0
        while total.count < more.count && rounds < 50 {
            let batch = events(&streams, core)
            // The 8 posted, then the 8 free ones the library posts in their place while the
            // program holds the first (it keeps 8 posted): never more than the 16 buffers.
            XCTAssertLessThanOrEqual(batch.count, 16, "never more than the buffers there are")
            for event in batch {
                guard case .received(3, let data) = event else { return XCTFail("\(event)") }
                total += data.bytes
                streams.release(data)
            }
            rounds += 1
        }
        XCTAssertEqual(total, more)
        assertBuffersAccountedFor(streams, core)
    }

    func testSendCopiesAcrossBuffersAndReportsSent() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 5)
        let payload = bytes(5000, seed: 3)
        XCTAssertEqual(payload.withUnsafeBytes { streams.send(connection: 5, bytes: $0) }, .success(5000))
        XCTAssertEqual(streams.endpoint.freeBufferCount, 8 - 3)
        XCTAssertEqual(events(&streams, core), [.sent(connection: 5, length: 2048), .sent(connection: 5, length: 2048),
                                                .sent(connection: 5, length: 904)])
        XCTAssertEqual(core.handler.stream(of: 5), payload)
        // Zero-copy fill: written straight into the channel buffer.
        XCTAssertEqual(streams.send(connection: 5) { buffer in
            for position in 0..<100 { buffer[position] = UInt8(position) }
            return 100
        }, .success(100))
        XCTAssertEqual(streams.send(connection: 5) { _ in 0 }, .success(0), "nothing written: nothing sent")
        XCTAssertEqual(events(&streams, core), [.sent(connection: 5, length: 100)])
        XCTAssertEqual(Array(core.handler.stream(of: 5).suffix(100)), (0..<100).map { UInt8($0) })
        XCTAssertEqual([UInt8]().withUnsafeBytes { streams.send(connection: 5, bytes: $0) }, .success(0))
        XCTAssertEqual(([1] as [UInt8]).withUnsafeBytes { streams.send(connection: 6, bytes: $0) }, .failure(.notConnected))
        XCTAssertEqual(([1] as [UInt8]).withUnsafeBytes { streams.send(connection: 999, bytes: $0) }, .failure(.notConnected))
        XCTAssertEqual(streams.endpoint.statistics.sendsCompleted, 4)
        XCTAssertEqual(streams.sendErrors, 0)
        assertBuffersAccountedFor(streams, core)
    }

    /// A head and a body gathered: packed into as few buffers as hold them, in order, whatever
    /// their sizes against the buffer's (2,048 bytes here).
    func testGatheringSendPacksBothPiecesIntoFewestBuffers() {
        let cases: [(head: Int, body: Int, lengths: [Int])] = [
            (200, 344, [544]),                // an HTTP answer: one buffer, one request
            (0, 100, [100]), (100, 0, [100]),
            (2048, 1, [2048, 1]), (2047, 1, [2048]), (2000, 3000, [2048, 2048, 904]),
            (5000, 100, [2048, 2048, 1004]),
        ]
        for (number, test) in cases.enumerated() {
            let core = SingleThreadStreamCore(layout: layout)
            var streams = makeStreams(core)
            listenAndAccept(&streams, core, connection: 3)
            let head = bytes(test.head, seed: number), body = bytes(test.body, seed: number + 100)
            let result = head.withUnsafeBytes { first in
                body.withUnsafeBytes { second in streams.send(connection: 3, bytes: first, then: second) }
            }
            XCTAssertEqual(result, .success(test.head + test.body), "case \(number)")
            XCTAssertEqual(events(&streams, core), test.lengths.map { .sent(connection: 3, length: $0) }, "case \(number)")
            XCTAssertEqual(core.handler.stream(of: 3), head + body, "case \(number)")
            assertBuffersAccountedFor(streams, core)
        }
    }

    /// With fewer free buffers than the two pieces need, the count taken runs across them.
    func testGatheringSendTakesWhatTheBuffersHold() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 1, capacity: 0)
        let head = bytes(3 * 2048 + 10, seed: 1), body = bytes(6 * 2048, seed: 2)
        let result = head.withUnsafeBytes { first in
            body.withUnsafeBytes { second in streams.send(connection: 1, bytes: first, then: second) }
        }
        XCTAssertEqual(result, .success(8 * 2048), "every free buffer")
        let again = head.withUnsafeBytes { first in
            body.withUnsafeBytes { second in streams.send(connection: 1, bytes: first, then: second) }
        }
        XCTAssertEqual(again, .failure(.wouldBlock))
        core.handler.setCapacity(1 << 20, of: 1)
        _ = events(&streams, core)
        XCTAssertEqual(core.handler.stream(of: 1), Array((head + body).prefix(8 * 2048)))
    }

    /// A request-answer server (`answersPostTheirBuffers`): each answer is posted for receive
    /// once sent, and the request's buffer, released, stays free for the next answer. Twenty
    /// requests cost the channel twenty completions (the requests) and twenty-one requests (the
    /// answers, and the first request's buffer posted again: the target was not exceeded yet),
    /// with no `sent` event, and every buffer stays accounted for on both sides.
    func testAnswersPostTheirBuffersInsteadOfComingBackAsSent() {
        for lending in [false, true] {
            let core = SingleThreadStreamCore(layout: layout)
            core.handler.lends = lending
            var streams = makeStreams(core)
            streams.answersPostTheirBuffers = true
            listenAndAccept(&streams, core, connection: 3)
            let completionsBefore = core.server.counters.completions, requestsBefore = core.server.counters.requests
            var answered: [UInt8] = []
            for number in 0..<20 {
                core.peerSends(bytes(100, seed: number), on: 3)
                let arrived = events(&streams, core)
                guard arrived.count == 1, case .received(3, let data) = arrived[0] else {
                    return XCTFail("request \(number), lending \(lending): \(arrived)")
                }
                XCTAssertEqual(Array(data.bytes), bytes(100, seed: number))
                streams.release(data)
                let head = bytes(40, seed: 50 + number), body = bytes(260, seed: 80 + number)
                answered += head + body
                let result = head.withUnsafeBytes { first in
                    body.withUnsafeBytes { second in streams.send(connection: 3, bytes: first, then: second) }
                }
                XCTAssertEqual(result, .success(300))
                // Lent bytes come back when the peer acknowledges them: only then is the buffer posted.
                if lending { core.poll(); core.handler.acknowledge(3); core.fixture.server.wakeStream(3) }
            }
            XCTAssertEqual(events(&streams, core), [], "no sent event for an answer that posts its buffer")
            XCTAssertEqual(core.handler.stream(of: 3), answered)
            XCTAssertEqual(core.server.counters.completions - completionsBefore, 20, "lending: \(lending)")
            XCTAssertEqual(core.server.counters.requests - requestsBefore, 21, "lending: \(lending)")
            XCTAssertEqual(streams.endpoint.statistics.sendsPostingTheirBuffer, 20)
            XCTAssertEqual(streams.endpoint.statistics.sendsCompleted, 0)
            XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 9, "the target and one answer's buffer")
            assertBuffersAccountedFor(streams, core)
        }
    }

    /// Answers post their buffers only while fewer than the target and its slack (a quarter of
    /// it, here 2) are posted: the rest come back with `sent`. A refused one is uncounted, its
    /// buffer the program's again.
    func testAnswersPostOnlyUpToTheSlackAndARefusalIsUncounted() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        streams.answersPostTheirBuffers = true
        listenAndAccept(&streams, core, connection: 2, capacity: 0)
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 8, "the target, posted by listen")
        let answer = bytes(3 * 2048, seed: 9)
        XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: 2, bytes: $0) }, .success(3 * 2048))
        XCTAssertEqual(streams.endpoint.statistics.sendsPostingTheirBuffer, 2, "two above the target, then none")
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 10, "counted posted when sent")
        core.poll()
        XCTAssertEqual(core.server.postedReceiveBufferCount, 8, "posted by the core only once sent")
        core.handler.setCapacity(1 << 20, of: 2)
        XCTAssertEqual(events(&streams, core), [.sent(connection: 2, length: 2048)])
        XCTAssertEqual(core.server.postedReceiveBufferCount, 10)
        // One received and held: one answer buffer may post again, but the peer resets the
        // connection before it goes: the buffer comes back refused and is uncounted.
        core.handler.setCapacity(0, of: 2)
        core.peerSends([7], on: 2)
        guard case .received(2, let data)? = events(&streams, core).first else { return XCTFail("nothing received") }
        XCTAssertEqual(([1, 2, 3] as [UInt8]).withUnsafeBytes { streams.send(connection: 2, bytes: $0) }, .success(3))
        XCTAssertEqual(streams.endpoint.statistics.sendsPostingTheirBuffer, 3)
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 10)
        core.handler.connections[2]!.writeError = .connectionReset
        core.fixture.server.wakeStream(2)
        streams.release(data)
        let after = events(&streams, core)
        XCTAssertEqual(streams.sendErrors, 1, "\(after)")
        assertBuffersAccountedFor(streams, core)
    }

    func testWouldBlockWhenBuffersRunOutAndRecovery() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 1, capacity: 0)
        let payload = bytes(100_000, seed: 4)
        var offset = 0
        let first = payload.withUnsafeBytes { streams.send(connection: 1, bytes: UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        XCTAssertEqual(first, .success(8 * 2048), "every free buffer, and no more")
        offset += 8 * 2048
        XCTAssertEqual(payload.withUnsafeBytes { streams.send(connection: 1, bytes: UnsafeRawBufferPointer(rebasing: $0[offset...])) },
                       .failure(.wouldBlock))
        XCTAssertEqual(streams.send(connection: 1) { _ in XCTFail("no buffer to lend"); return 1 }, .failure(.wouldBlock))
        XCTAssertEqual(events(&streams, core), [], "the send buffer is full: nothing comes back")
        XCTAssertEqual(core.server.ownership.count(heldBy: .sending), 8)

        // The peer acknowledges bit by bit; the program sends whatever it can.
        var rounds = 0
        while offset < payload.count && rounds < 1000 {
            core.handler.setCapacity(3000, of: 1)
            core.handler.acknowledge(1)
            for event in events(&streams, core, passes: 1) {
                guard case .sent(1, _) = event else { return XCTFail("\(event)") }
            }
            switch payload.withUnsafeBytes({ streams.send(connection: 1, bytes: UnsafeRawBufferPointer(rebasing: $0[offset...])) }) {
            case .success(let count): offset += count
            case .failure(.wouldBlock): break
            case .failure(let error): return XCTFail("\(error)")
            }
            rounds += 1
        }
        XCTAssertEqual(offset, payload.count)
        core.handler.setCapacity(1 << 20, of: 1)
        _ = events(&streams, core)
        XCTAssertEqual(core.handler.stream(of: 1), payload)
        XCTAssertEqual(streams.endpoint.statistics.sendsCompleted, UInt64((payload.count + 2047) / 2048))
        assertBuffersAccountedFor(streams, core)
    }

    func testZeroCopyEchoOfAReceivedBuffer() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 0)
        let message = bytes(1234, seed: 5)
        core.peerSends(message, on: 0)
        let seen = events(&streams, core)
        guard seen.count == 1, case .received(0, let data) = seen[0] else { return XCTFail("\(seen)") }
        let freeBefore = streams.endpoint.freeBufferCount
        XCTAssertEqual(streams.send(data, on: 0), .success(1234))
        XCTAssertEqual(streams.endpoint.freeBufferCount, freeBefore, "no copy: no free buffer used")
        XCTAssertEqual(events(&streams, core), [.sent(connection: 0, length: 1234)])
        XCTAssertEqual(core.handler.stream(of: 0), message)
        XCTAssertEqual(streams.endpoint.statistics.sendsCompleted, 1)
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 8, "the echoed buffer came back and the posted count is topped up")
        assertBuffersAccountedFor(streams, core)
    }

    /// A buffer given back while the request ring was full is posted for receive later, when
    /// the program next looks for events — even when no other completion comes to trigger it.
    /// (Without this a bulk echo could stall for good: every buffer free but none posted, the
    /// peer's bytes waiting in the network core; found by the `offload` experiment.)
    func testBufferReturnedWhileTheRequestRingIsFullIsPostedLater() {
        let small = ChannelLayout(requestCapacity: 4, completionCapacity: 32, bufferCount: 16, bufferSize: 2048)
        let core = SingleThreadStreamCore(layout: small)
        var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: core.fixture.memory, receiveBufferTarget: 4))
        var wait = ServingWait(core)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error)
        // Sends to this connection are held by the network core (its send buffer takes nothing),
        // so they return no completion that would top the posted buffers up.
        core.accept(1, capacity: 0)
        _ = events(&streams, core)
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 4)
        // Bytes arrive in a posted buffer; before the program takes that completion it fills the
        // request ring with four sends.
        core.peerSends(bytes(100, seed: 3), on: 1)
        core.poll()
        XCTAssertEqual(bytes(4 * 2048, seed: 4).withUnsafeBytes { streams.send(connection: 1, bytes: $0) }, .success(4 * 2048))
        guard case .received(1, let data)? = streams.pollEvent() else { return XCTFail("no data") }
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 3, "the ring is full: nothing posted in its place")
        core.poll()   // the network core takes the sends (and holds them): the ring has room again
        XCTAssertNil(streams.pollEvent(), "no completion comes back")
        XCTAssertEqual(streams.endpoint.postedReceiveBufferCount, 4, "posted when the program looked for events")
        core.poll()
        XCTAssertEqual(core.server.postedReceiveBufferCount, 4)
        streams.release(data)
    }

    // MARK: Closing

    func testPeerFinishedAndCloseAfterQueuedData() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 4, capacity: 0)
        core.peerSends([9, 9], on: 4)
        core.finishAfterData.insert(4)
        let seen = events(&streams, core)
        XCTAssertEqual(seen.count, 2)
        guard case .received(4, let data)? = seen.first else { return XCTFail("\(seen)") }
        streams.release(data)
        XCTAssertEqual(seen.last, .finished(connection: 4))

        let payload = bytes(3000, seed: 6)
        XCTAssertEqual(payload.withUnsafeBytes { streams.send(connection: 4, bytes: $0) }, .success(3000))
        XCTAssertNil(streams.close(connection: 4).error)
        XCTAssertEqual(streams.close(connection: 4).error, .notConnected)
        XCTAssertEqual(([1] as [UInt8]).withUnsafeBytes { streams.send(connection: 4, bytes: $0) }, .failure(.notConnected))
        XCTAssertEqual(events(&streams, core), [], "the close waits behind the data")
        XCTAssertEqual(core.handler.releases, [])
        core.handler.setCapacity(1 << 20, of: 4)
        XCTAssertEqual(events(&streams, core), [.closed(connection: 4, error: nil)], "no `sent` after close, then closed")
        XCTAssertEqual(core.handler.stream(of: 4), payload)
        XCTAssertEqual(core.handler.releases, [.init(connection: 4, channel: 0)])
        assertBuffersAccountedFor(streams, core)
    }

    func testShutdownSendsFinAfterDataAndKeepsReceiving() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 2, capacity: 0)
        let payload = bytes(100, seed: 7)
        XCTAssertEqual(payload.withUnsafeBytes { streams.send(connection: 2, bytes: $0) }, .success(100))
        XCTAssertNil(streams.shutdown(connection: 2).error)
        XCTAssertEqual(events(&streams, core), [])
        XCTAssertEqual(core.handler.shutdowns, [])
        core.handler.setCapacity(1000, of: 2)
        XCTAssertEqual(events(&streams, core), [.sent(connection: 2, length: 100)], "streamShutDown is not an event")
        XCTAssertEqual(core.handler.shutdowns, [.init(connection: 2, channel: 0)])
        core.peerSends([1, 2, 3], on: 2)
        guard case .received(2, let data)? = events(&streams, core).first else { return XCTFail("receiving goes on") }
        XCTAssertEqual(Array(data.bytes), [1, 2, 3])
        streams.release(data)
        XCTAssertEqual(streams.shutdown(connection: 77).error, .notConnected)
        assertBuffersAccountedFor(streams, core)
    }

    /// A send issued after `shutdown`, while earlier data still waits, is refused by the network
    /// core with `notWritable` without taking the buffer (`bufferReturned` 0). The buffer came
    /// from the library's free list, so it must go back there.
    func testSendRefusedAfterShutdownDoesNotLoseItsBuffer() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 2, capacity: 0)
        XCTAssertEqual(([1, 2, 3] as [UInt8]).withUnsafeBytes { streams.send(connection: 2, bytes: $0) }, .success(3))
        XCTAssertNil(streams.shutdown(connection: 2).error)
        let late = ([4, 5, 6] as [UInt8]).withUnsafeBytes { streams.send(connection: 2, bytes: $0) }
        XCTAssertNotEqual(late, .failure(.channelBroken))
        // Served while the first send is still held: the shutdown waits, the late send is refused.
        core.poll()
        XCTAssertEqual(core.handler.shutdowns, [])
        core.handler.setCapacity(1000, of: 2)
        _ = events(&streams, core)
        XCTAssertEqual(core.handler.stream(of: 2), [1, 2, 3])
        if case .success = late { XCTAssertEqual(streams.sendErrors, 1, "the refusal is counted") }
        assertBuffersAccountedFor(streams, core)
    }

    func testAbortReportsClosedWithErrorAndReleasesTheNumber() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        listenAndAccept(&streams, core, connection: 6, capacity: 0)
        let payload = bytes(4000, seed: 8)
        XCTAssertEqual(payload.withUnsafeBytes { streams.send(connection: 6, bytes: $0) }, .success(4000))
        XCTAssertEqual(events(&streams, core), [])
        // The peer resets the connection: held sends fail, the program hears `closed` with the error.
        core.handler.connections[6]!.writeError = .connectionReset
        core.events.append(ChannelCompletion(kind: .streamAborted, error: .connectionReset, socket: 6))
        XCTAssertEqual(events(&streams, core), [.closed(connection: 6, error: .refused(.connectionReset))],
                       "one event: the library's own close and its answer are not reported")
        XCTAssertEqual(core.handler.releases, [.init(connection: 6, channel: 0)], "the library closed it")
        XCTAssertEqual(streams.sendErrors, 2, "both held buffers came back with the error")
        XCTAssertEqual(streams.close(connection: 6).error, .notConnected)
        XCTAssertEqual(([1] as [UInt8]).withUnsafeBytes { streams.send(connection: 6, bytes: $0) }, .failure(.notConnected))
        assertBuffersAccountedFor(streams, core)

        // The number is reused for a new connection.
        core.accept(6)
        XCTAssertEqual(events(&streams, core), [.accepted(connection: 6, remote: SocketAddress(10, 0, 2, 2, port: 40000), localPort: 7)])
        XCTAssertEqual(([7, 7] as [UInt8]).withUnsafeBytes { streams.send(connection: 6, bytes: $0) }, .success(2))
        XCTAssertEqual(events(&streams, core), [.sent(connection: 6, length: 2)])
        XCTAssertEqual(core.handler.stream(of: 6), [7, 7])
    }

    func testAbortWithAFullRequestRingRetriesTheRelease() {
        let small = ChannelLayout(requestCapacity: 4, completionCapacity: 32, bufferCount: 16, bufferSize: 2048)
        let core = SingleThreadStreamCore(layout: small)
        var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: core.fixture.memory, receiveBufferTarget: 0))
        var wait = ServingWait(core)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error)
        core.accept(1, capacity: 0)
        core.poll()
        // The abort is in the completion ring; the program fills the request ring first.
        core.events.append(ChannelCompletion(kind: .streamAborted, error: .timedOut, socket: 1))
        core.poll()
        XCTAssertEqual(streams.pollEvent(), .accepted(connection: 1, remote: SocketAddress(10, 0, 2, 2, port: 40000), localPort: 7))
        XCTAssertEqual(bytes(4 * 2048, seed: 9).withUnsafeBytes { streams.send(connection: 1, bytes: $0) }, .success(4 * 2048))
        XCTAssertEqual(streams.pollEvent(), .closed(connection: 1, error: .refused(.timedOut)))
        XCTAssertEqual(core.handler.releases, [])
        core.handler.connections[1]!.writeError = .timedOut
        XCTAssertEqual(events(&streams, core), [])
        XCTAssertEqual(core.handler.releases, [.init(connection: 1, channel: 0)], "the release was pushed once there was room")
        XCTAssertEqual(streams.sendErrors, 4)
        XCTAssertEqual(streams.endpoint.freeBufferCount, 16)
    }

    // MARK: Malformed

    func testMalformedCompletionsAreCountedAndIgnored() {
        let core = SingleThreadStreamCore(layout: layout)
        var streams = makeStreams(core)
        var unknownKind = ChannelCompletion(kind: .accepted, socket: 1)
        unknownKind.kind = 99
        let bad: [ChannelCompletion] = [
            ChannelCompletion(kind: .received, socket: 0, bufferIndex: 0, length: 1),        // UDP
            ChannelCompletion(kind: .bound, socket: 0),
            ChannelCompletion(kind: .accepted, socket: 16_384),
            ChannelCompletion(kind: .connected, socket: 20_000),
            ChannelCompletion(kind: .streamReceived, socket: 1, bufferIndex: 16, length: 1),
            ChannelCompletion(kind: .streamReceived, socket: 1, bufferIndex: 0, length: 2049),
            ChannelCompletion(kind: .streamReceived, socket: 16_500, bufferIndex: 0, length: 1),
            ChannelCompletion(kind: .streamSent, socket: 1, bufferIndex: 16),
            ChannelCompletion(kind: .peerFinished, socket: 16_384),
            ChannelCompletion(kind: .streamAborted, socket: 16_384),
            ChannelCompletion(kind: .streamClosed, socket: 16_384),
            unknownKind,
        ]
        core.events = bad
        XCTAssertEqual(events(&streams, core), [])
        XCTAssertEqual(streams.endpoint.statistics.malformedCompletions, UInt64(bad.count))
        XCTAssertFalse(streams.endpoint.isBroken)
        XCTAssertEqual(streams.endpoint.freeBufferCount, 16, "no buffer was taken from or added to the free list")
    }

    // MARK: Stress

    /// 1 MiB from a peer, echoed zero-copy by the program, through random delivery sizes,
    /// send-buffer capacities and acknowledgements; checked byte for byte.
    func testRandomizedEchoOfOneMebibyte() {
        let core = SingleThreadStreamCore(layout: ChannelLayout(requestCapacity: 16, completionCapacity: 16, bufferCount: 32,
                                                                bufferSize: 2048))
        var streams = makeStreams(core)
        var wait = ServingWait(core, limit: 1_000_000)
        XCTAssertNil(streams.listen(port: 7, waitingWith: &wait).error)
        var generator = SplitMix64(seed: 0xEC40_0001)
        let message = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        core.random = SplitMix64(seed: 0xEC40_0002)
        core.accept(9)
        core.peerSends(message, on: 9)
        core.finishAfterData.insert(9)

        var backlog: [ReceivedBuffer] = []
        var receivedCount = 0
        var sentCount = 0
        var finished = false
        var closing = false
        var closed = false
        while !closed {
            while let data = backlog.first {
                guard case .success = streams.send(data, on: 9) else { break }
                backlog.removeFirst()
            }
            if finished && backlog.isEmpty && !closing {
                XCTAssertNil(streams.close(connection: 9).error)
                closing = true
            }
            guard let event = streams.nextEvent(waitingWith: &wait) else { XCTFail("stalled"); break }
            switch event {
            case .accepted(9, _, 7): break
            case .received(9, let data):
                XCTAssertFalse(finished, "data after the FIN")
                receivedCount += data.bytes.count
                backlog.append(data)
            case .sent(9, let length): sentCount += length
            case .finished(9): finished = true
            case .closed(9, nil): closed = true
            default: XCTFail("unexpected \(event)"); closed = true
            }
        }
        XCTAssertEqual(receivedCount, message.count)
        XCTAssertEqual(core.handler.stream(of: 9).count, message.count)
        XCTAssertTrue(core.handler.stream(of: 9) == message, "echoed byte for byte")
        XCTAssertLessThanOrEqual(sentCount, message.count)
        XCTAssertEqual(streams.sendErrors, 0)
        XCTAssertEqual(streams.endpoint.statistics.malformedCompletions, 0)
        XCTAssertEqual(core.server.counters.totalErrors, 0)
        XCTAssertEqual(core.server.counters.streamBytesSent, UInt64(message.count))
        XCTAssertEqual(core.server.counters.streamBytesReceived, UInt64(message.count))
        XCTAssertEqual(core.handler.releases, [.init(connection: 9, channel: 0)])
        XCTAssertEqual(streams.endpoint.freeBufferCount + streams.endpoint.postedReceiveBufferCount, 32)
    }
}
