/// The context's own HTTP endpoint: GET /metrics over TCP answered with the host's text, without any program.

import NetworkContext
import TCP
import XCTest

final class MetricsEndpointTests: XCTestCase {
    /// The bytes the peer received in `segments`, checked to follow each other from `start`.
    private func stream(_ segments: [SentSegment], from start: UInt32,
                        file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        var next = start
        var bytes: [UInt8] = []
        for segment in segments where !segment.payload.isEmpty {
            XCTAssertEqual(segment.sequence, next, "segments in order, no gap", file: file, line: line)
            bytes += segment.payload
            next &+= UInt32(segment.payload.count)
        }
        return bytes
    }

    /// Splits an HTTP response into its head (without the blank line) and body.
    private func split(_ response: [UInt8]) -> (head: String, body: [UInt8])? {
        let separator = Array("\r\n\r\n".utf8)
        guard let index = (0...max(0, response.count - separator.count)).first(where: {
            Array(response[$0..<min($0 + separator.count, response.count)]) == separator
        }) else { return nil }
        return (String(decoding: response[0..<index], as: UTF8.self), Array(response[(index + separator.count)...]))
    }

    func testGetMetricsIsAnsweredWithTheHostsTextAndClosed() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let text = "# TYPE swiglet_frames counter\nswiglet_frames{context=\"0\"} 1234\n"
        fixture.record.metricsText = text
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        XCTAssertEqual(fixture.context.tcpCounters.passiveOpens, 1)
        let mark = fixture.mark
        fixture.receive(peer.data(Array("GET /metrics HTTP/1.1\r\nHost: 10.0.2.15\r\nConnection: close\r\n\r\n".utf8)))
        let segments = fixture.sentSegments(since: mark)
        let response = stream(segments, from: peer.receiveNext)
        guard let (head, body) = split(response) else { return XCTFail("no HTTP head in \(response.count) bytes") }
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n"), head)
        XCTAssertTrue(head.contains("Content-Length: \(text.utf8.count)"), head)
        XCTAssertTrue(head.contains("Connection: close"), head)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), text)
        XCTAssertEqual(fixture.record.metricsRenders, 1)
        XCTAssertEqual(fixture.context.metricsServed, 1)
        XCTAssertEqual(fixture.context.metricsRefused, 0)
        // Closed after the answer: a FIN right behind the body, no RST.
        let fin = segments.filter { $0.flags.contains(.fin) }
        XCTAssertEqual(fin.count, 1)
        XCTAssertEqual(fin.first.map { $0.sequence &+ UInt32($0.payload.count) }, peer.receiveNext &+ UInt32(response.count))
        XCTAssertFalse(segments.contains { $0.flags.contains(.rst) })
        XCTAssertEqual(fixture.context.tcpCounters.resetsSent, 0)
        // No program was involved: nobody's doorbell rang.
        XCTAssertEqual(fixture.record.doorbells, [])
        peer.receiveNext &+= UInt32(response.count) &+ 1
        fixture.receive(peer.segment([.fin, .ack]))
        XCTAssertEqual(fixture.context.tcpConnectionCounts().timeWait, 1)
    }

    func testMetricsThatDoNotFitAreA500AndOtherPathsA404() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        // Keep-alive: two requests on one connection.
        var mark = fixture.mark
        fixture.receive(peer.data(Array("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        var response = stream(fixture.sentSegments(since: mark), from: peer.receiveNext)
        XCTAssertTrue(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 404"))
        peer.receiveNext &+= UInt32(response.count)
        fixture.record.metricsText = nil
        mark = fixture.mark
        fixture.receive(peer.data(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        response = stream(fixture.sentSegments(since: mark), from: peer.receiveNext)
        XCTAssertTrue(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 500"))
        XCTAssertEqual(fixture.context.metricsServed, 2)
    }

    func testPeerFinishClosesAnIdleMetricsConnection() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard let peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        let mark = fixture.mark
        fixture.receive(peer.segment([.fin, .ack]))
        let segments = fixture.sentSegments(since: mark)
        XCTAssertTrue(segments.contains { $0.flags.contains(.fin) }, "\(segments.map(\.flags))")
        XCTAssertEqual(fixture.context.tcpConnectionCounts().lastAcknowledgment, 1)
    }

    func testWithoutAMetricsPortNothingListens() {
        let fixture = ContextFixture(metricsPort: nil)
        fixture.learnPeer()
        let mark = fixture.mark
        fixture.receive(tcpFrame(from: 40000, to: ContextFixture.metricsPort, sequence: 1, flags: .syn))
        XCTAssertEqual(fixture.sentSegments(since: mark).map { $0.flags.contains(.rst) }, [true])
        XCTAssertEqual(fixture.context.tcpCounters.drops.noListener, 1)
    }
}

extension MetricsEndpointTests {
    func testRequestSplitOverSegmentsIsAnsweredOnce() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        let mark = fixture.mark
        fixture.receive(peer.data(Array("GET /metr".utf8)))
        XCTAssertEqual(fixture.sentSegments(since: mark).filter { !$0.payload.isEmpty }, [], "half a request: no answer")
        fixture.receive(peer.data(Array("ics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let response = stream(fixture.sentSegments(since: mark), from: peer.receiveNext)
        XCTAssertTrue(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertEqual(fixture.context.metricsServed, 1)
        XCTAssertEqual(fixture.record.metricsRenders, 1)
    }

    func testAFifthSimultaneousConnectionIsRefused() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        var peers: [PeerConnection] = []
        for index in 0..<4 {
            guard let peer = fixture.peerConnects(to: ContextFixture.metricsPort, from: 41000 + UInt16(index)) else { return }
            peers.append(peer)
        }
        XCTAssertEqual(fixture.context.metricsRefused, 0)
        let mark = fixture.mark
        guard let fifth = fixture.peerConnects(to: ContextFixture.metricsPort, from: 41004) else { return }
        XCTAssertEqual(fixture.context.metricsRefused, 1)
        let closing = fixture.sentSegments(since: mark).filter { $0.destinationPort == fifth.peerPort && $0.flags.contains(.fin) }
        XCTAssertEqual(closing.count, 1, "closed at once")
        // The four others are still served.
        var first = peers[0]
        let before = fixture.mark
        fixture.receive(first.data(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let response = stream(fixture.sentSegments(since: before).filter { $0.destinationPort == first.peerPort },
                              from: first.receiveNext)
        XCTAssertTrue(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// A body larger than the connection's send buffer must still reach the peer whole (the
    /// head announces its full length), as the peer acknowledges what it got.
    func testBodyLargerThanTheSendBufferArrivesWhole() throws {
        var tcp = TCPConnectionConfiguration()
        tcp.sendBufferCapacity = 4096
        let fixture = ContextFixture(tcp: tcp)
        fixture.learnPeer()
        let text = String(repeating: "swiglet_metric_line 1234567890\n", count: 400)   // 12,400 bytes
        fixture.record.metricsText = text
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        let start = peer.receiveNext
        let received = fixture.receiveAcknowledging(&peer, after: peer.data(
            Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)))
        XCTAssertEqual(peer.receiveNext &- start, UInt32(received.count))
        guard let (head, body) = split(received) else { return XCTFail("no head") }
        XCTAssertTrue(head.contains("Content-Length: \(text.utf8.count)"), head)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), text)
    }
}

extension MetricsEndpointTests {
    /// Four connections that never send a request hold every session: monitoring must not be
    /// lost for good to whoever opens them (the endpoint is meant to work while programs misbehave).
    func testIdleConnectionsDoNotHoldTheEndpointForever() throws {
        let fixture = ContextFixture()
        fixture.learnPeer()
        for index in 0..<4 {
            guard fixture.peerConnects(to: ContextFixture.metricsPort, from: 42000 + UInt16(index)) != nil else { return }
        }
        // Ten minutes of silence (the peers acknowledge nothing and send nothing).
        for _ in 0..<600 {
            fixture.advance(by: 1_000_000_000)
            fixture.pass()
        }
        fixture.receive(arpReplyFrame())   // the peer's ARP entry expired meanwhile (RFC 1122 §2.3.2.1)
        guard var late = fixture.peerConnects(to: ContextFixture.metricsPort, from: 42010) else { return }
        XCTAssertEqual(fixture.context.metricsRefused, 0, "the idle sessions were closed")
        XCTAssertEqual(fixture.context.metricsExpired, 4)
        let mark = fixture.mark
        fixture.receive(late.data(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let response = stream(fixture.sentSegments(since: mark), from: late.receiveNext)
        XCTAssertTrue(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }
}

extension MetricsEndpointTests {
    /// Two requests in one segment on a keep-alive connection, the first answer larger than the
    /// send buffer: the second request waits for the first answer to go out, then is answered too.
    func testPipelinedRequestWaitsForALargeAnswerAndIsAnswered() throws {
        var tcp = TCPConnectionConfiguration()
        tcp.sendBufferCapacity = 4096
        let fixture = ContextFixture(tcp: tcp)
        fixture.learnPeer()
        let text = String(repeating: "swiglet_metric_line 1234567890\n", count: 300)   // 9,300 bytes
        fixture.record.metricsText = text
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        let request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        let received = fixture.receiveAcknowledging(&peer, after: peer.data(Array((request + request).utf8)))
        let answer = String(decoding: received, as: UTF8.self)
        XCTAssertEqual(answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").count, 3, "two answers")
        XCTAssertEqual(answer.components(separatedBy: text).count, 3, "both bodies whole")
        XCTAssertEqual(fixture.context.metricsServed, 2)
    }
}

extension ContextFixture {
    /// Feeds `segment` from the peer, then plays a peer that acknowledges every in-order byte
    /// we send, a millisecond apart, until our FIN or 50 rounds; returns the bytes in order.
    func receiveAcknowledging(_ peer: inout PeerConnection, after segment: [UInt8]) -> [UInt8] {
        var received: [UInt8] = []
        var mark = self.mark
        receive(segment)
        for _ in 0..<50 {
            let segments = sentSegments(since: mark)
            mark = self.mark
            for segment in segments where !segment.payload.isEmpty && segment.sequence == peer.receiveNext {
                received += segment.payload
                peer.receiveNext &+= UInt32(segment.payload.count)
            }
            if segments.contains(where: { $0.flags.contains(.fin) }) { break }
            advance(by: 1_000_000)
            receive(peer.segment(.ack))
        }
        return received
    }
}

extension MetricsEndpointTests {
    /// `/` is the live meter page: HTML that fetches `/metrics` itself, with no external assets.
    func testRootIsTheLiveMeterPage() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        guard var peer = fixture.peerConnects(to: ContextFixture.metricsPort) else { return }
        let received = fixture.receiveAcknowledging(&peer, after: peer.data(
            Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)))
        let text = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.contains("Content-Type: text/html"), text)
        XCTAssertTrue(text.contains("fetch(\"/metrics\""), "the page reads the metrics itself")
        XCTAssertFalse(text.contains("src=\"http"), "no external assets")
        XCTAssertEqual(fixture.record.metricsRenders, 0, "serving the page renders no metrics")
    }
}
