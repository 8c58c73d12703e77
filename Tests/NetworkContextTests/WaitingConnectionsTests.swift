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

    /// Each peer (of `indices`, all by default) sends a request naming it, all in one batch of
    /// frames, and one pass runs.
    private func everyPeerSends(_ fixture: ContextFixture, _ peers: inout [PeerConnection], indices: Range<Int>? = nil) {
        for index in indices ?? peers.indices { fixture.queue.feed(peers[index].data(Array("request \(index)".utf8))) }
        fixture.pass()
    }

    /// A program listening on `port` with `count` peers connected and accepted; nil (after
    /// failing the test) when one could not connect.
    private func acceptedPeers(_ count: Int, file: StaticString = #filePath, line: UInt = #line)
        -> (fixture: ContextFixture, streams: StreamEndpoint, peers: [PeerConnection])? {
        let fixture = ContextFixture(tcpCapacity: 64)
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: port)
        let peers = connect(fixture, &streams, count: count, accepting: true, file: file, line: line)
        guard peers.count == count else { return nil }
        return (fixture, streams, peers)
    }

    /// Twelve requests more than the program has buffers posted: after the pass that finds no
    /// buffer for them they wait, and passes without new buffers visit none of them; as the
    /// program gives buffers back they arrive, all of them, in the order they came.
    func testRequestsWaitingForBuffersAreNotVisitedEachPassAndArriveInOrder() {
        guard var (fixture, streams, peers) = acceptedPeers(20) else { return }
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

    /// Buffers the program gives back go to the requests waiting for them before requests that
    /// arrive in the same pass: the waiting are queued ahead of the pass's news. (Queued behind
    /// it, a waiting request lost its turn to every newcomer while buffers were short, and went
    /// to the back of the line again: at 1,024 HTTP connections the 99th percentile was three
    /// to five times the median.)
    func testWaitingRequestsGetTheBuffersBeforeNewcomers() {
        guard var (fixture, streams, peers) = acceptedPeers(24) else { return }
        everyPeerSends(fixture, &peers, indices: 0..<20)   // 8 go into the posted buffers, 12 wait
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 12)
        var arrived: [String] = []
        var held: [ReceivedBuffer] = []
        while case .received(_, let data)? = streams.pollEvent() {
            arrived.append(String(decoding: data.bytes, as: UTF8.self))
            held.append(data)
        }
        XCTAssertEqual(held.count, 8)
        streams.release(held.removeFirst())   // the library posts 8 again (its target)
        // In the pass that takes those 8, four newcomers' requests arrive.
        everyPeerSends(fixture, &peers, indices: 20..<24)
        while arrived.count < 16, case .received(_, let data)? = streams.pollEvent() {
            arrived.append(String(decoding: data.bytes, as: UTF8.self))   // held: nothing more is posted
        }
        XCTAssertEqual(arrived, (0..<16).map { "request \($0)" }, "the 8 posted buffers went to the first 8 waiting")
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 8, "4 waiting before, and the 4 newcomers behind them")
    }

    /// Bytes that arrive for a connection while others wait for its channel's room are not put
    /// straight into a posted buffer by the receive path (its direct delivery): they wait behind
    /// those, even when a completion slot and a buffer are free at that moment.
    func testDirectDeliveryDoesNotPassTheWaiting() {
        guard var (fixture, streams, peers) = acceptedPeers(12) else { return }
        // 31 more connections, not read: their announcements leave one completion slot.
        var quiet: [PeerConnection] = []
        for index in 0..<(Int(ContextFixture.layout.completionCapacity) - 1) {
            guard let peer = fixture.peerConnects(to: port, from: 43000 + UInt16(index)) else { return }
            quiet.append(peer)
        }
        everyPeerSends(fixture, &peers)   // one request takes the slot, 11 wait for room
        XCTAssertEqual(fixture.context.tcpConnectionsWaitingForPrograms, 11)
        // The program reads one announcement: a slot is free, 7 buffers are posted. Then one of
        // the quiet connections sends.
        guard case .accepted? = streams.pollEvent() else { return XCTFail("expected an announcement") }
        fixture.receive(quiet[0].data(Array("newcomer".utf8)))
        var requests: [String] = []
        for _ in 0..<20 {
            while let event = streams.pollEvent() {
                if case .received(_, let data) = event {
                    requests.append(String(decoding: data.bytes, as: UTF8.self))
                    streams.release(data)
                }
            }
            fixture.pass()
        }
        XCTAssertEqual(requests, (0..<12).map { "request \($0)" } + ["newcomer"], "the waiting requests first, then the newcomer's")
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
