/// Two contexts of one NIC: frames for a port or connection the other context serves are handed there whole; ARP is shared; outgoing connections pick ports of their own context.

import Channels
import Network
import NetworkContext
import SwigletLibrary
import TCP
import XCTest

final class HandOffTests: XCTestCase {
    /// Contexts 0 and 1 over one mesh, each with its own fake queue pair; both know the peer.
    private func twoContexts(receiveSideScaling: ReceiveSideScaling? = nil) -> (ContextFixture, ContextFixture) {
        let mesh = ContextMesh(contextCount: 2, receiveSideScaling: receiveSideScaling)
        let first = ContextFixture(index: 0, mesh: mesh)
        let second = ContextFixture(index: 1, mesh: mesh)
        // The peer's ARP reply reaches the first context, which shares it with the second.
        first.learnPeer()
        second.pass()
        XCTAssertEqual(second.context.networkCounters.arp.framesIn, 1)
        return (first, second)
    }

    func testDatagramForAPortBoundInTheOtherContextIsHandedThereAndReachesTheProgram() {
        let (first, second) = twoContexts()
        var (_, socket) = second.boundSocket(port: 5000)

        let mark = first.mark
        first.receive(udpFrame(from: 40001, to: 5000, payload: Array("across".utf8)))
        XCTAssertEqual(first.sent(since: mark).count, 0, "no ICMP unreachable: the port is served, elsewhere")
        XCTAssertEqual(first.context.handOffCounters.handedOut, 1)
        XCTAssertEqual(first.context.networkCounters.udp.framesIn, 0, "the first context's stack never saw it")

        second.pass()
        XCTAssertEqual(second.context.handOffCounters.handedIn, 2, "the shared ARP reply, then the datagram")
        var bytes = [UInt8](repeating: 0, count: 2048)
        guard case .success(let datagram) = bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) else {
            return XCTFail("the datagram did not reach the program")
        }
        XCTAssertEqual(Array(bytes[0..<datagram.length]), Array("across".utf8))
        XCTAssertEqual(datagram.source, SocketAddress(10, 0, 2, 2, port: 40001))
        XCTAssertTrue(second.record.doorbells.contains(3))
    }

    func testAPortBoundInBothContextsIsServedWhereItArrives() {
        let (first, second) = twoContexts()
        for fixture in [first, second] { _ = fixture.boundSocket(port: 6000, cpu: 2) }
        first.receive(udpFrame(from: 40001, to: 6000, payload: [1]))
        second.receive(udpFrame(from: 40002, to: 6000, payload: [2]))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 0)
        XCTAssertEqual(second.context.handOffCounters.handedOut, 0)
        XCTAssertEqual(first.context.channelCounters(first.programs[0].channel).received, 1)
        XCTAssertEqual(second.context.channelCounters(second.programs[0].channel).received, 1)
    }

    func testADatagramNobodyServesIsAnsweredWhereItArrives() {
        let (first, _) = twoContexts()
        let mark = first.mark
        first.receive(udpFrame(from: 40001, to: 5999, payload: [0]))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 0)
        XCTAssertEqual(first.sent(since: mark).map(\.ipProtocol), [1], "ICMP port unreachable, from here")
    }

    func testATCPConnectionToAListenerInTheOtherContextLivesThereWhole() {
        let (first, second) = twoContexts()
        let program = second.addProgram(cpu: 2)
        var streams = program.makeStreams()
        var wait = second.waitByPassing()
        XCTAssertNil(streams.listen(port: 8080, waitingWith: &wait).failure)
        second.pass()

        // The SYN lands on the first context's queue (as RSS might put it): handed over.
        first.receive(tcpFrame(from: 40000, to: 8080, sequence: 0x1000_0000, flags: .syn, options: maximumSegmentSizeOption))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 1)
        let mark = second.mark
        second.pass()
        let answers = second.sentSegments(since: mark)
        guard answers.count == 1, let synAck = answers.first, synAck.flags.contains([.syn, .ack]) else {
            return XCTFail("the listener's context answers the SYN: \(answers.map(\.flags))")
        }
        var peer = PeerConnection(peerPort: 40000, localPort: 8080, sendNext: 0x1000_0001, receiveNext: synAck.sequence &+ 1)
        // Every later segment of the flow also lands on the first context, and follows.
        first.receive(peer.segment(.ack))
        first.receive(peer.data(Array("hello".utf8)))
        second.pass()
        guard case .accepted(let connection, _, _)? = streams.pollEvent() else { return XCTFail("not accepted") }
        guard case .received(connection, let data)? = streams.pollEvent() else { return XCTFail("no bytes") }
        XCTAssertEqual(Array(data.bytes), Array("hello".utf8))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 3)
        XCTAssertEqual(first.context.tcpConnectionCounts().established, 0, "the first context holds no connection")
        XCTAssertEqual(second.context.tcpConnectionCounts().established, 1)
        XCTAssertEqual(first.context.tcpCounters.resetsSent, 0)
    }

    func testASegmentForNoListenerAnywhereGetsARSTWhereItArrives() {
        let (first, second) = twoContexts()
        let mark = first.mark
        first.receive(tcpFrame(from: 40000, to: 81, sequence: 1, flags: .syn))
        XCTAssertEqual(first.sentSegments(since: mark).map(\.flags.rawValue), [TCPFlags([.rst, .ack]).rawValue])
        XCTAssertEqual(first.context.handOffCounters.handedOut, 0)
        second.pass()
        XCTAssertEqual(second.context.handOffCounters.handedIn, 1, "only the ARP reply shared at the start")
    }

    func testARPIsSharedWithEveryContext() {
        let mesh = ContextMesh(contextCount: 2)
        let first = ContextFixture(index: 0, mesh: mesh)
        let second = ContextFixture(index: 1, mesh: mesh)
        first.receive(arpReplyFrame())
        XCTAssertEqual(first.context.handOffCounters.arpShared, 1)
        XCTAssertEqual(second.context.networkCounters.arp.framesIn, 0)
        second.pass()
        XCTAssertEqual(second.context.networkCounters.arp.framesIn, 1, "the second context's cache learnt the peer too")
        XCTAssertEqual(second.context.handOffCounters.arpShared, 0, "a shared ARP packet is not shared again")
    }

    /// With RSS, a connection a program opens uses a port of its own context (port mod 2) whose
    /// replies the NIC steers to its own queue.
    func testAnOutgoingConnectionPicksAPortWhoseRepliesComeToItsOwnQueue() throws {
        let scaling = ReceiveSideScaling(table: try XCTUnwrap(IndirectionTable(queueCount: 2)))
        let (_, second) = twoContexts(receiveSideScaling: scaling)
        for connection in 0..<8 {
            let program = second.addProgram(cpu: 2 + connection % 6)
            var streams = program.makeStreams()
            guard case .success = streams.connect(to: SocketAddress(10, 0, 2, 2, port: UInt16(9000 + connection))) else {
                return XCTFail("connect")
            }
            let mark = second.mark
            second.pass()
            guard let syn = second.sentSegments(since: mark).first else { return XCTFail("no SYN") }
            XCTAssertEqual(syn.sourcePort % 2, 1, "a port of context 1")
            XCTAssertEqual(scaling.queue(source: IPv4Address(10, 0, 2, 2), destination: IPv4Address(10, 0, 2, 15),
                                         sourcePort: syn.destinationPort, destinationPort: syn.sourcePort), 1,
                           "replies hash to queue 1")
            if connection == 5 { break }   // six programs fit the default channel limit with the others
        }
    }

    /// Without RSS (automatic steering) a reply can land anywhere; the port names its context.
    func testAReplyToAnOutgoingConnectionThatLandsElsewhereIsHandedBack() {
        let (first, second) = twoContexts()
        let program = second.addProgram(cpu: 4)
        var streams = program.makeStreams()
        guard case .success(let cookie) = streams.connect(to: SocketAddress(10, 0, 2, 2, port: 9000)) else {
            return XCTFail("connect")
        }
        let mark = second.mark
        second.pass()
        guard let syn = second.sentSegments(since: mark).first else { return XCTFail("no SYN") }
        XCTAssertEqual(syn.sourcePort % 2, 1)
        first.receive(tcpFrame(from: 9000, to: syn.sourcePort, sequence: 0x5000_0000, acknowledgment: syn.sequence &+ 1,
                               flags: [.syn, .ack], options: maximumSegmentSizeOption))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 1)
        second.pass()
        guard case .connected(_, cookie)? = streams.pollEvent() else { return XCTFail("not connected") }
        XCTAssertEqual(first.context.tcpCounters.resetsSent, 0)
    }

    func testAFullRingDropsAndCountsInsteadOfBlocking() {
        let (first, second) = twoContexts()
        _ = second.boundSocket(port: 5000)
        // More than a ring holds, while the second context does not run.
        let total = FrameHandOffRing.slotCount + 10
        for round in 0..<2 {
            for _ in 0..<(round == 0 ? NetworkContextLimits.receiveBudget : total - NetworkContextLimits.receiveBudget) {
                first.queue.feed(udpFrame(from: 40001, to: 5000, payload: [7]))
            }
            first.pass()
        }
        XCTAssertEqual(first.context.handOffCounters.handedOut, UInt64(FrameHandOffRing.slotCount))
        XCTAssertEqual(first.context.handOffCounters.dropped, 10)
        second.pass()
        XCTAssertEqual(second.context.handOffCounters.handedIn, 1 + UInt64(NetworkContextLimits.receiveBudget),
                       "the shared ARP reply, then at most a budget from each ring per pass")
    }

    func testAnEndedProgramsPortsLeaveTheDirectory() {
        let (first, second) = twoContexts()
        let (program, _) = second.boundSocket(port: 5000)
        let server = second.addProgram(cpu: 4)
        var streams = server.makeStreams()
        var serverWait = second.waitByPassing()
        XCTAssertNil(streams.listen(port: 8080, waitingWith: &serverWait).failure)
        second.pass()
        second.context.programEnded(channel: program.channel)
        second.context.programEnded(channel: server.channel)
        second.pass()
        let mark = first.mark
        first.receive(udpFrame(from: 40001, to: 5000, payload: [0]),
                      tcpFrame(from: 40000, to: 8080, sequence: 1, flags: .syn))
        XCTAssertEqual(first.context.handOffCounters.handedOut, 0, "nobody serves them any more")
        XCTAssertEqual(first.sent(since: mark).count, 2, "ICMP unreachable and RST, from here")
    }
}

final class FrameFlowTests: XCTestCase {
    func testClassifiesARPUDPTCPAndTheRest() {
        func flow(_ frame: [UInt8]) -> FrameFlow { frame.withUnsafeBytes { FrameFlow(classifying: $0) } }
        XCTAssertEqual(flow(arpReplyFrame()), .arp)
        let peer = UInt32(10) << 24 | 2 << 8 | 2
        XCTAssertEqual(flow(udpFrame(from: 1234, to: 53, payload: [1])), .udp(source: peer, sourcePort: 1234, destinationPort: 53))
        XCTAssertEqual(flow(tcpFrame(from: 4321, to: 80, sequence: 1, flags: .syn)),
                       .tcp(source: peer, sourcePort: 4321, destinationPort: 80))
        XCTAssertEqual(flow([UInt8](repeating: 0, count: 10)), .other, "a runt")
        var fragment = udpFrame(from: 1234, to: 53, payload: [1])
        fragment[20] = 0x20   // more fragments
        XCTAssertEqual(flow(fragment), .other)
        var truncated = tcpFrame(from: 4321, to: 80, sequence: 1, flags: .syn)
        truncated.removeLast(truncated.count - 36)
        XCTAssertEqual(flow(truncated), .other, "the ports are not in the frame")
    }

    func testPickIsStablePerFlowAndNeverTheAskingContext() {
        XCTAssertNil(PortDirectory.pick(from: 0b0000_0001, excluding: 0, flow: 7))
        XCTAssertEqual(PortDirectory.pick(from: 0b0000_0011, excluding: 0, flow: 7), 1)
        var seen = Set<Int>()
        for flow in UInt16(0)..<16 {
            let picked = PortDirectory.pick(from: 0b0001_0110, excluding: 1, flow: flow)
            XCTAssertEqual(picked, PortDirectory.pick(from: 0b0001_0110, excluding: 1, flow: flow))
            seen.insert(picked ?? -1)
        }
        XCTAssertEqual(seen, [2, 4], "spread over the owners, never the asking context")
    }

    func testRingKeepsOrderAndRefusesWhenFull() {
        let ring = FrameHandOffRing()
        for value in 0..<FrameHandOffRing.slotCount {
            XCTAssertTrue([UInt8(value), 9].withUnsafeBytes { ring.push($0) })
        }
        XCTAssertFalse([0].withUnsafeBytes { ring.push($0) })
        for value in 0..<FrameHandOffRing.slotCount {
            XCTAssertTrue(ring.pop { frame, _ in XCTAssertEqual(Array(frame), [UInt8(value), 9]) })
        }
        XCTAssertFalse(ring.pop { _, _ in XCTFail("empty") })
        let tooLarge = [UInt8](repeating: 0, count: FrameHandOffRing.maximumFrameBytes + 1)
        XCTAssertFalse(tooLarge.withUnsafeBytes { ring.push($0) })
    }
}
