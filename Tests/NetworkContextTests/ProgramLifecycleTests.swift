/// Programs that end or corrupt their channel: ports freed, connections reset, the breaker stopped once, the others still served.

import Channels
import NetworkContext
import SwigletLibrary
import TestSupport
import XCTest

final class ProgramLifecycleTests: XCTestCase {
    func testProgramEndedFreesItsPortAndResetsItsConnections() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        // Program A (CPU 1): a UDP port on one channel, a TCP listener with one connection on another.
        let udpChannel = fixture.addProgram(cpu: 1)
        let tcpChannel = fixture.addProgram(cpu: 1)
        let other = fixture.addProgram(cpu: 5)
        var socket = udpChannel.makeUDPSocket()
        var streams = tcpChannel.makeStreams()
        var wait = fixture.waitByPassing()
        XCTAssertNil(socket.bind(port: 6000, waitingWith: &wait).failure)
        XCTAssertNil(streams.listen(port: 8090, waitingWith: &wait).failure)
        fixture.pass()
        guard let peer = fixture.peerConnects(to: 8090) else { return }
        guard case .accepted? = streams.pollEvent() else { return XCTFail("not accepted") }
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 1)

        fixture.context.programEnded(channel: udpChannel.channel)
        fixture.context.programEnded(channel: tcpChannel.channel)
        XCTAssertTrue(fixture.context.isServing(channel: tcpChannel.channel), "nothing happens before the next pass")
        let mark = fixture.mark
        fixture.pass()
        XCTAssertFalse(fixture.context.isServing(channel: udpChannel.channel))
        XCTAssertFalse(fixture.context.isServing(channel: tcpChannel.channel))
        XCTAssertTrue(fixture.context.isServing(channel: other.channel))
        XCTAssertEqual(fixture.record.stoppedPrograms, [], "an ended program is not stopped")

        // Its connection was reset (RFC 9293 §3.10.5 ABORT), in sequence.
        let resets = fixture.sentSegments(since: mark).filter { $0.flags.contains(.rst) }
        XCTAssertEqual(resets.count, 1)
        XCTAssertEqual(resets.first?.sequence, peer.receiveNext)
        XCTAssertEqual(resets.first?.destinationPort, peer.peerPort)
        XCTAssertEqual(fixture.context.tcpCounters.resetsSent, 1)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 0)

        // Its UDP port is free: a datagram finds nobody, then another program can bind it.
        fixture.receive(udpFrame(from: 40000, to: 6000, payload: [1]))
        XCTAssertEqual(fixture.context.networkCounters[drop: .noListener], 1)
        var newcomer = other.makeUDPSocket()
        var otherWait = fixture.waitByPassing()
        XCTAssertNil(newcomer.bind(port: 6000, waitingWith: &otherWait).failure)
        fixture.pass()
        fixture.receive(udpFrame(from: 40000, to: 6000, payload: [2]))
        XCTAssertEqual(fixture.context.channelCounters(other.channel).received, 1)
        XCTAssertEqual(fixture.context.channelCounters(udpChannel.channel).received, 0)

        // Its listener is gone: a new SYN to 8090 is reset by the table.
        fixture.receive(tcpFrame(from: 40001, to: 8090, sequence: 5, flags: .syn))
        XCTAssertEqual(fixture.context.tcpCounters.drops.noListener, 1)

        // Nothing more goes to the ended program's channel: no doorbell on CPU 1.
        let doorbells = fixture.record.doorbellCount(cpu: 1)
        fixture.receive(peer.segment([.psh, .ack], payload: [1, 2, 3]))
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 1), doorbells)
    }

    func testCorruptedRingStopsThatProgramOnceAndTheOthersAreStillServed() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let breaker = fixture.addProgram(cpu: 6)
        let bystander = fixture.addProgram(cpu: 7)
        var breakerSocket = breaker.makeUDPSocket()
        var wait = fixture.waitByPassing()
        XCTAssertNil(breakerSocket.bind(port: 7000, waitingWith: &wait).failure)
        fixture.pass()

        // The producer index jumps past the ring's capacity: slots that cannot exist.
        breaker.corruptRequestTail(ContextFixture.layout.requestCapacity * 3 + 11)
        fixture.pass()
        XCTAssertEqual(fixture.record.stoppedPrograms, [6])
        XCTAssertFalse(fixture.context.isServing(channel: breaker.channel))
        XCTAssertEqual(fixture.context.channelCounters(breaker.channel).protocolViolations, 1)
        for _ in 0..<3 { fixture.pass() }
        XCTAssertEqual(fixture.record.stoppedPrograms, [6], "stopped once")
        let breakerDoorbells = fixture.record.doorbellCount(cpu: 6)
        // Its port was released.
        fixture.receive(udpFrame(from: 40000, to: 7000, payload: [1]))
        XCTAssertEqual(fixture.context.networkCounters[drop: .noListener], 1)
        XCTAssertEqual(fixture.context.channelCounters(breaker.channel).received, 0)

        // The other program works as before.
        var socket = bystander.makeUDPSocket()
        var otherWait = fixture.waitByPassing()
        XCTAssertNil(socket.bind(port: 7001, waitingWith: &otherWait).failure)
        fixture.pass()
        fixture.receive(udpFrame(from: 40000, to: 7001, payload: Array("still here".utf8)))
        var bytes = [UInt8](repeating: 0, count: 64)
        guard case .success(let received) = bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) else {
            return XCTFail("the bystander got nothing")
        }
        XCTAssertEqual(Array(bytes[0..<received.length]), Array("still here".utf8))
        XCTAssertTrue(fixture.context.isServing(channel: bystander.channel))
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 6), breakerDoorbells, "a stopped program is never woken")
    }

    func testCorruptedRingResetsTheBreakersConnections() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let breaker = fixture.addProgram(cpu: 6)
        var streams = breaker.makeStreams()
        var wait = fixture.waitByPassing()
        XCTAssertNil(streams.listen(port: 8095, waitingWith: &wait).failure)
        fixture.pass()
        guard let peer = fixture.peerConnects(to: 8095) else { return }
        breaker.corruptRequestTail(0xDEAD_BEEF)
        let mark = fixture.mark
        fixture.pass()
        XCTAssertEqual(fixture.record.stoppedPrograms, [6])
        let resets = fixture.sentSegments(since: mark).filter { $0.flags.contains(.rst) }
        XCTAssertEqual(resets.map(\.destinationPort), [peer.peerPort])
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 0)
    }

    func testAddChannelRefusesANinthChannel() {
        let fixture = ContextFixture()
        for cpu in 0..<NetworkContextLimits.maximumChannels { _ = fixture.addProgram(cpu: cpu) }
        let backing = ChannelBacking()
        XCTAssertNil(fixture.context.addChannel(memory: backing.memory, privateMemory: backing.privateMemory.base, cpu: 9))
        XCTAssertEqual(fixture.context.channelCount, NetworkContextLimits.maximumChannels)
    }
}

extension ProgramLifecycleTests {
    /// The program overwrites the completion ring's consumer index (its head) with one past
    /// anything the context produced; the context finds out when the ring looks full.
    func testCorruptedCompletionRingStopsTheProgram() throws {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let layout = ChannelLayout(requestCapacity: 16, completionCapacity: 4, bufferCount: 16, bufferSize: 2048)
        let breaker = fixture.addProgram(cpu: 6, layout: layout)
        var socket = breaker.makeUDPSocket()
        var wait = fixture.waitByPassing()
        XCTAssertNil(socket.bind(port: 7100, waitingWith: &wait).failure)   // the bind's completion is taken
        fixture.pass()
        // Four datagrams fill the completion ring (the program does not read them).
        for index in 0..<4 { fixture.queue.feed(udpFrame(from: 40000, to: 7100, payload: [UInt8(index)])) }
        fixture.pass()
        XCTAssertEqual(fixture.context.channelCounters(breaker.channel).received, 4)
        XCTAssertEqual(fixture.record.stoppedPrograms, [])
        (breaker.shared.base + layout.completionRingOffset + SingleProducerSingleConsumerRing<ChannelCompletion>.headOffset)
            .storeBytes(of: UInt32(1000), as: UInt32.self)
        fixture.receive(udpFrame(from: 40000, to: 7100, payload: [9]))
        fixture.pass()
        XCTAssertEqual(fixture.record.stoppedPrograms, [6])
        XCTAssertFalse(fixture.context.isServing(channel: breaker.channel))
        XCTAssertEqual(fixture.context.channelCounters(breaker.channel).protocolViolations, 1,
                       "a violation found while delivering is counted")
    }
}
