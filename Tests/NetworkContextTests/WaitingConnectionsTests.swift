/// Connections whose events wait for room in their program's channel are not visited pass after pass: they wait in line and come back as the room does, in order.

import Channels
import NetworkContext
import SwigletLibrary
import TCP
import XCTest

final class WaitingConnectionsTests: XCTestCase {
    private let port: UInt16 = 8090

    /// `count` peers connect (from ports 41000 on); the program takes each `accepted` at once
    /// when `accepting`. Returns the peers, in the order they connected.
    private func connect(_ fixture: ContextFixture, _ streams: inout StreamEndpoint, count: Int,
                         accepting: Bool, file: StaticString = #filePath, line: UInt = #line) -> [PeerConnection] {
        var peers: [PeerConnection] = []
        for index in 0..<count {
            guard let peer = fixture.peerConnects(to: port, from: 41000 + UInt16(index), file: file, line: line) else { return peers }
            peers.append(peer)
            if accepting {
                guard case .accepted? = streams.pollEvent() else {
                    XCTFail("no accepted event for peer \(index)", file: file, line: line)
                    return peers
                }
            }
        }
        return peers
    }

    /// Ten passes with nothing new for the waiting connections visit none of them; returns the
    /// visits so far.
    private func passesVisitNothing(_ fixture: ContextFixture, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) -> UInt64 {
        let visits = fixture.context.tcpNoticeVisits
        for _ in 0..<10 { fixture.pass() }
        XCTAssertEqual(fixture.context.tcpNoticeVisits, visits, message, file: file, line: line)
        return visits
    }

    /// Each peer sends a request naming it, all in one batch of frames, and one pass runs.
    private func everyPeerSends(_ fixture: ContextFixture, _ peers: inout [PeerConnection]) {
        for index in peers.indices { fixture.queue.feed(peers[index].data(Array("request \(index)".utf8))) }
        fixture.pass()
    }

    /// Twelve requests more than the program has buffers posted: after the pass that finds no
    /// buffer for them they wait, and passes without new buffers visit none of them; as the
    /// program gives buffers back they arrive, all of them, in the order they came.
    func testRequestsWaitingForBuffersAreNotVisitedEachPassAndArriveInOrder() {
        let fixture = ContextFixture(tcpCapacity: 64)
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: port)
        var peers = connect(fixture, &streams, count: 20, accepting: true)
        guard peers.count == 20 else { return }
        everyPeerSends(fixture, &peers)
        // The library keeps 8 buffers posted: 8 requests went straight into them.
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 12)

        let visits = passesVisitNothing(fixture, "no buffer was posted: nothing to visit")

        var arrived: [String] = []
        for _ in 0..<10 where arrived.count < peers.count {
            while case .received(_, let data)? = streams.pollEvent() {
                arrived.append(String(decoding: data.bytes, as: UTF8.self))
                streams.release(data)   // posted again
            }
            fixture.pass()
        }
        XCTAssertEqual(arrived, peers.indices.map { "request \($0)" }, "every request, in the order it came")
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 0)
        XCTAssertLessThanOrEqual(fixture.context.tcpNoticeVisits - visits, 12,
                                 "each waiting request visited once, when a buffer was there for it")
    }

    /// A completion ring the program does not empty: the connections it cannot announce wait,
    /// unvisited, and are announced once it reads.
    func testConnectionsWaitingForRingRoomAreAnnouncedOnceItComes() {
        let fixture = ContextFixture(tcpCapacity: 64)
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: port)
        let capacity = Int(ContextFixture.layout.completionCapacity)
        let peers = connect(fixture, &streams, count: capacity + 6, accepting: false)
        guard peers.count == capacity + 6 else { return }
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 6)
        let visits = passesVisitNothing(fixture, "the ring stayed full: nothing to visit")

        var accepted: [UInt16] = []
        for _ in 0..<4 where accepted.count < peers.count {
            while case .accepted(_, let remote, _)? = streams.pollEvent() { accepted.append(remote.port) }
            fixture.pass()
        }
        XCTAssertEqual(accepted, peers.map(\.peerPort), "every connection, in the order it came")
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 0)
        XCTAssertEqual(fixture.context.tcpNoticeVisits - visits, 6)
    }

    /// A program that closes a connection whose bytes wait takes it out of the line (a number
    /// left in a line would carry a later connection's events to the old one's place).
    func testClosingAWaitingConnectionTakesItOutOfLine() {
        let fixture = ContextFixture(tcpCapacity: 64)
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: port)
        var connections: [UInt16] = []
        var peers: [PeerConnection] = []
        for index in 0..<10 {
            guard let peer = fixture.peerConnects(to: port, from: 42000 + UInt16(index)),
                  case .accepted(let connection, _, _)? = streams.pollEvent() else { return XCTFail("peer \(index)") }
            peers.append(peer)
            connections.append(connection)
        }
        everyPeerSends(fixture, &peers)
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 2)
        XCTAssertNil(streams.close(connection: connections[9]).failure)
        fixture.pass()
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 1)
    }
}
