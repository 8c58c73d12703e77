/// TCP segmentation offload through a whole context: with a NIC that cuts segments, TCP hands over frames of several MSS, and cut as a device cuts them they are exactly the segments a context without TSO sends.

import Network
import NetworkContext
import SwigletLibrary
import TCP
import TestSupport
import XCTest

/// What a virtio-net device does with a GSO TCPV4 frame (virtio 1.2 §5.1.6.2), written here
/// independently of the stack: cut the payload into `segmentSize` pieces; each piece gets the
/// headers with its own IPv4 total length, identification (+1 per piece) and header checksum,
/// its own sequence number, PSH and FIN only on the last, and a complete TCP checksum.
func cutSegmentedFrame(_ frame: [UInt8], segmentSize: Int) -> [[UInt8]] {
    let ipHeaderLength = Int(frame[14] & 0x0F) * 4
    let tcpStart = 14 + ipHeaderLength
    let tcpHeaderLength = Int(frame[tcpStart + 12] >> 4) * 4
    let payloadStart = tcpStart + tcpHeaderLength
    let end = 14 + Int(be16(frame, 16))
    let payload = Array(frame[payloadStart..<end])
    let sequence = be32(frame, tcpStart + 4)
    let identification = be16(frame, 18)
    let fieldSum = be16(frame, tcpStart + 16)
    let wholeLength = end - tcpStart
    var pieces: [[UInt8]] = []
    var offset = 0
    while offset < payload.count {
        let piece = Array(payload[offset..<min(offset + segmentSize, payload.count)])
        let last = offset + piece.count == payload.count
        var headers = Array(frame[0..<payloadStart])
        put16(&headers, 16, UInt16(ipHeaderLength + tcpHeaderLength + piece.count))
        put16(&headers, 18, identification &+ UInt16(pieces.count))
        put16(&headers, 24, 0)
        put16(&headers, 24, onesComplementChecksum(Array(headers[14..<tcpStart])))
        let seq = bytes32(sequence &+ UInt32(offset))
        headers.replaceSubrange((tcpStart + 4)..<(tcpStart + 8), with: seq)
        if !last { headers[tcpStart + 13] &= ~0x09 }   // PSH and FIN belong to the last piece
        var segment = Array(headers[tcpStart...]) + piece
        // The device starts from the field (the pseudo-header sum over the whole TCP length),
        // trades the whole length for the piece's (one's-complement arithmetic, as Linux's
        // tcp_gso_segment does), and adds the piece's header and data.
        var sum = UInt32(fieldSum) + UInt32(~UInt16(truncatingIfNeeded: wholeLength)) + UInt32(segment.count)
        put16(&segment, 16, 0)
        sum += UInt32(~onesComplementChecksum(segment))
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        put16(&segment, 16, ~UInt16(sum))
        pieces.append(Array(headers[0..<tcpStart]) + segment)
        offset += piece.count
    }
    return pieces
}

final class SegmentationOffloadTests: XCTestCase {
    /// A program queues `bytes` on an accepted connection; then the peer acknowledges everything
    /// it got, pass after pass, until all arrived. Returns the wire segments (frames the NIC cuts
    /// are cut by `cutSegmentedFrame`) and how many frames the NIC was handed.
    private func transfer(_ bytes: [UInt8], segmentation: Bool, file: StaticString = #filePath,
                          line: UInt = #line) -> (wire: [SentSegment], frames: Int, cut: Int) {
        // Software checksums for the frames TCP sends one MSS at a time (so the fixture's own
        // checks read them as sent); a segment handed over to be cut always leaves its checksum
        // to the NIC, and `cutSegmentedFrame` finishes it as the device would.
        // A send buffer that takes the whole transfer at once (no auto-tuning steps), so the
        // peer's first ACK opens a window larger than one MSS.
        let fixture = ContextFixture(tcp: TCPConnectionConfiguration(initialSendBufferCapacity: 131_072))
        if segmentation { fixture.queue.segmentedFrameCapacity = largestSegmentedFrameSize }
        fixture.learnPeer()
        var (_, streams) = fixture.listeningProgram(port: 8080, file: file, line: line)
        guard var peer = fixture.peerConnects(to: 8080, file: file, line: line),
              case .accepted(let connection, _, _)? = streams.pollEvent() else {
            XCTFail("no connection", file: file, line: line)
            return ([], 0, 0)
        }
        var wire: [SentSegment] = []
        var frames = 0
        var cut = 0
        var queued = 0
        var rounds = 0
        // Every frame is looked at once, also those sent while the context took an ACK.
        var seen = fixture.mark
        while rounds < 200 {
            rounds += 1
            var outOfBuffers = false
            if queued < bytes.count {
                let result = bytes[queued...].withUnsafeBytes { streams.send(connection: connection, bytes: $0) }
                if case .success(let count) = result { queued += count } else { outOfBuffers = true }
                }
            while streams.pollEvent() != nil {}
            fixture.pass()
            for (index, frame) in fixture.queue.transmitted(since: seen).enumerated() {
                frames += 1
                let pieces: [[UInt8]]
                if let size = fixture.queue.segmentSizes[seen + index] {
                    XCTAssertEqual(size, 1460, "cut at the peer's MSS", file: file, line: line)
                    pieces = frame.count > 1514 ? cutSegmentedFrame(frame, segmentSize: size) : [finishChecksum(frame)]
                    if frame.count > 1514 { cut += 1 }
                } else {
                    pieces = [frame]
                }
                for segment in parseSent(pieces, file: file, line: line).compactMap(\.segment) where !segment.payload.isEmpty {
                    XCTAssertLessThanOrEqual(segment.payload.count, 1460, file: file, line: line)
                    wire.append(segment)
                    if segment.sequence == peer.receiveNext { peer.receiveNext &+= UInt32(segment.payload.count) }
                }
            }
            seen = fixture.mark
            // The peer acknowledges only once everything is queued: until then TCP fills its
            // initial window and the rest waits in the send buffer, so every ACK after that
            // opens the window for a burst of several MSS (what a NIC that cuts can take whole).
            // Lent buffers come back only when acknowledged: with every channel buffer lent,
            // the peer acknowledges too.
            if queued == bytes.count || outOfBuffers { fixture.receive(peer.segment(.ack)) }
            if wire.reduce(0, { $0 + $1.payload.count }) >= bytes.count { break }
        }
        return (wire, frames, cut)
    }

    func testSegmentsCutByTheNICAreTheSegmentsSentWithoutIt() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9)) }
        let plain = transfer(bytes, segmentation: false)
        let offloaded = transfer(bytes, segmentation: true)
        // (Compared with ==, so that a failure does not print 100,000 bytes.)
        XCTAssertTrue(plain.wire.flatMap(\.payload) == bytes, "every byte, in order, once")
        XCTAssertTrue(offloaded.wire.flatMap(\.payload) == bytes, "every byte, in order, once")
        XCTAssertEqual(offloaded.wire.count, plain.wire.count)
        XCTAssertTrue(offloaded.wire.map(\.sequence) == plain.wire.map(\.sequence), "the same segments on the wire")
        XCTAssertTrue(offloaded.wire.map(\.flags) == plain.wire.map(\.flags), "the same flags")
        XCTAssertGreaterThan(offloaded.cut, 0, "some frames were cut by the NIC")
        XCTAssertLessThan(offloaded.frames * 4, plain.frames, "far fewer frames handed to the NIC")
    }

    /// Large receive (GUEST_TSO4): a 20,000-byte segment the device merged is taken whole and
    /// acknowledged at once (it holds more than two full-sized segments); the same frame without
    /// the device's word is dropped as oversized, as any frame above one MTU is.
    func testMergedSegmentIsTakenWholeAndAcknowledgedAtOnce() {
        for (checksum, taken) in [(ReceivedChecksum.coalesced, true), (.trusted, false), (.unverified, false)] {
            let fixture = ContextFixture()
            fixture.learnPeer()
            let program = fixture.addProgram(cpu: 2)
            var streams = program.makeStreams()
            var wait = fixture.waitByPassing()
            XCTAssertNil(streams.listen(port: 8080, waitingWith: &wait).failure)
            fixture.pass()
            guard let peer = fixture.peerConnects(to: 8080), case .accepted? = streams.pollEvent() else {
                return XCTFail("no connection")
            }
            let payload = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
            let mark = fixture.mark
            fixture.queue.feed(peer.segment([.psh, .ack], payload: payload), checksum: checksum)
            fixture.pass()
            let acknowledgments = fixture.sentSegments(since: mark).map(\.acknowledgment)
            if taken {
                XCTAssertEqual(acknowledgments, [peer.sendNext &+ 20_000], "acknowledged in the same pass, not after 40 ms")
                XCTAssertEqual(fixture.context.networkCounters[drop: .oversized], 0)
            } else {
                XCTAssertEqual(acknowledgments, [], "\(checksum)")
                XCTAssertEqual(fixture.context.networkCounters[drop: .oversized], 1, "\(checksum)")
            }
        }
    }
}
