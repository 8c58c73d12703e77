/// Record and replay with programs: a UDP echo and a TCP echo program on channels replay identically with no program present, and a tampered recording is caught where it was changed.

import Channels
import Network
import NetworkContext
import NetworkRecording
import NetworkReplay
import SwigletLibrary
import TCP
import TestSupport
import XCTest

final class ChannelRecordReplayTests: XCTestCase {
    typealias Session = RecordReplayTests.Session

    /// Waits by running one recorded pass: the program and the context take turns.
    struct SessionWait: WaitPolicy {
        let session: Session
        var remaining = 50

        mutating func wait() -> Bool {
            guard remaining > 0 else { return false }
            remaining -= 1
            session.pass()
            return true
        }
    }

    /// A program's channel memory (shared and private halves), kept alive by the test.
    final class Channel {
        let shared: PageAlignedMemory
        let privateMemory: PageAlignedMemory
        let memory: ChannelMemory
        var number = -1

        init(layout: ChannelLayout = ContextFixture.layout) {
            shared = PageAlignedMemory(byteCount: layout.byteCount)
            privateMemory = PageAlignedMemory(byteCount: layout.serverPrivateByteCount)
            memory = ChannelMemory(base: shared.base, layout: layout)
            memory.initialize()
        }

        func endpoint() -> ChannelEndpoint { ChannelEndpoint(memory: memory) }
    }

    struct Recorded {
        let session: Session
        let log: RecordLog
        let udpEchoes: Int
        let tcpBytesEchoed: Int
    }

    /// Two programs on an impaired link (duplicates): a UDP echo on channel 0, added before the
    /// context serves (`addChannel`), and a TCP echo on channel 1, queued while it runs
    /// (`queueChannel`). The UDP program ends; a third program gets its number again.
    private func recordPrograms() throws -> Recorded {
        let session = Session()
        let peer = SocketAddress(address: IPv4Address(10, 0, 2, 2), port: 5555)
        session.receive(arpReplyFrame())

        // A completion ring of 4: it fills often, so the context reads the program's head of it.
        let udpChannel = Channel(layout: ChannelLayout(requestCapacity: 32, completionCapacity: 4, bufferCount: 16, bufferSize: 2048))
        udpChannel.number = try XCTUnwrap(session.context.addChannel(memory: udpChannel.memory,
                                                                     privateMemory: udpChannel.privateMemory.base, cpu: 1))
        var socket = UDPSocket(endpoint: udpChannel.endpoint())
        var wait = SessionWait(session: session)
        XCTAssertNil(socket.bind(port: 7000, waitingWith: &wait).failure)
        session.pass()

        let tcpChannel = Channel()
        tcpChannel.number = try XCTUnwrap(session.context.queueChannel(memory: tcpChannel.memory,
                                                                       privateMemory: tcpChannel.privateMemory.base, cpu: 2))
        var streams = StreamEndpoint(endpoint: tcpChannel.endpoint())
        XCTAssertNil(streams.listen(port: 8080, waitingWith: &wait).failure)
        session.pass()

        // UDP: each datagram echoed from the buffer it arrived in (a send request whose
        // payload the network core reads from the program's memory).
        var udpEchoes = 0
        for index in 0..<6 {
            session.receive(udpFrame(from: 5555, to: 7000, payload: Array("datagram \(index)".utf8)))
            while case .success(let datagram) = socket.receiveBuffer() {
                XCTAssertNil(socket.reply(with: datagram, length: datagram.length, to: peer).failure)
                udpEchoes += 1
            }
            session.pass()
        }

        // TCP: a connection, data echoed by lending the received buffer, then the peer's FIN
        // and the program's close.
        var mark = session.queue.transmitted.count
        session.receive(tcpFrame(from: 40000, to: 8080, sequence: 0x2000_0000, flags: .syn, options: maximumSegmentSizeOption))
        let synAck = try XCTUnwrap(session.segments(since: mark).first { $0.flags.contains([.syn, .ack]) })
        var tcpPeer = PeerConnection(peerPort: 40000, localPort: 8080, sendNext: 0x2000_0001, receiveNext: synAck.sequence &+ 1)
        session.receive(tcpPeer.segment(.ack))
        var connection: UInt16?
        var echoed = 0
        var finished = false
        mark = session.queue.transmitted.count
        for round in 0..<8 {
            if round < 5 { session.receive(tcpPeer.data(Array(repeating: UInt8(0x41 + round), count: 300 + round * 211))) }
            if round == 5 { session.receive(tcpPeer.segment([.fin, .ack])) }
            while let event = streams.pollEvent() {
                switch event {
                case .accepted(let number, _, _): connection = number
                case .received(let number, let data):
                    if case .failure = streams.send(data, on: number) { streams.release(data) }
                case .finished(let number):
                    finished = true
                    _ = streams.close(connection: number)
                default: break
                }
            }
            for _ in 0..<3 {
                session.now += 5_000_000
                session.pass()
            }
            let sent = session.segments(since: mark)
            echoed += sent.reduce(0) { $0 + $1.payload.count }
            mark = session.queue.transmitted.count
            if let last = sent.last { tcpPeer.receiveNext = last.sequence &+ UInt32(last.payload.count) }
            session.receive(tcpPeer.segment(.ack))
        }
        XCTAssertNotNil(connection)
        XCTAssertTrue(finished)

        // The UDP program ends; once the kernel freed its channel, a new program reuses the number.
        session.context.programEnded(channel: udpChannel.number)
        session.pass()
        session.context.channelFreed(udpChannel.number)
        let third = Channel()
        third.number = try XCTUnwrap(session.context.queueChannel(memory: third.memory, privateMemory: third.privateMemory.base, cpu: 3))
        XCTAssertEqual(third.number, udpChannel.number, "the freed number is used again")
        var again = UDPSocket(endpoint: third.endpoint())
        XCTAssertNil(again.bind(port: 7001, waitingWith: &wait).failure)
        for _ in 0..<10 {
            session.now += 50_000_000
            session.pass()
        }
        withExtendedLifetime((udpChannel, tcpChannel, third)) {}
        return Recorded(session: session, log: try RecordLog(bytes: session.bytes), udpEchoes: udpEchoes, tcpBytesEchoed: echoed)
    }

    func testProgramsReplayIdenticallyWithoutThem() throws {
        let recorded = try recordPrograms()
        XCTAssertGreaterThanOrEqual(recorded.udpEchoes, 6, "every datagram (and the impairment's duplicates) echoed")
        XCTAssertEqual(recorded.tcpBytesEchoed, (0..<5).reduce(0) { $0 + 300 + $1 * 211 }, "every TCP byte echoed")
        let kinds = Set(recorded.log.events.map(\.kind))
        for kind: RecordFormat.Kind in [.channelAdded, .requestTail, .request, .completionHead, .payload, .completion,
                                        .channelsEnded, .channelReleased, .doorbell] {
            XCTAssertTrue(kinds.contains(kind), "the recording has \(kind) events")
        }

        let result = try Replayer.replay(recorded.log)
        XCTAssertNil(result.divergence, "\(result.divergence!)")
        XCTAssertFalse(result.endedMidPass)
        XCTAssertEqual(result.eventsReplayed, recorded.log.events.count, "every event was consumed")
        XCTAssertEqual(result.passes, recorded.session.passes)
        XCTAssertEqual(result.channelsAdded, 3)
        XCTAssertEqual(result.requestsTaken, recorded.log.events.filter { $0.kind == .request }.count)
        XCTAssertEqual(result.completionsMatched, recorded.log.events.filter { $0.kind == .completion }.count)
        XCTAssertGreaterThan(result.completionsMatched, 20)
        XCTAssertEqual(result.framesMatched, recorded.session.queue.transmitted.count, "every frame, the echoes too, built again")
    }

    /// With programs waiting, most passes still only find their rings as before: such passes
    /// cost a few bytes each, not an event per channel, and replay as they ran.
    func testIdlePassesWithProgramsStayCompact() throws {
        let session = Session()
        var channels: [Channel] = []
        for cpu in 1...3 {
            let channel = Channel()
            channel.number = try XCTUnwrap(session.context.addChannel(memory: channel.memory, privateMemory: channel.privateMemory.base, cpu: cpu))
            channels.append(channel)
        }
        var socket = UDPSocket(endpoint: channels[0].endpoint())
        var wait = SessionWait(session: session)
        XCTAssertNil(socket.bind(port: 7000, waitingWith: &wait).failure)
        let before = session.used
        for _ in 0..<1000 {
            session.now += 1300
            session.pass()
        }
        XCTAssertLessThan(session.used - before, 1000 * 4, "1,000 idle passes over three channels in \(session.used - before) bytes")
        let result = try Replayer.replay(try RecordLog(bytes: session.bytes))
        XCTAssertNil(result.divergence, "\(result.divergence!)")
        XCTAssertEqual(result.passes, session.passes)
        withExtendedLifetime(channels) {}
    }

    /// A payload changed in the recording (as if the program had sent other bytes) makes the
    /// replayed context build another frame: caught at that frame.
    func testAChangedPayloadIsCaughtAtTheFrameItChanges() throws {
        let recorded = try recordPrograms()
        var log = recorded.log
        let payload = try XCTUnwrap(log.events.firstIndex { $0.kind == .payload })
        log.events[payload].bytes[0] ^= 0xFF
        let result = try Replayer.replay(log)
        let divergence = try XCTUnwrap(result.divergence, "the changed payload went unnoticed")
        XCTAssertEqual(log.events[divergence.event].kind, .transmitted, divergence.description)
        XCTAssertGreaterThan(divergence.event, payload)
    }

    /// A completion changed in the recording (as if the context had answered otherwise) is
    /// caught at that completion: completions are checked, not just replayed.
    func testAChangedCompletionIsCaughtThere() throws {
        let recorded = try recordPrograms()
        var log = recorded.log
        let completion = try XCTUnwrap(log.events.lastIndex { $0.kind == .completion })
        log.events[completion].bytes[4] ^= 0x01
        let result = try Replayer.replay(log)
        let divergence = try XCTUnwrap(result.divergence, "the changed completion went unnoticed")
        XCTAssertEqual(divergence.event, completion, divergence.description)
        XCTAssertTrue(divergence.actual.contains("wrote a different one"), divergence.description)
    }
}
