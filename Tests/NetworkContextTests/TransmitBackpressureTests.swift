/// A full transmit ring is backpressure for TCP: refused data, FINs and ACKs wait for the next pass instead of waiting out an RTO.

import Channels
import Network
import NetworkContext
import SwigletLibrary
import TCP
import XCTest

final class TransmitBackpressureTests: XCTestCase {
    /// A program on CPU 2 listening on 8080 with `peers` accepted connections (peer ports
    /// 40000, 40001, ...).
    private func serving(_ fixture: ContextFixture, peers count: Int, file: StaticString = #filePath,
                         line: UInt = #line) -> (StreamEndpoint, [(UInt16, PeerConnection)])? {
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: 8080, file: file, line: line)
        var accepted: [(UInt16, PeerConnection)] = []
        for number in 0..<count {
            guard let peer = fixture.peerConnects(to: 8080, from: 40000 + UInt16(number), file: file, line: line),
                  case .accepted(let connection, _, _)? = streams.pollEvent() else {
                XCTFail("connection \(number) was not accepted", file: file, line: line)
                return nil
            }
            accepted.append((connection, peer))
        }
        return (streams, accepted)
    }

    /// The data segments sent since `mark`, by the peer port they went to.
    private func answers(_ fixture: ContextFixture, since mark: Int) -> [(port: UInt16, segment: SentSegment)] {
        fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }.map { ($0.destinationPort, $0) }
    }

    func testDataRefusedByAFullRingLeavesOnTheNextPassWithoutAnRTO() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        guard var (streams, accepted) = serving(fixture, peers: 1) else { return }
        let (connection, peer) = accepted.removeFirst()
        let answer = Array("refused once, then sent".utf8)
        fixture.queue.transmitFull = true
        XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(answer.count))
        var mark = fixture.mark
        fixture.pass()
        XCTAssertEqual(fixture.mark, mark, "nothing left")
        XCTAssertGreaterThan(fixture.queue.refusals, 0)
        XCTAssertEqual(fixture.context.tcpCounters.transmitRefusals, UInt64(fixture.queue.refusals),
                       "the table counts each refusal")
        XCTAssertEqual(fixture.context.networkCounters[drop: .transmitRingFull], 0, "a refusal TCP retries is not a drop")

        fixture.queue.transmitFull = false
        mark = fixture.mark
        fixture.pass()   // the clock has not moved: no timer can be what sends it
        let sent = answers(fixture, since: mark)
        XCTAssertEqual(sent.map(\.segment.payload), [answer])
        XCTAssertEqual(sent.first?.segment.sequence, peer.receiveNext, "the bytes a refusal kept, at SND.NXT")
        XCTAssertEqual(sent.first?.segment.acknowledgment, peer.sendNext)
        XCTAssertEqual(fixture.context.tcpCounters.connections.timeoutRetransmissions, 0)
        XCTAssertEqual(fixture.context.tcpCounters.connections.segmentsSent, 1, "the data, once")
    }

    func testAnOwedAcknowledgmentWaitsForRoom() {
        let fixture = ContextFixture()
        guard var (_, accepted) = serving(fixture, peers: 1) else { return }
        var (_, peer) = accepted.removeFirst()
        fixture.queue.transmitFull = true
        // Two segments: the second is acknowledged at once (RFC 9293 §3.8.6.3), not delayed.
        fixture.receive(peer.data(Array(repeating: 0x61, count: 500)))
        fixture.receive(peer.data(Array(repeating: 0x62, count: 500)))
        XCTAssertGreaterThan(fixture.queue.refusals, 0, "the ACK found the ring full")
        fixture.queue.transmitFull = false
        let mark = fixture.mark
        fixture.pass()
        let acknowledgments = fixture.sentSegments(since: mark).filter { $0.flags.contains(.ack) }
        XCTAssertEqual(acknowledgments.map(\.acknowledgment), [peer.sendNext], "the owed ACK, on the next pass")
    }

    func testAFinRefusedByAFullRingLeavesOnTheNextPass() {
        let fixture = ContextFixture()
        guard var (streams, accepted) = serving(fixture, peers: 1) else { return }
        let (connection, peer) = accepted.removeFirst()
        fixture.queue.transmitFull = true
        XCTAssertNil(streams.close(connection: connection).failure)
        fixture.pass()
        XCTAssertGreaterThan(fixture.queue.refusals, 0)
        fixture.queue.transmitFull = false
        let mark = fixture.mark
        fixture.pass()
        let finishes = fixture.sentSegments(since: mark).filter { $0.flags.contains(.fin) }
        XCTAssertEqual(finishes.map(\.sequence), [peer.receiveNext], "one FIN, at SND.NXT")
        XCTAssertEqual(fixture.context.tcpConnectionCounts().finishWait1, 1)
    }

    /// RFC 5681 §3.2's fast retransmission refused by a full ring is owed, not lost: the segment
    /// at SND.UNA leaves first on the next pass (new data from SND.NXT would not fill the hole)
    /// and is counted only then.
    func testARefusedFastRetransmissionLeavesOnTheNextPass() {
        let fixture = ContextFixture()
        guard var (streams, accepted) = serving(fixture, peers: 1) else { return }
        let (connection, peer) = accepted.removeFirst()
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(data.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(data.count))
        var mark = fixture.mark
        fixture.pass()
        let first = answers(fixture, since: mark).map(\.segment)
        XCTAssertGreaterThan(first.count, 3, "several segments in flight")
        // The first segment is lost: three duplicate ACKs of SND.UNA, the third into a full ring.
        fixture.receive(peer.segment(.ack))
        fixture.receive(peer.segment(.ack))
        fixture.queue.transmitFull = true
        fixture.receive(peer.segment(.ack))
        XCTAssertGreaterThan(fixture.queue.refusals, 0, "the fast retransmission found the ring full")
        XCTAssertEqual(fixture.context.tcpCounters.connections.fastRetransmissions, 0, "not counted: not sent")
        fixture.queue.transmitFull = false
        mark = fixture.mark
        fixture.pass()
        let resent = answers(fixture, since: mark).map(\.segment)
        XCTAssertEqual(resent.first?.sequence, peer.receiveNext, "the hole first")
        XCTAssertEqual(resent.first?.payload, first.first?.payload)
        XCTAssertEqual(fixture.context.tcpCounters.connections.fastRetransmissions, 1)
        XCTAssertEqual(fixture.context.tcpCounters.connections.timeoutRetransmissions, 0)
    }

    /// Four connections answer at once into a ring with room for two a pass: every answer
    /// leaves exactly once, in turn, and none waits for a retransmission timer.
    func testConnectionsTakeTurnsWhenTheRingIsShort() {
        let fixture = ContextFixture(tcpLendingThreshold: 0)
        guard case (var streams, let accepted)? = serving(fixture, peers: 4) else { return }
        for (index, (connection, _)) in accepted.enumerated() {
            let answer = Array("answer \(index)".utf8)
            XCTAssertEqual(answer.withUnsafeBytes { streams.send(connection: connection, bytes: $0) }, .success(answer.count))
        }
        var order: [UInt16] = []
        for _ in 0..<4 {
            fixture.queue.transmitRoom = 2
            let mark = fixture.mark
            fixture.pass()
            order += answers(fixture, since: mark).map(\.port)
        }
        fixture.queue.transmitRoom = nil
        // Pass 1 sends 40000 and 40001 and is refused at 40002, which goes to the back; 40003
        // keeps its place: pass 2 sends 40003, then 40002.
        XCTAssertEqual(order, [40000, 40001, 40003, 40002])
        let sent = accepted.map { $0.1.peerPort }
        XCTAssertEqual(Set(order), Set(sent), "every connection answered")
        XCTAssertEqual(fixture.context.tcpCounters.connections.timeoutRetransmissions, 0)
        XCTAssertEqual(fixture.context.networkCounters[drop: .transmitRingFull], 0)
    }
}
