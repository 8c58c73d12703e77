/// The context's TCP client path: a program connects; the peer accepts, refuses, or never answers (the SYN is retransmitted).

import Channels
import NetworkContext
import SwigletLibrary
import TCP
import XCTest

final class TCPClientTests: XCTestCase {
    private let server = SocketAddress(10, 0, 2, 2, port: 9000)

    /// A program on CPU 4 that asked to connect to `server`; returns its cookie and our SYN.
    private func connecting(_ fixture: ContextFixture, file: StaticString = #filePath,
                            line: UInt = #line) -> (ProgramChannel, StreamEndpoint, UInt64, SentSegment)? {
        let program = fixture.addProgram(cpu: 4)
        var streams = program.makeStreams()
        guard case .success(let cookie) = streams.connect(to: server) else {
            XCTFail("connect", file: file, line: line)
            return nil
        }
        let mark = fixture.mark
        fixture.pass()
        let segments = fixture.sentSegments(since: mark, file: file, line: line)
        guard segments.count == 1, let syn = segments.first, syn.flags.rawValue == TCPFlags.syn.rawValue else {
            XCTFail("expected one SYN, got \(segments.map(\.flags))", file: file, line: line)
            return nil
        }
        XCTAssertEqual(syn.destinationPort, 9000, file: file, line: line)
        XCTAssertGreaterThanOrEqual(syn.sourcePort, TCPConnectionTable.firstEphemeralPort, file: file, line: line)
        XCTAssertEqual(fixture.context.tcpCounters.activeOpens, 1, file: file, line: line)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().synchronizeSent, 1, file: file, line: line)
        return (program, streams, cookie, syn)
    }

    func testConnectSendsSynAndSynAckConnects() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard let (program, opened, cookie, syn) = connecting(fixture) else { return }
        var streams = opened
        XCTAssertNil(streams.pollEvent(), "nothing before the handshake")
        var peer = PeerConnection(peerPort: 9000, localPort: syn.sourcePort, sendNext: 0x5000_0000,
                                  receiveNext: syn.sequence &+ 1)
        let mark = fixture.mark
        fixture.receive(tcpFrame(from: 9000, to: syn.sourcePort, sequence: peer.sendNext, acknowledgment: peer.receiveNext,
                                 flags: [.syn, .ack], options: maximumSegmentSizeOption))
        peer.sendNext &+= 1
        let acks = fixture.sentSegments(since: mark)
        XCTAssertEqual(acks.count, 1)
        XCTAssertEqual(acks.first?.flags.rawValue, TCPFlags.ack.rawValue)
        XCTAssertEqual(acks.first?.acknowledgment, peer.sendNext)
        guard case .connected(let connection, cookie)? = streams.pollEvent() else { return XCTFail("not connected") }
        XCTAssertEqual(fixture.context.tcpConnectionCounts().established, 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel).connectionsOpened, 1)
        XCTAssertTrue(fixture.record.doorbells.contains(4))

        // The connection works: program → peer.
        XCTAssertEqual(([9, 8, 7] as [UInt8]).withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(3))
        let before = fixture.mark
        fixture.pass()
        XCTAssertEqual(fixture.sentSegments(since: before).map(\.payload), [[9, 8, 7]])
    }

    func testRefusedConnectFailsWithConnectionRefused() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard let (program, opened, cookie, syn) = connecting(fixture) else { return }
        var streams = opened
        fixture.receive(tcpFrame(from: 9000, to: syn.sourcePort, sequence: 0, acknowledgment: syn.sequence &+ 1,
                                 flags: [.rst, .ack]))
        XCTAssertEqual(streams.pollEvent(), .connectFailed(cookie: cookie, error: .refused(.connectionRefused)))
        XCTAssertEqual(fixture.context.tcpCounters.resetsReceived, 1)
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .connectionRefused], 1)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().synchronizeSent, 0)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().closed, 0, "the slot was freed")
    }

    func testUnansweredSynIsRetransmittedAfterTheRetransmissionTimeout() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard let (_, _, _, syn) = connecting(fixture) else { return }
        // RFC 6298 §2.1: the initial RTO is one second. Half of it: nothing.
        var mark = fixture.mark
        for _ in 0..<250 {
            fixture.advance(by: 2_000_000)
            fixture.pass()
        }
        XCTAssertEqual(fixture.sentSegments(since: mark), [], "no retransmission before the RTO")
        // Past it: the same SYN again, once.
        mark = fixture.mark
        for _ in 0..<300 {
            fixture.advance(by: 2_000_000)
            fixture.pass()
        }
        let again = fixture.sentSegments(since: mark)
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(again.first?.flags.rawValue, TCPFlags.syn.rawValue)
        XCTAssertEqual(again.first?.sequence, syn.sequence)
        XCTAssertEqual(again.first?.sourcePort, syn.sourcePort)
        XCTAssertEqual(fixture.context.tcpCounters.connections.timeoutRetransmissions, 1)
    }

    func testConnectWithoutARouteIsRefused() {
        let fixture = ContextFixture()
        let program = fixture.addProgram(cpu: 1)
        var streams = program.makeStreams()
        guard case .success(let cookie) = streams.connect(to: SocketAddress(address: .any, port: 80)) else {
            return XCTFail("connect")
        }
        fixture.pass()
        XCTAssertEqual(streams.pollEvent(), .connectFailed(cookie: cookie, error: .refused(.noRoute)))
        XCTAssertEqual(fixture.context.tcpCounters.activeOpens, 0)
    }
}

extension TCPClientTests {
    func testConnectThatNeverGetsAnAnswerTimesOut() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard let (program, opened, cookie, _) = connecting(fixture) else { return }
        var streams = opened
        var event: StreamEvent?
        var elapsed: UInt64 = 0
        // Every RTO doubles up to 60 s (RFC 6298 §5.5); give it half an hour of fake time.
        while event == nil && elapsed < 1800 * 1_000_000_000 {
            fixture.advance(by: 100_000_000)
            elapsed += 100_000_000
            fixture.pass()
            event = streams.pollEvent()
        }
        XCTAssertEqual(event, .connectFailed(cookie: cookie, error: .refused(.timedOut)))
        XCTAssertEqual(fixture.context.tcpCounters.connections.timeoutRetransmissions,
                       UInt64(TCPConnectionConfiguration().maximumRetransmissions))
        XCTAssertEqual(fixture.context.channelCounters(program.channel)[error: .timedOut], 1)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().synchronizeSent, 0)
        XCTAssertEqual(fixture.context.tcpConnectionCounts().closed, 0, "the slot was freed")
    }
}

extension TCPClientTests {
    /// Our own address has no route (the stack refuses to send to itself): the connect should
    /// fail with noRoute, as a connect to 0.0.0.0 does, not wait out the SYN retransmissions.
    func testConnectToOurOwnAddressFailsWithNoRoute() throws {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let program = fixture.addProgram(cpu: 1)
        var streams = program.makeStreams()
        guard case .success(let cookie) = streams.connect(to: SocketAddress(10, 0, 2, 15, port: 80)) else {
            return XCTFail("connect")
        }
        let mark = fixture.mark
        for _ in 0..<3 { fixture.pass() }
        XCTAssertEqual(fixture.mark, mark, "nothing can be sent to ourselves")
        XCTAssertEqual(fixture.context.tcpConnectionCounts().synchronizeSent, 0, "no connection was opened")
        XCTAssertEqual(streams.pollEvent(), .connectFailed(cookie: cookie, error: .refused(.noRoute)))
    }
}
