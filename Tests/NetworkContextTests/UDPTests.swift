/// The context's UDP path: datagrams to a program's bound port and back, unbound ports, malformed frames, the meter.

import Channels
import Network
import NetworkContext
import SwigletLibrary
import XCTest

final class UDPTests: XCTestCase {
    func testDatagramReachesTheProgramByteForByteAndRingsItsDoorbellOncePerPass() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, socket) = fixture.boundSocket(port: 5000)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).bound, 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).receiveBuffersPosted, 8)

        // Two datagrams in one pass: two completions, one doorbell.
        let first = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let second: [UInt8] = Array("second".utf8)
        let doorbellsBefore = fixture.record.doorbells.count
        let work = fixture.receive(udpFrame(from: 40001, to: 5000, payload: first),
                                   udpFrame(from: 40002, to: 5000, payload: second))
        XCTAssertEqual(work.frames, 2)
        XCTAssertEqual(Array(fixture.record.doorbells[doorbellsBefore...]), [3], "once per pass, on the program's CPU")

        let counters = fixture.context.channelCounters(program.channel)
        XCTAssertEqual(counters.received, 2)
        XCTAssertEqual(counters.bytesReceived, UInt64(first.count + second.count))
        XCTAssertEqual(counters.droppedNoReceiveBuffer, 0)
        XCTAssertEqual(fixture.context.networkCounters.udp.framesIn, 2)
        XCTAssertEqual(fixture.context.networkCounters.framesDelivered, 3, "the ARP reply and both datagrams")

        var bytes = [UInt8](repeating: 0, count: 2048)
        guard case .success(let one) = bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) else {
            return XCTFail("first datagram")
        }
        XCTAssertEqual(Array(bytes[0..<one.length]), first)
        XCTAssertEqual(one.source, SocketAddress(10, 0, 2, 2, port: 40001))
        guard case .success(let two) = bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) else {
            return XCTFail("second datagram")
        }
        XCTAssertEqual(Array(bytes[0..<two.length]), second)
        XCTAssertEqual(two.source, SocketAddress(10, 0, 2, 2, port: 40002))
        XCTAssertEqual(bytes.withUnsafeMutableBytes { socket.receive(into: $0) }.failure, .wouldBlock)

        // The next pass serves the re-posted buffers but completes nothing: no doorbell.
        let quiet = fixture.record.doorbells.count
        fixture.pass()
        XCTAssertEqual(fixture.record.doorbells.count, quiet)
    }

    func testProgramSendProducesACorrectUDPFrame() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, socket) = fixture.boundSocket(port: 5001)
        let payload = Array("hello from the program".utf8)
        XCTAssertNil(payload.withUnsafeBytes { socket.send(to: SocketAddress(10, 0, 2, 2, port: 7777), bytes: $0) }.failure)
        let mark = fixture.mark
        fixture.pass()
        let frames = fixture.sent(since: mark)
        XCTAssertEqual(frames.count, 1)
        guard let frame = frames.first, let datagram = frame.datagram else { return XCTFail("no UDP frame") }
        XCTAssertEqual(frame.destinationMAC, peerMAC)
        XCTAssertEqual(frame.etherType, 0x0800)
        XCTAssertEqual(frame.ipDestination, peerIP)
        XCTAssertEqual(datagram, SentDatagram(sourcePort: 5001, destinationPort: 7777, payload: payload))
        // The test's own checksum check is not vacuous: one flipped payload bit is caught.
        var flipped = fixture.queue.transmitted[mark]
        flipped[42] ^= 0x01
        XCTAssertEqual(SentFrame(flipped).problem, "UDP checksum")
        XCTAssertEqual(fixture.context.channelCounters(program.channel).sent, 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).bytesSent, UInt64(payload.count))
        XCTAssertEqual(fixture.context.networkCounters.udp.framesOut, 1)
        XCTAssertGreaterThan(fixture.queue.flushes, 0, "the pass kicked the transmit queue")
        // The buffer came back to the program (looking for datagrams takes the completions).
        XCTAssertEqual(socket.receiveBuffer().failure, .wouldBlock)
        XCTAssertEqual(socket.endpoint.statistics.sendsCompleted, 1)
    }

    /// An echo's reply from the buffer a datagram arrived in is sent with `postAfterSend`: the
    /// buffer is posted for receive again by the network core, with no `sent` completion and
    /// no `postReceiveBuffer` request; the program's count of posted buffers stays right, and a
    /// refused reply's buffer comes back to the program, uncounted.
    func testAnEchoReplyPostsItsBufferWithoutASentCompletion() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, socket) = fixture.boundSocket(port: 5005)
        let counters = { fixture.context.channelCounters(program.channel) }
        for round in 0..<20 {
            let payload = [UInt8](repeating: UInt8(round), count: 10 + round)
            fixture.receive(udpFrame(from: 40005, to: 5005, payload: payload))
            guard case .success(let datagram) = socket.receiveBuffer() else { return XCTFail("round \(round): no datagram") }
            XCTAssertNil(socket.reply(with: datagram, length: datagram.length, to: datagram.source).failure)
            let mark = fixture.mark
            fixture.pass()
            XCTAssertEqual(fixture.sent(since: mark).compactMap(\.datagram).map(\.payload), [payload], "round \(round)")
        }
        XCTAssertEqual(counters().received, 20)
        XCTAssertEqual(counters().sent, 20)
        XCTAssertEqual(counters().completions, 1 + 20, "the bind's answer and the datagrams: no `sent`")
        XCTAssertEqual(counters().receiveBuffersPosted, 8 + 20, "the first 8, then each reply's buffer")
        XCTAssertEqual(socket.endpoint.statistics.sendsPostingTheirBuffer, 20)
        XCTAssertEqual(socket.endpoint.postedReceiveBufferCount, 8)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).droppedNoReceiveBuffer, 0)

        // Refused (the transmit ring is full): the buffer comes back instead, and is posted again
        // the usual way.
        fixture.receive(udpFrame(from: 40005, to: 5005, payload: [9]))
        guard case .success(let datagram) = socket.receiveBuffer() else { return XCTFail("no datagram") }
        fixture.queue.transmitFull = true
        XCTAssertNil(socket.reply(with: datagram, length: datagram.length, to: datagram.source).failure)
        XCTAssertEqual(socket.endpoint.postedReceiveBufferCount, 8, "counted posted when sent")
        fixture.pass()
        fixture.queue.transmitFull = false
        XCTAssertEqual(socket.receiveBuffer().failure, .wouldBlock)   // takes the refusal
        XCTAssertEqual(socket.endpoint.statistics.lastSendError, .throttled)
        XCTAssertEqual(socket.endpoint.postedReceiveBufferCount, 7, "uncounted: the buffer came back free")
        fixture.pass()
        XCTAssertEqual(counters().receiveBuffersPosted, 8 + 20)
        XCTAssertEqual(socket.endpoint.freeBufferCount + socket.endpoint.postedReceiveBufferCount, 16)
        XCTAssertEqual(socket.endpoint.freeBufferCount, 9)
    }

    func testSendWithAFullTransmitRingIsRefusedAsThrottled() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, socket) = fixture.boundSocket(port: 5002)
        fixture.queue.transmitFull = true
        XCTAssertNil(([1, 2, 3] as [UInt8]).withUnsafeBytes { socket.send(to: SocketAddress(10, 0, 2, 2, port: 9), bytes: $0) }.failure)
        fixture.pass()
        XCTAssertEqual(fixture.queue.refusals, 1)
        XCTAssertEqual(fixture.context.networkCounters[drop: .transmitRingFull], 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .throttled], 1)
        XCTAssertEqual(socket.receiveBuffer().failure, .wouldBlock)
        XCTAssertEqual(socket.endpoint.statistics.lastSendError, .throttled)
    }

    func testDatagramToAnUnboundPortIsCountedAsNoListener() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let (program, _) = fixture.boundSocket(port: 5003)
        let mark = fixture.mark
        fixture.receive(udpFrame(from: 40000, to: 5004, payload: [1, 2, 3]))
        XCTAssertEqual(fixture.context.networkCounters[drop: .noListener], 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).received, 0)
        // RFC 1122 §4.1.3.1: answered with an ICMP port unreachable.
        let frames = fixture.sent(since: mark)
        XCTAssertEqual(frames.map(\.ipProtocol), [1])
        // And directly, the outcome says why.
        let outcome = udpFrame(from: 40000, to: 5004, payload: [4]).withUnsafeBytes {
            fixture.context.handle(frame: $0, now: fixture.now)
        }
        guard case .dropped(.noListener) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(fixture.context.networkCounters[drop: .noListener], 2)
    }

    func testMalformedFramesAreDroppedWithTheirReason() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let (program, _) = fixture.boundSocket(port: 5005)
        var corrupted = udpFrame(from: 40000, to: 5005, payload: Array("payload".utf8))
        corrupted[corrupted.count - 1] ^= 0xFF   // the UDP checksum no longer matches
        let truncated = Array(udpFrame(from: 40000, to: 5005, payload: [1, 2, 3])[0..<20])
        var outcomes: [DropReason] = []
        for frame in [corrupted, truncated] {
            let outcome = frame.withUnsafeBytes { fixture.context.handle(frame: $0, now: fixture.now) }
            guard case .dropped(let reason) = outcome else { return XCTFail("\(outcome)") }
            outcomes.append(reason)
        }
        XCTAssertEqual(outcomes, [.badChecksum, .truncated])
        // Through the NIC as well: counted, nothing reaches the program, nothing is sent.
        let mark = fixture.mark
        let doorbells = fixture.record.doorbells.count
        fixture.receive(corrupted)
        XCTAssertEqual(fixture.context.networkCounters[drop: .badChecksum], 2)
        XCTAssertEqual(fixture.context.networkCounters[drop: .truncated], 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).received, 0)
        XCTAssertEqual(fixture.mark, mark)
        XCTAssertEqual(fixture.record.doorbells.count, doorbells)
        let counters = fixture.context.networkCounters
        XCTAssertEqual(counters.ethernet.framesIn, counters.framesDelivered + counters.receivedFramesDropped)
    }

    func testMeterPortAnswersWithTheHostsMeterText() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        fixture.record.meterText = "intrusions 7\nblocked 2\n"
        let mark = fixture.mark
        fixture.receive(udpFrame(from: 50123, to: ContextFixture.meterPort, payload: Array("meter?".utf8)))
        XCTAssertEqual(fixture.record.meterRequests, 1)
        let datagrams = fixture.sent(since: mark).compactMap(\.datagram)
        XCTAssertEqual(datagrams, [SentDatagram(sourcePort: ContextFixture.meterPort, destinationPort: 50123,
                                                payload: Array("intrusions 7\nblocked 2\n".utf8))])
        XCTAssertEqual(fixture.context.networkCounters.udp.framesOut, 1)
        XCTAssertEqual(fixture.context.networkCounters[drop: .noListener], 0)
    }

    func testProgramCannotBindTheMeterPort() {
        let fixture = ContextFixture()
        let program = fixture.addProgram(cpu: 1)
        var socket = program.makeUDPSocket()
        var wait = fixture.waitByPassing()
        XCTAssertEqual(socket.bind(port: ContextFixture.meterPort, waitingWith: &wait).failure, .refused(.portInUse))
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .portInUse], 1)
    }
}

extension UDPTests {
    /// RFC 768 allows an empty datagram; the program receives it as such.
    func testEmptyDatagramIsDelivered() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, socket) = fixture.boundSocket(port: 5006)
        fixture.receive(udpFrame(from: 40000, to: 5006, payload: []))
        XCTAssertEqual(fixture.context.channelCounters(program.channel).received, 1)
        guard case .success(let datagram) = socket.receiveBuffer() else { return XCTFail("nothing received") }
        XCTAssertEqual(datagram.length, 0)
        XCTAssertEqual(datagram.source, SocketAddress(10, 0, 2, 2, port: 40000))
    }
}
