/// Checksum offload through a whole context: sent TCP and UDP checksums left for the device are right once a device finishes them, and received frames the device vouched for are not summed again.

import Network
import NetworkContext
import TestSupport
import XCTest

/// What a virtio-net device does with a frame marked NEEDS_CSUM (virtio 1.2 §5.1.6.2), written
/// here independently of the driver: sum from csum_start to the end (the field holds the
/// pseudo-header sum), store the complement at csum_start + csum_offset. The frame's request
/// comes from `ChecksumOffloadRequest`, as the driver gets it.
func finishChecksum(_ frame: [UInt8]) -> [UInt8] {
    guard let request = frame.withUnsafeBytes({ ChecksumOffloadRequest(frame: $0) }) else { return frame }
    var finished = frame
    // The IPv4 total length bounds the transport data (frames shorter than 60 bytes are padded).
    let end = 14 + Int(be16(frame, 16))
    let start = Int(request.start)
    // `onesComplementChecksum` complements; the device's sum must include the pseudo sum already there.
    put16(&finished, start + Int(request.offset), onesComplementChecksum(Array(frame[start..<end])))
    return finished
}

final class ChecksumOffloadTests: XCTestCase {
    /// The built-in UDP echo's answer and a SYN-ACK from the metrics listener, sent by a context
    /// whose device finishes checksums: each carries only the pseudo-header sum (so it fails the
    /// test's own check as sent) and is right once finished as the device would.
    func testChecksumsLeftToTheDeviceAreRightOnceFinished() throws {
        let fixture = ContextFixture(transmitChecksum: .device)
        fixture.learnPeer()
        let mark = fixture.queue.transmitted.count
        fixture.receive(udpFrame(from: 5000, to: 7, payload: Array("offloaded checksum".utf8)))
        fixture.receive(tcpFrame(from: 40000, to: ContextFixture.metricsPort, sequence: 1000, flags: .syn,
                                 options: [2, 4, 0x05, 0xB4]))
        let sent = fixture.queue.transmitted(since: mark)
        XCTAssertEqual(sent.count, 2, "the echo and the SYN-ACK")
        XCTAssertEqual(sent.map { SentFrame($0).problem }, ["UDP checksum", "TCP checksum"],
                       "as sent, the checksum field holds only the pseudo-header sum")
        let finished = parseSent(sent.map(finishChecksum))
        XCTAssertEqual(finished.first?.datagram?.payload, Array("offloaded checksum".utf8))
        let synAck = try XCTUnwrap(finished.last?.segment)
        XCTAssertEqual(synAck.flags, [.syn, .ack])
        XCTAssertEqual(synAck.acknowledgment, 1001)
    }

    /// The same frames from a context that computes checksums: complete as sent, and finishing
    /// them is not asked for by the frame (it would be wrong), so the driver must not mark them.
    func testSoftwareChecksumsAreCompleteAsSent() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let mark = fixture.queue.transmitted.count
        fixture.receive(udpFrame(from: 5000, to: 7, payload: [1, 2, 3]))
        let sent = parseSent(fixture.queue.transmitted(since: mark))
        XCTAssertEqual(sent.first?.datagram?.payload, [1, 2, 3])
    }

    /// A datagram whose checksum is wrong (as an incomplete one from a peer on the host looks) is
    /// echoed when the device vouched for it and dropped as a bad checksum when it did not.
    func testTrustedUDPChecksumIsNotVerified() {
        var frame = udpFrame(from: 5000, to: 7, payload: [9, 8, 7, 6])
        frame[14 + 20 + 6] ^= 0x5A   // the UDP checksum field
        for (checksum, echoed) in [(ReceivedChecksum.trusted, true), (.unverified, false)] {
            let fixture = ContextFixture()
            fixture.learnPeer()
            let mark = fixture.queue.transmitted.count
            fixture.queue.feed(frame, checksum: checksum)
            fixture.pass()
            XCTAssertEqual(parseSent(fixture.queue.transmitted(since: mark)).count, echoed ? 1 : 0, "\(checksum)")
            XCTAssertEqual(fixture.context.networkCounters[drop: .badChecksum], echoed ? 0 : 1, "\(checksum)")
        }
    }

    /// A SYN with a wrong checksum: answered when trusted, dropped as a bad checksum when not.
    func testTrustedTCPChecksumIsNotVerified() {
        var frame = tcpFrame(from: 40001, to: ContextFixture.metricsPort, sequence: 7, flags: .syn)
        frame[14 + 20 + 16] ^= 0x33   // the TCP checksum field
        for (checksum, answered) in [(ReceivedChecksum.trusted, true), (.unverified, false)] {
            let fixture = ContextFixture()
            fixture.learnPeer()
            let mark = fixture.queue.transmitted.count
            fixture.queue.feed(frame, checksum: checksum)
            fixture.pass()
            let replies = fixture.sentSegments(since: mark)
            XCTAssertEqual(replies.map(\.flags), answered ? [[.syn, .ack]] : [], "\(checksum)")
            XCTAssertEqual(fixture.context.tcpCounters.drops[.badChecksum], answered ? 0 : 1, "\(checksum)")
        }
    }

    /// The hand-off ring keeps the device's word with the frame (a trusted frame's checksum may
    /// be incomplete: the context that takes it must not verify it) and the frame intact.
    func testHandOffRingCarriesTheChecksumVerdict() {
        let ring = FrameHandOffRing()
        let frame = [UInt8](repeating: 0xEE, count: FrameHandOffRing.maximumFrameBytes)
        XCTAssertTrue(frame.withUnsafeBytes { ring.push($0, checksum: .trusted) })
        XCTAssertTrue([UInt8]([1, 2, 3]).withUnsafeBytes { ring.push($0) })
        XCTAssertTrue(ring.pop { bytes, checksum in
            XCTAssertEqual(Array(bytes), frame)
            XCTAssertEqual(checksum, .trusted)
        })
        XCTAssertTrue(ring.pop { bytes, checksum in
            XCTAssertEqual(Array(bytes), [1, 2, 3])
            XCTAssertEqual(checksum, .unverified)
        })
    }
}
