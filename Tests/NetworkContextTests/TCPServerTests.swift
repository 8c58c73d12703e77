/// The context's TCP server path: a program listens, a peer connects, bytes flow both ways, the program closes, the peer resets.

import Channels
import NetworkContext
import SwigletLibrary
import TCP
import XCTest

final class TCPServerTests: XCTestCase {
    /// A program on CPU 2 listening on `port`, its receive buffers posted.
    private func listening(_ fixture: ContextFixture, port: UInt16,
                           file: StaticString = #filePath, line: UInt = #line) -> (ProgramChannel, StreamEndpoint) {
        fixture.listeningProgram(port: port, file: file, line: line)
    }

    /// The peer connects and the program takes the `accepted` event; returns the connection number.
    private func accept(_ fixture: ContextFixture, _ streams: inout StreamEndpoint, port: UInt16,
                        file: StaticString = #filePath, line: UInt = #line) -> (UInt16, PeerConnection)? {
        guard let peer = fixture.peerConnects(to: port, file: file, line: line) else { return nil }
        guard case .accepted(let connection, let remote, let localPort)? = streams.pollEvent() else {
            XCTFail("no accepted event", file: file, line: line)
            return nil
        }
        XCTAssertEqual(remote, SocketAddress(10, 0, 2, 2, port: peer.peerPort), file: file, line: line)
        XCTAssertEqual(localPort, port, file: file, line: line)
        return (connection, peer)
    }

    /// Takes the `received` events of `connection` waiting now, keeping their buffers in `held`
    /// (the program holds them: none is posted again until released); returns their bytes.
    private func takeReceived(_ streams: inout StreamEndpoint, connection: UInt16, holding held: inout [ReceivedBuffer]) -> [UInt8] {
        var bytes: [UInt8] = []
        while case .received(connection, let data)? = streams.pollEvent() {
            bytes += Array(data.bytes)
            held.append(data)
        }
        return bytes
    }

    func testHandshakeDataBothWaysAndClose() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        fixture.learnPeer()
        var (program, streams) = listening(fixture, port: 8080)

        let doorbells = fixture.record.doorbells.count
        guard let (connection, handshake) = accept(fixture, &streams, port: 8080) else { return }
        var peer = handshake
        XCTAssertEqual(fixture.context.tcpCounters.passiveOpens, 1)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).connectionsOpened, 1)
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 2), doorbells + 1, "the accept woke the program")

        // Peer → program.
        let request = Array("GET /hello\r\n".utf8)
        fixture.receive(peer.data(request))
        guard case .received(connection, let data)? = streams.pollEvent() else { return XCTFail("no data") }
        XCTAssertEqual(Array(data.bytes), request)
        streams.release(data)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).streamBytesReceived, UInt64(request.count))

        // Program → peer: one data segment carrying exactly those bytes, acknowledging the request.
        let answer = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(answer.count))
        var mark = fixture.mark
        fixture.pass()
        let dataSegments = fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }
        XCTAssertEqual(dataSegments.count, 1)
        XCTAssertEqual(dataSegments.first?.payload, answer)
        XCTAssertEqual(dataSegments.first?.sequence, peer.receiveNext)
        XCTAssertEqual(dataSegments.first?.acknowledgment, peer.sendNext)
        XCTAssertEqual(dataSegments.first?.flags.contains(.ack), true)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).streamBytesSent, UInt64(answer.count))
        // The buffer is lent to the connection: it comes back when the peer acknowledges it.
        XCTAssertNil(streams.pollEvent(), "the buffer stays lent until acknowledged")
        peer.receiveNext &+= UInt32(answer.count)
        fixture.receive(peer.segment(.ack))
        fixture.pass()
        XCTAssertEqual(streams.pollEvent(), .sent(connection: connection, length: answer.count))

        // The program releases the connection: a FIN follows the data.
        XCTAssertNil(streams.close(connection: connection).failure)
        mark = fixture.mark
        fixture.pass()
        let fin = fixture.sentSegments(since: mark).filter { $0.flags.contains(.fin) }
        XCTAssertEqual(fin.count, 1)
        XCTAssertEqual(fin.first?.sequence, peer.receiveNext)
        XCTAssertEqual(fin.first?.flags.contains(.rst), false)
        XCTAssertEqual(streams.pollEvent(), .closed(connection: connection, error: nil))
        XCTAssertEqual(fixture.context.tcpConnectionCounts().finishWait1, 1)
        XCTAssertEqual(fixture.context.tcpCounters.resetsSent, 0)

        // The peer acknowledges and finishes too: TIME-WAIT, nothing told to the program.
        peer.receiveNext &+= 1
        fixture.receive(peer.segment([.fin, .ack]))
        XCTAssertEqual(fixture.context.tcpConnectionCounts().timeWait, 1)
        XCTAssertNil(streams.pollEvent())
        XCTAssertEqual(streams.sendErrors, 0)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).totalErrors, 0)
    }

    /// Autocorking: a program's sends of one pass are queued and sent together at the end of
    /// the pass's channel work, so 8 channel buffers of 2,048 bytes leave as full 1,460-byte
    /// segments (as many as the initial window allows), not as 1,460 + 588 byte pairs.
    func testSmallSendsOfOnePassLeaveAsFullSegments() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8080)
        guard let (connection, peer) = accept(fixture, &streams, port: 8080) else { return }
        let bytes = (0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        XCTAssertEqual(bytes.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(16384),
                       "eight 2 KiB channel buffers")
        let mark = fixture.mark
        fixture.pass()
        let data = fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }
        XCTAssertEqual(data.map(\.payload.count), Array(repeating: 1460, count: 10), "the initial window of full segments")
        XCTAssertEqual(data.first?.sequence, peer.receiveNext)
        XCTAssertTrue(data.flatMap(\.payload) == Array(bytes.prefix(14600)))
    }

    func testPeerResetGivesTheProgramAnError() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, streams) = listening(fixture, port: 8081)
        guard let (connection, peer) = accept(fixture, &streams, port: 8081) else { return }
        fixture.receive(peer.segment(.rst))
        XCTAssertEqual(fixture.context.tcpCounters.resetsReceived, 1)
        XCTAssertEqual(streams.pollEvent(), .closed(connection: connection, error: .refused(.connectionReset)))
        // The library released the number itself; the context frees the slot.
        fixture.pass()
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 0)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).totalErrors, 0)
        XCTAssertEqual(([1] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) },
                       .failure(.notConnected))
    }

    func testPeerFinishIsReportedAsFinished() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8082)
        guard let (connection, handshake) = accept(fixture, &streams, port: 8082) else { return }
        var peer = handshake
        fixture.receive(peer.data([1, 2, 3]))
        fixture.receive(peer.segment([.fin, .ack]))
        guard case .received(connection, let data)? = streams.pollEvent() else { return XCTFail("no data") }
        XCTAssertEqual(Array(data.bytes), [1, 2, 3])
        streams.release(data)
        XCTAssertEqual(streams.pollEvent(), .finished(connection: connection))
        XCTAssertEqual(fixture.context.tcpConnectionCounts().closeWait, 1)
    }

    func testSegmentToAPortNobodyListensOnIsReset() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let mark = fixture.mark
        fixture.receive(tcpFrame(from: 40000, to: 8888, sequence: 77, flags: .syn, options: maximumSegmentSizeOption))
        let answers = fixture.sentSegments(since: mark)
        XCTAssertEqual(answers.count, 1)
        XCTAssertEqual(answers.first?.flags.contains(.rst), true)
        XCTAssertEqual(answers.first?.acknowledgment, 78)
        XCTAssertEqual(fixture.context.tcpCounters.drops.noListener, 1)
        XCTAssertEqual(fixture.context.tcpCounters.resetsSent, 1)
    }

    func testProgramMayNotListenOnTheMetricsPortNorTwiceOnOnePort() {
        let fixture = ContextFixture()
        let program = fixture.addProgram(cpu: 1)
        var streams = program.makeStreams()
        var wait = fixture.waitByPassing()
        XCTAssertEqual(streams.listen(port: ContextFixture.metricsPort, waitingWith: &wait).failure, .refused(.portInUse))
        XCTAssertNil(streams.listen(port: 8083, waitingWith: &wait).failure)
        XCTAssertEqual(streams.listen(port: 8083, waitingWith: &wait).failure, .refused(.portInUse))
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .portInUse], 2)
    }
}

extension TCPServerTests {
    /// More bytes than the program has buffers posted: the rest waits in the connection (its
    /// window closing) and is delivered, in order, once the program gives buffers back.
    func testBytesWaitForPostedBuffersAndArriveInOrder() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (program, streams) = listening(fixture, port: 8084)
        guard let (connection, handshake) = accept(fixture, &streams, port: 8084) else { return }
        var peer = handshake
        let message = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        var offset = 0
        while offset < message.count {
            let end = min(offset + 1460, message.count)
            fixture.queue.feed(peer.data(Array(message[offset..<end])))
            offset = end
        }
        fixture.pass()
        // Eight buffers of 2048 bytes were posted: the first eight segments went straight into
        // them (one segment per buffer, copied once from the frame: 8 × 1460 bytes), the rest
        // waits in the connection's receive buffer.
        var held: [ReceivedBuffer] = []
        var received = takeReceived(&streams, connection: connection, holding: &held)
        XCTAssertEqual(received.count, 8 * 1460)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).streamBytesReceived, UInt64(8 * 1460))
        XCTAssertEqual(fixture.context.tcpCounters.connections.directlyDelivered, UInt64(8 * 1460))
        // The program holds those 8; the last `pollEvent` posted the channel's other 8 free
        // buffers in their place (the library keeps 8 posted), and the rest arrives in them.
        fixture.pass()
        received += takeReceived(&streams, connection: connection, holding: &held)
        for data in held { streams.release(data) }
        XCTAssertEqual(received, message)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).streamBytesReceived, UInt64(message.count))
    }
}

extension TCPServerTests {
    /// Bytes that waited in a nearly full receive buffer go out into several posted buffers in
    /// one pass, and the reopened window is announced once, after the last of them (read by
    /// read it went out twice, at each doubling).
    func testWaitingBytesDeliveredIntoSeveralBuffersAnnounceTheWindowOnce() {
        let fixture = ContextFixture(tcp: TCPConnectionConfiguration(receiveBufferCapacity: 8192))
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8085)
        guard let (connection, handshake) = accept(fixture, &streams, port: 8085) else { return }
        var peer = handshake
        // 8 segments fill the 8 posted buffers; 5 more (7,300 bytes) wait in the 8 KiB buffer.
        for segment in 0..<13 { fixture.queue.feed(peer.data([UInt8](repeating: UInt8(segment), count: 1460))) }
        fixture.pass()
        var held: [ReceivedBuffer] = []
        // Taking the first 8 posts 8 more buffers for the next pass.
        var received = takeReceived(&streams, connection: connection, holding: &held).count
        XCTAssertEqual(received, 8 * 1460)
        let mark = fixture.mark
        fixture.pass()
        let updates = fixture.sentSegments(since: mark).filter { (segment: SentSegment) in segment.payload.isEmpty }
        XCTAssertEqual(updates.count, 1, "one window update for the whole delivery: \(updates.map { $0.window })")
        XCTAssertEqual(updates.first?.window, 8192, "the whole buffer is free again")
        received += takeReceived(&streams, connection: connection, holding: &held).count
        for data in held { streams.release(data) }
        XCTAssertEqual(received, 13 * 1460)
    }
}

extension TCPServerTests {
    /// Two full segments arrive (an ACK is owed at once, RFC 5681 §4.2) in the pass that serves
    /// the program's send: one segment leaves, carrying the data and that ACK, not a pure ACK
    /// and then the data (`holdsAcknowledgmentsForThePass`).
    func testTheAcknowledgmentOfAnArrivalRidesOnDataSentInTheSamePass() {
        let answer: [UInt8] = Array(repeating: 7, count: 100)
        guard let (sent, acknowledged) = twoFullSegmentsArrive(port: 8087, whileTheProgramSends: answer) else { return }
        XCTAssertEqual(sent.count, 1, "one segment: \(sent.map { ($0.payload.count, $0.acknowledgment) })")
        XCTAssertEqual(sent.first?.payload, answer)
        XCTAssertEqual(sent.first?.acknowledgment, acknowledged, "it acknowledges both arrivals")
    }

    /// An arrival with nothing to send back still gets its ACK in the same pass.
    func testAHeldAcknowledgmentLeavesInThePassOfItsArrival() {
        guard let (sent, acknowledged) = twoFullSegmentsArrive(port: 8088, whileTheProgramSends: []) else { return }
        XCTAssertEqual(sent.count, 1, "\(sent.map { ($0.payload.count, $0.acknowledgment) })")
        XCTAssertEqual(sent.first?.payload, [])
        XCTAssertEqual(sent.first?.acknowledgment, acknowledged)
    }

    /// A program accepts a connection on `port` and queues `answer` (if any); two full
    /// segments from the peer arrive; one pass runs. Returns the segments it sent and the
    /// sequence number that acknowledges both arrivals.
    private func twoFullSegmentsArrive(port: UInt16, whileTheProgramSends answer: [UInt8],
                                       file: StaticString = #filePath, line: UInt = #line) -> ([SentSegment], UInt32)? {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: port, file: file, line: line)
        guard let (connection, handshake) = accept(fixture, &streams, port: port, file: file, line: line) else { return nil }
        var peer = handshake
        if !answer.isEmpty {
            XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(answer.count),
                           file: file, line: line)
        }
        fixture.queue.feed(peer.data([UInt8](repeating: 1, count: 1460)))
        fixture.queue.feed(peer.data([UInt8](repeating: 2, count: 1460)))
        let mark = fixture.mark
        fixture.pass()
        return (fixture.sentSegments(since: mark, file: file, line: line), peer.sendNext)
    }
}

extension TCPServerTests {
    /// Shutdown sends our FIN after the queued bytes; the peer's bytes still reach the program.
    func testShutdownSendsFinAndReceivingGoesOn() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8086)
        guard let (connection, handshake) = accept(fixture, &streams, port: 8086) else { return }
        var peer = handshake
        XCTAssertEqual(([5, 6] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(2))
        XCTAssertNil(streams.shutdown(connection: connection).failure)
        let mark = fixture.mark
        fixture.pass()
        let segments = fixture.sentSegments(since: mark)
        XCTAssertEqual(segments.flatMap(\.payload), [5, 6])
        let fin = segments.filter { $0.flags.contains(.fin) }
        XCTAssertEqual(fin.count, 1)
        XCTAssertEqual(fin.first.map { $0.sequence &+ UInt32($0.payload.count) }, peer.receiveNext &+ 2, "FIN after the data")
        XCTAssertEqual(fixture.context.tcpConnectionCounts().finishWait1, 1)
        // The peer acknowledges the data (not yet the FIN) and sends bytes of its own: the lent
        // buffer comes back even though the connection takes no more data.
        peer.receiveNext &+= 2
        fixture.receive(peer.data([7, 7, 7]))
        fixture.pass()
        var events: [StreamEvent] = []
        while let event = streams.pollEvent() { events.append(event) }
        XCTAssertTrue(events.contains(.sent(connection: connection, length: 2)), "\(events)")
        guard case .received(connection, let data)? = events.first(where: { if case .received = $0 { true } else { false } })
        else { return XCTFail("\(events)") }
        XCTAssertEqual(Array(data.bytes), [7, 7, 7])
    }

    /// Two programs listening on one port share its connections (the table takes turns).
    func testTwoProgramsOnOnePortShareConnections() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let first = fixture.addProgram(cpu: 1)
        let second = fixture.addProgram(cpu: 2)
        var firstStreams = first.makeStreams()
        var secondStreams = second.makeStreams()
        var wait = fixture.waitByPassing()
        XCTAssertNil(firstStreams.listen(port: 8087, waitingWith: &wait).failure)
        XCTAssertNil(secondStreams.listen(port: 8087, waitingWith: &wait).failure)
        fixture.pass()
        guard fixture.peerConnects(to: 8087, from: 43000) != nil,
              fixture.peerConnects(to: 8087, from: 43001) != nil else { return }
        var accepted: [UInt16] = []
        for case .accepted(_, let remote, 8087)? in [firstStreams.pollEvent(), secondStreams.pollEvent()] {
            accepted.append(remote.port)
        }
        XCTAssertEqual(Set(accepted), [43000, 43001], "one connection each")
        XCTAssertEqual(fixture.context.channelCounters(first.channel).connectionsOpened, 1)
        XCTAssertEqual(fixture.context.channelCounters(second.channel).connectionsOpened, 1)
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 1), 2, "listen answer, accept")
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 2), 2)
    }
}

extension TCPServerTests {
    /// A connection number freed when its program ended is given to a new connection of
    /// another program, whose handshake-completing ACK and first data arrive in one pass: the
    /// program sees `accepted` before the bytes (which may go straight into its buffers only
    /// once it knows the connection — not on the strength of what the number's last owner knew).
    func testDataRightAfterTheHandshakeFollowsTheAcceptedEventEvenOnAReusedNumber() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var (first, firstStreams) = listening(fixture, port: 8090)
        guard let (oldConnection, _) = accept(fixture, &firstStreams, port: 8090) else { return }
        fixture.context.programEnded(channel: first.channel)
        fixture.pass()
        var (_, streams) = listening(fixture, port: 8090)
        let before = fixture.mark
        fixture.receive(tcpFrame(from: 40001, to: 8090, sequence: 0x2000_0000, flags: .syn,
                                         options: maximumSegmentSizeOption))
        guard let synAck = fixture.sentSegments(since: before).first else { return XCTFail("no SYN-ACK") }
        var peer = PeerConnection(peerPort: 40001, localPort: 8090, sendNext: 0x2000_0001, receiveNext: synAck.sequence &+ 1)
        fixture.queue.feed(peer.segment(.ack))
        fixture.queue.feed(peer.data(Array("hello".utf8)))
        fixture.pass()
        guard case .accepted(let connection, _, _)? = streams.pollEvent() else { return XCTFail("accepted must come first") }
        XCTAssertEqual(connection, oldConnection, "the number was reused (else this test shows nothing)")
        guard case .received(connection, let data)? = streams.pollEvent() else { return XCTFail("then the bytes") }
        XCTAssertEqual(Array(data.bytes), Array("hello".utf8))
    }
}

extension TCPServerTests {
    /// A lent buffer is read again for a retransmission (the program's bytes, not a copy) and
    /// comes back only with the ACK; with `tcp-send=copy` it comes back at once.
    func testLentBytesAreResentFromTheProgramsBufferAndReturnWithTheAcknowledgement() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        fixture.learnPeer()
        var (program, streams) = listening(fixture, port: 8090)
        guard let (connection, handshake) = accept(fixture, &streams, port: 8090) else { return }
        var peer = handshake
        let answer = (0..<700).map { UInt8(truncatingIfNeeded: $0 &* 5) }
        XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(700))
        var mark = fixture.mark
        fixture.pass()
        XCTAssertEqual(fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }.map(\.payload), [answer])
        XCTAssertNil(streams.pollEvent(), "lent until acknowledged")
        XCTAssertEqual(fixture.context.tcpCounters.connections.bytesLent, 700, "the kernel's own count: lent, not copied")
        // No ACK: the retransmission timer resends the same bytes from the lent buffer.
        mark = fixture.mark
        fixture.advance(by: 3_000_000_000)
        fixture.pass()
        XCTAssertEqual(fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }.map(\.payload), [answer])
        XCTAssertNil(streams.pollEvent())
        peer.receiveNext &+= 700
        fixture.receive(peer.segment(.ack))
        fixture.pass()
        XCTAssertEqual(streams.pollEvent(), .sent(connection: connection, length: 700))
        XCTAssertEqual(fixture.context.channelCounters(program.channel).totalErrors, 0)
    }

    func testCopiedSendsReturnTheBufferAtOnce() {
        let fixture = ContextFixture(tcpSendLends: false)
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8091)
        guard let (connection, _) = accept(fixture, &streams, port: 8091) else { return }
        XCTAssertEqual(([1, 2, 3] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(3))
        let mark = fixture.mark
        fixture.pass()
        XCTAssertEqual(fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }.map(\.payload), [[1, 2, 3]])
        XCTAssertEqual(streams.pollEvent(), .sent(connection: connection, length: 3), "copied: back before any ACK")
        XCTAssertEqual(fixture.context.tcpCounters.connections.bytesLent, 0)
    }

    /// A reset while bytes are lent: the connection forgets them and the buffer comes back
    /// to the program with the error.
    func testAResetReturnsLentBuffersWithAnError() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        fixture.learnPeer()
        var (program, streams) = listening(fixture, port: 8092)
        guard let (connection, peer) = accept(fixture, &streams, port: 8092) else { return }
        XCTAssertEqual(([9, 9] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(2))
        fixture.pass()
        fixture.receive(peer.segment(.rst))
        fixture.pass()
        var events: [StreamEvent] = []
        while let event = streams.pollEvent() { events.append(event) }
        fixture.pass()
        while let event = streams.pollEvent() { events.append(event) }
        XCTAssertTrue(events.contains(.closed(connection: connection, error: .refused(.connectionReset))), "\(events)")
        XCTAssertEqual(streams.sendErrors, 1, "the lent buffer came back with the reset")
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .connectionReset], 1)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 0)
    }
}

extension TCPServerTests {
    /// By default a connection lends only once 16 KiB are in flight: a short answer is copied
    /// (its buffer back at once, before any ACK), a stream's later buffers are lent.
    func testShortAnswersAreCopiedAndStreamsLend() {
        let fixture = ContextFixture(tcp: TCPConnectionConfiguration(initialSendBufferCapacity: 65_536))
        fixture.learnPeer()
        var (_, streams) = listening(fixture, port: 8093)
        guard let (connection, _) = accept(fixture, &streams, port: 8093) else { return }
        XCTAssertEqual(([1, 2, 3] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(3))
        fixture.pass()
        XCTAssertEqual(streams.pollEvent(), .sent(connection: connection, length: 3), "copied: back before any ACK")
        XCTAssertEqual(fixture.context.tcpCounters.connections.bytesLent, 0)
        // 16 KiB copied (each buffer back at once), unacknowledged; then the stream's next buffers lend.
        let chunk = [UInt8](repeating: 7, count: 4 * 2048)
        for _ in 0..<2 {
            XCTAssertEqual(chunk.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(chunk.count))
            fixture.pass()
            while streams.pollEvent() != nil {}
        }
        XCTAssertEqual(fixture.context.tcpCounters.connections.bytesLent, 0)
        XCTAssertEqual(chunk.prefix(4096).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(4096))
        fixture.pass()
        XCTAssertEqual(fixture.context.tcpCounters.connections.bytesLent, 4096, "past 16 KiB in flight, buffers are lent")
    }
}
