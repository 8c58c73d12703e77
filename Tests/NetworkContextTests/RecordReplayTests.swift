/// Record and replay on the host: a recorded session replays identically, a change to TCP is caught as a divergence at the right event, and bad recordings are refused clearly.

import Network
import NetworkContext
import NetworkRecording
import NetworkReplay
import TCP
import XCTest

final class RecordReplayTests: XCTestCase {
    typealias RecordedContext = NetworkContext<RecordingReceiver<FakeFrameReceiver>, RecordingSender<FakeFrameSender>,
                                               RecordingHost<FakeHost>>

    /// A context recorded into `memoryBytes` of memory, with the fake NIC and host of the other tests.
    final class Session {
        let queue = FakeQueuePair()
        let host = FakeHost()
        let memory: UnsafeMutableRawBufferPointer
        let writer = UnsafeMutablePointer<RecordWriter>.allocate(capacity: 1)
        let context: RecordedContext
        var now: UInt64 = 1_000_000_000
        var passes = 0
        var framesFed = 0

        init(memoryBytes: Int = 1 << 20) {
            var configuration = NetworkContextConfiguration(
                interface: InterfaceConfiguration(hardwareAddress: MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
                                                  address: IPv4Address(10, 0, 2, 15), prefixLength: 24,
                                                  gateway: IPv4Address(10, 0, 2, 2)),
                tcpCapacity: 16, tcpSecret: SipHashKey(low: 0x0123_4567_89AB_CDEF, high: 0xFEDC_BA98_7654_3210))
            configuration.meterPort = ContextFixture.meterPort
            configuration.metricsPort = ContextFixture.metricsPort
            // An impaired link: the context's seeded choices must replay as they were made.
            configuration.receiveImpairment.duplicateBasisPoints = 3000
            configuration.impairmentSeed = 7
            memory = .allocate(byteCount: memoryBytes, alignment: 16)
            writer.initialize(to: RecordWriter(memory: memory, configuration: configuration))
            context = RecordedContext(index: 0, configuration: configuration,
                                      receiver: RecordingReceiver(queue.receiver, recorder: writer),
                                      sender: RecordingSender(queue.sender, recorder: writer),
                                      host: RecordingHost(host, recorder: writer))
        }

        deinit {
            memory.deallocate()
            writer.deallocate()
        }

        /// One pass, recorded as the kernel's loop does it: the clock, then the pass.
        func pass() {
            writer.pointee.record(.pass, prefix: now)
            context.pass(now: now)
            passes += 1
        }

        func receive(_ frame: [UInt8]) {
            queue.feed(frame)
            framesFed += 1
            pass()
        }

        /// The recording as a file would hold it, ended (`RecordWriter.finish`).
        var bytes: [UInt8] {
            writer.pointee.finish()
            return Array(memory)
        }

        /// Bytes of events written so far.
        var used: Int { writer.pointee.used }

        /// The TCP segments sent since `mark`.
        func segments(since mark: Int) -> [SentSegment] { parseSent(queue.transmitted(since: mark)).compactMap(\.segment) }
    }

    /// ARP, a meter request over UDP, and a GET /metrics over TCP with the clock moving (a
    /// delayed ACK and a retransmission timer run), all on an impaired link. `fullRing`: the
    /// NIC's transmit ring refuses everything for the first passes of the answer, which TCP
    /// keeps and sends later (backpressure).
    private func recordSession(memoryBytes: Int = 1 << 20, fullRing: Bool = false) -> Session {
        let session = Session(memoryBytes: memoryBytes)
        session.host.record.metricsText = "# TYPE swiglet_frames counter\nswiglet_frames 1234\n"
        session.receive(arpReplyFrame())
        session.receive(udpFrame(from: 5555, to: ContextFixture.meterPort, payload: Array("meter?".utf8)))
        var mark = session.queue.transmitted.count
        session.receive(tcpFrame(from: 40000, to: ContextFixture.metricsPort, sequence: 0x1000_0000, flags: .syn,
                                 options: maximumSegmentSizeOption))
        guard let synAck = session.segments(since: mark).first(where: { $0.flags.contains([.syn, .ack]) }) else {
            XCTFail("no SYN-ACK")
            return session
        }
        var peer = PeerConnection(peerPort: 40000, localPort: ContextFixture.metricsPort, sendNext: 0x1000_0001,
                                  receiveNext: synAck.sequence &+ 1)
        session.receive(peer.segment(.ack))
        mark = session.queue.transmitted.count
        if fullRing { session.queue.transmitRoom = 0 }
        session.receive(peer.data(Array("GET /metrics HTTP/1.1\r\nHost: 10.0.2.15\r\n\r\n".utf8)))
        for step in 0..<50 {
            if fullRing && step == 3 { session.queue.transmitRoom = nil }
            session.now += 10_000_000
            session.pass()
        }
        let answer = session.segments(since: mark).reduce(0) { $0 + $1.payload.count }
        XCTAssertGreaterThan(answer, 0, "the metrics answer came")
        peer.receiveNext &+= UInt32(answer)
        session.receive(peer.segment([.fin, .ack]))
        for _ in 0..<20 {
            session.now += 100_000_000
            session.pass()
        }
        return session
    }

    func testARecordedSessionReplaysIdentically() throws {
        let session = recordSession()
        let log = try RecordLog(bytes: session.bytes)
        XCTAssertFalse(log.wasFull)
        XCTAssertEqual(log.events.first?.kind, .configuration)
        let result = try Replayer.replay(log)
        XCTAssertNil(result.divergence, "\(result.divergence!)")
        XCTAssertFalse(result.endedMidPass)
        XCTAssertEqual(result.passes, session.passes)
        XCTAssertEqual(result.eventsReplayed, log.events.count, "every event was consumed")
        // The impairment duplicated some of them: the stack saw more than were fed.
        XCTAssertEqual(result.framesReceived, session.framesFed)
        XCTAssertEqual(result.framesMatched, session.queue.transmitted.count, "every frame sent was built again, byte for byte")
        XCTAssertGreaterThan(session.queue.transmitted.count, 5)
        XCTAssertEqual(session.host.record.meterRequests, 1)
        XCTAssertEqual(session.host.record.metricsRenders, 1)
    }

    /// Refusals by a full transmit ring change what TCP does next (the refused segments wait a
    /// pass): the recording keeps each refusal, and the replay gets the same answers from its NIC.
    func testRefusalsOfAFullRingReplayAsTheyHappened() throws {
        let session = recordSession(fullRing: true)
        XCTAssertGreaterThan(session.queue.refusals, 0, "the ring refused frames")
        XCTAssertGreaterThan(session.context.tcpCounters.transmitRefusals, 0, "TCP kept refused segments")
        let log = try RecordLog(bytes: session.bytes)
        XCTAssertTrue(log.events.contains { $0.kind == .transmitted && $0.prefix & 2 == 0 }, "a refusal is in the recording")
        let result = try Replayer.replay(log)
        XCTAssertNil(result.divergence, "\(result.divergence!)")
        XCTAssertEqual(result.eventsReplayed, log.events.count)
        XCTAssertEqual(result.framesMatched, session.queue.transmitted.count)
    }

    /// A context whose TCP advertises a smaller initial window (a change to TCP's behaviour)
    /// diverges at the recorded SYN-ACK, at the window field's first byte (Ethernet 14 + IPv4
    /// 20 + 14 bytes into TCP).
    func testAChangeToTCPIsCaughtAtTheFirstFrameItChanges() throws {
        let log = try RecordLog(bytes: recordSession().bytes)
        let result = try Replayer.replay(log) { $0.tcp.initialReceiveBufferCapacity /= 2 }
        let divergence = try XCTUnwrap(result.divergence, "the change went unnoticed")
        let synAckEvent = try XCTUnwrap(log.events.first { event in
            guard event.kind == .transmitted, let segment = SentFrame(event.bytes).segment else { return false }
            return segment.flags.contains([.syn, .ack])
        })
        XCTAssertEqual(divergence.event, synAckEvent.index)
        XCTAssertTrue(divergence.actual.contains("different from byte 48 on"), divergence.description)
        XCTAssertEqual(result.framesMatched, log.events[..<synAckEvent.index].filter { $0.kind == .transmitted && $0.prefix & 1 != 0 }.count)
    }

    /// A different secret key gives different ISNs: caught too (the key is part of the recording).
    func testADifferentSecretIsCaught() throws {
        let log = try RecordLog(bytes: recordSession().bytes)
        let result = try Replayer.replay(log) { $0.tcpSecret = SipHashKey(low: 1, high: 2) }
        XCTAssertNotNil(result.divergence)
    }

    /// Idle passes are gathered into one event of a few bytes a pass; read back they are the
    /// three events each, with their clocks, and a run interrupted by activity carries on.
    func testIdlePassesAreGatheredAndReadBackAsTheyWere() throws {
        let session = Session()
        session.receive(arpReplyFrame())
        var clocks: [UInt64] = []
        for step in 0..<1000 {
            session.now += UInt64(1000 + step % 7 * 300)   // irregular gaps, as a real loop's
            clocks.append(session.now)
            session.pass()
            if step == 500 { session.receive(udpFrame(from: 5555, to: ContextFixture.meterPort, payload: Array("meter?".utf8))) }
        }
        let log = try RecordLog(bytes: session.bytes)
        let passes = log.events.filter { $0.kind == .pass }.map(\.prefix)
        for clock in clocks { XCTAssertTrue(passes.contains(clock), "the pass at \(clock) is in the recording") }
        let used = session.bytes.withUnsafeBytes { Int($0.load(fromByteOffset: RecordFormat.committedOffset, as: UInt64.self)) }
        XCTAssertLessThan(used, 1000 * 4, "1,000 idle passes in \(used) bytes: a few bytes each, not 32")
        let result = try Replayer.replay(log)
        XCTAssertNil(result.divergence)
        XCTAssertEqual(result.passes, session.passes)
    }

    /// A snapshot of the stopped machine can catch the open idle run growing in place: its
    /// header already gives the longer payload while `committed` still ends at the shorter one
    /// (two stores; QEMU's `stop` fell between them in a clean-clone `make test`: "payload of
    /// 160881 bytes runs past the end"). Read back, the run is what `committed` covers — the
    /// passes of the snapshot before the growth — and nothing after it is invented.
    func testAnIdleRunCaughtGrowingIsReadAsFarAsCommitted() throws {
        let session = Session()
        session.receive(arpReplyFrame())
        func committed(_ bytes: [UInt8]) -> UInt64 {
            bytes.withUnsafeBytes { $0.load(fromByteOffset: RecordFormat.committedOffset, as: UInt64.self) }
        }
        var before: [UInt8] = []
        var after: [UInt8] = []
        for step in 0..<200 {
            session.now += UInt64(1000 + step % 5 * 4000)
            before = session.bytes
            session.pass()
            after = session.bytes
            // Past the first idle passes, a pass whose delta needed a new 8-byte word.
            if step > 20 && committed(after) > committed(before) { break }
        }
        XCTAssertGreaterThan(committed(after), committed(before), "the run never grew a word")
        // The header and count of `after`, the committed length of `before`.
        var caught = after
        let committedField = RecordFormat.committedOffset..<(RecordFormat.committedOffset + 8)
        caught.replaceSubrange(committedField, with: before[committedField])
        let expected = try RecordLog(bytes: before).events.filter { $0.kind == .pass }.map(\.prefix)
        let read = try RecordLog(bytes: caught).events.filter { $0.kind == .pass }.map(\.prefix)
        XCTAssertEqual(read, expected)
        XCTAssertEqual(try RecordLog(bytes: after).events.filter { $0.kind == .pass }.count, expected.count + 1)
    }

    /// A ring too small for the session fills, says so, and replays identically as far as it goes.
    func testAFullRingIsAPrefixThatReplaysSoFar() throws {
        let session = recordSession(memoryBytes: 2048)
        let log = try RecordLog(bytes: session.bytes)
        XCTAssertTrue(log.wasFull)
        let result = try Replayer.replay(log)
        XCTAssertNil(result.divergence)
        XCTAssertLessThan(result.passes, session.passes)
        XCTAssertGreaterThan(result.passes, 0)
    }

    func testBadRecordingsAreRefusedWithTheReason() throws {
        XCTAssertThrowsError(try RecordLog(bytes: [1, 2, 3])) { XCTAssertEqual($0 as? RecordLog.ReadError, .tooShort(3)) }
        var bytes = recordSession().bytes
        var wrong = bytes
        wrong[0] ^= 0xFF
        XCTAssertThrowsError(try RecordLog(bytes: wrong)) { XCTAssertEqual($0 as? RecordLog.ReadError, .badMagic) }
        let committed = bytes.withUnsafeBytes { $0.load(fromByteOffset: RecordFormat.committedOffset, as: UInt64.self) }
        let cut = Array(bytes[..<(RecordFormat.headerSize + Int(committed) - 4)])
        XCTAssertThrowsError(try RecordLog(bytes: cut)) { error in
            guard case .committedBeyondEnd? = error as? RecordLog.ReadError else { return XCTFail("\(error)") }
        }
        bytes[RecordFormat.headerSize + 8] = 0xEE   // the second event's kind
        bytes[RecordFormat.headerSize] = 0xEE      // the first's
        XCTAssertThrowsError(try RecordLog(bytes: bytes)) { error in
            guard case .badEvent? = error as? RecordLog.ReadError else { return XCTFail("\(error)") }
        }
    }
}
