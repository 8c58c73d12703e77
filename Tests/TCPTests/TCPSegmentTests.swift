// Tests of TCP segment parsing (golden SYN and data segments, malformed input) and building.

import RawBytes
import InternetAddress
import TCP
import TestSupport
import XCTest

/// A SYN as Linux sends it, 10.0.2.2:40000 → 10.0.2.15:80: MSS 1460, SACK permitted, timestamps
/// (TSval 123456, TSecr 0), NOP, window scale 7; checksum 0x4d80 computed independently (Python).
let linuxStyleSYN = hexBytes("9c4000501234567800000000a002faf04d800000020405b40402080a0001e2400000000001030307")
/// A PSH+ACK with the odd-length payload "hello", 10.0.2.15:80 → 10.0.2.2:40000, seq 0xfffffff0
/// (near the wrap), ack 0x12345679, window 502; checksum 0x4cc0 computed independently.
let helloSegment = hexBytes("00509c40fffffff012345679501801f64cc0000068656c6c6f")

final class TCPSegmentTests: XCTestCase {
    func testParsesTheGoldenSYNFieldByField() throws {
        try parseGuarded(linuxStyleSYN) { segment in
            XCTAssertEqual(segment.header.sourcePort, 40000)
            XCTAssertEqual(segment.header.destinationPort, 80)
            XCTAssertEqual(segment.header.sequenceNumber, SequenceNumber(0x1234_5678))
            XCTAssertEqual(segment.header.acknowledgmentNumber, SequenceNumber(0))
            XCTAssertEqual(segment.header.dataOffset, 10)
            XCTAssertEqual(segment.header.flags, [.synchronize])
            XCTAssertEqual(segment.header.window, 64240)
            XCTAssertEqual(segment.header.checksum, 0x4D80)
            XCTAssertEqual(segment.options.maximumSegmentSize, 1460)
            XCTAssertEqual(segment.options.windowScale, 7)
            XCTAssertTrue(segment.options.selectiveAcknowledgmentPermitted)
            XCTAssertEqual(segment.options.timestamps, TCPTimestamps(value: 123_456, echoReply: 0))
            XCTAssertEqual(segment.payload.count, 0)
            XCTAssertEqual(segment.sequenceLength, 1, "a SYN occupies one sequence number")
        }
    }

    func testParsesTheGoldenDataSegmentWithOddPayload() throws {
        try parseGuarded(helloSegment, source: localAddress, destination: peerAddress) { segment in
            XCTAssertEqual(segment.header.flags, [.push, .acknowledgment])
            XCTAssertEqual(segment.header.sequenceNumber.rawValue, 0xFFFF_FFF0)
            XCTAssertEqual(segment.header.acknowledgmentNumber.rawValue, 0x1234_5679)
            XCTAssertEqual(segment.header.window, 502)
            XCTAssertEqual(bytesOf(segment.payload), Array("hello".utf8))
            XCTAssertEqual(segment.sequenceLength, 5)
            XCTAssertEqual(segment.options, TCPOptions())
        }
    }

    func testRejectsABadChecksumAndTheWrongPseudoHeader() {
        var corrupted = linuxStyleSYN
        corrupted[4] ^= 0x01
        XCTAssertThrowsError(try parseGuarded(corrupted)) { XCTAssertEqual($0 as? TCPSegmentError, .badChecksum) }
        // The pseudo-header matters: the same bytes "from" another address do not verify.
        XCTAssertThrowsError(try parseGuarded(linuxStyleSYN, source: IPv4Address(rawValue: peerAddress.rawValue + 1))) {
            XCTAssertEqual($0 as? TCPSegmentError, .badChecksum)
        }
    }

    func testRejectsTruncatedSegmentsAtEveryLength() {
        for length in 0..<TCPHeader.minimumSize {
            XCTAssertThrowsError(try parseGuarded(Array(linuxStyleSYN.prefix(length)))) {
                XCTAssertEqual($0 as? TCPSegmentError, .truncated, "length \(length)")
            }
        }
        // Cut inside the options: the data offset now points past the end.
        XCTAssertThrowsError(try parseGuarded(Array(linuxStyleSYN.prefix(30)))) {
            XCTAssertEqual($0 as? TCPSegmentError, .dataOffsetBeyondSegment)
        }
    }

    func testRejectsLyingDataOffsets() {
        for offset: UInt8 in [0, 1, 4] {
            var segment = helloSegment
            segment[12] = offset << 4
            XCTAssertThrowsError(try parseGuarded(segment, source: localAddress, destination: peerAddress)) {
                XCTAssertEqual($0 as? TCPSegmentError, .dataOffsetTooSmall, "offset \(offset)")
            }
        }
        var tooLong = helloSegment
        tooLong[12] = 15 << 4   // claims 60 bytes of header in a 25-byte segment
        XCTAssertThrowsError(try parseGuarded(tooLong, source: localAddress, destination: peerAddress)) {
            XCTAssertEqual($0 as? TCPSegmentError, .dataOffsetBeyondSegment)
        }
    }

    /// Builds a segment with the given option bytes (padded to a word) and a correct checksum.
    private func segment(withOptions options: [UInt8]) -> [UInt8] {
        var optionBytes = options
        while optionBytes.count % 4 != 0 { optionBytes.append(0) }
        var bytes = Array(linuxStyleSYN.prefix(20)) + optionBytes
        bytes[12] = UInt8(bytes.count / 4) << 4
        return withReferenceChecksum(bytes)
    }

    func testRejectsMalformedOptions() {
        let malformed: [(String, [UInt8])] = [
            ("length byte missing", [1, 1, 1, 2]),
            ("length 0 would loop forever", [0x22, 0]),
            ("length 1 would step into itself", [0x22, 1]),
            ("length runs past the options area", [0x22, 9, 0, 0]),
            ("MSS with length 3", [2, 3, 5, 0]),
            ("window scale with length 4", [3, 4, 7, 0]),
            ("SACK permitted with length 3", [4, 3, 0, 1]),
            ("timestamps with length 8", [8, 8, 0, 0, 0, 1, 0, 0]),
        ]
        for (reason, options) in malformed {
            XCTAssertThrowsError(try parseGuarded(segment(withOptions: options)), reason) {
                XCTAssertEqual($0 as? TCPSegmentError, .malformedOption, reason)
            }
        }
    }

    func testSkipsUnknownOptionsAndStopsAtEndOfList() throws {
        // An unknown kind 0x22 of length 4, a SACK block option (kind 5, skipped), then MSS;
        // after End of Option List, garbage that must not be parsed.
        let options: [UInt8] = [0x22, 4, 0xAA, 0xBB, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 2, 4, 0x05, 0xDC, 0, 0xFF, 0xFF]
        try parseGuarded(segment(withOptions: options)) { segment in
            XCTAssertEqual(segment.options.maximumSegmentSize, 1500)
            XCTAssertNil(segment.options.windowScale)
        }
    }

    func testClampsWindowScaleTo14() throws {
        try parseGuarded(segment(withOptions: [1, 3, 3, 15])) { segment in
            XCTAssertEqual(segment.options.windowScale, 14, "RFC 7323 §2.3: a shift above 14 is treated as 14")
        }
    }

    func testBuildsAByteExactSegmentThatParsesBack() throws {
        let header = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(0x1234_5678),
                               acknowledgmentNumber: SequenceNumber(0), flags: [.synchronize], window: 64240)
        let options = TCPOptions(maximumSegmentSize: 1460, windowScale: 7, selectiveAcknowledgmentPermitted: true,
                                 timestamps: TCPTimestamps(value: 123_456, echoReply: 0))
        var buffer = [UInt8](repeating: 0xEE, count: 80)
        let length = try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
            try TCPSegment.build(header: header, options: options, payload: ByteReader(),
                                 source: peerAddress, destination: localAddress, into: raw)
        }
        XCTAssertEqual(length, 20 + 24)
        let built = Array(buffer.prefix(length))
        XCTAssertEqual(built[12], 11 << 4, "data offset 11 words")
        XCTAssertEqual(Array(built[20...]), hexBytes("020405b401030307010104020101080a0001e24000000000"))
        XCTAssertEqual(UInt16(built[16]) << 8 | UInt16(built[17]),
                       referenceChecksum(source: peerAddress, destination: localAddress,
                                         segment: built[0..<16] + [0, 0] + built[18...]))
        XCTAssertEqual(buffer[length], 0xEE, "nothing written past the segment")
        try parseGuarded(built) { segment in
            XCTAssertEqual(segment.options, options)
            XCTAssertEqual(segment.header.sequenceNumber, header.sequenceNumber)
        }
    }

    /// Checksum offload (virtio 1.2 §5.1.6.2): with `deviceFinishesChecksum` the field holds the
    /// pseudo-header's sum, uncomplemented; summing from the TCP header to the end and storing
    /// the complement, as the device does, gives exactly the segment built with a full checksum.
    /// An odd payload length makes the device's padding matter.
    func testChecksumLeftToTheDeviceFinishesToTheFullOne() throws {
        let header = TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: SequenceNumber(0xFFFF_FFF0),
                               acknowledgmentNumber: SequenceNumber(0x1234_5679), flags: [.push, .acknowledgment],
                               window: 502)
        let payload = GuardedBuffer(Array("hello, offload".utf8) + [0xFF])
        func build(deviceFinishes: Bool) throws -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: 64)
            let length = try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
                try TCPSegment.build(header: header, options: TCPOptions(), payload: payload.reader,
                                     source: localAddress, destination: peerAddress,
                                     deviceFinishesChecksum: deviceFinishes, into: raw)
            }
            return Array(buffer.prefix(length))
        }
        let full = try build(deviceFinishes: false)
        var partial = try build(deviceFinishes: true)
        XCTAssertEqual(partial[0..<16], full[0..<16])
        XCTAssertEqual(partial[18...], full[18...], "only the checksum field differs")
        // The pseudo-header alone (RFC 9293 §3.1), folded and not complemented.
        let local = localAddress.rawValue, peer = peerAddress.rawValue
        var sum = (local >> 16) + (local & 0xFFFF) + (peer >> 16) + (peer & 0xFFFF) + 6 + UInt32(full.count)
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        XCTAssertEqual(UInt16(partial[16]) << 8 | UInt16(partial[17]), UInt16(sum))
        // The device: one's-complement sum of the whole segment as it is, complemented, stored.
        var words = partial
        if words.count % 2 == 1 { words.append(0) }
        var total: UInt32 = 0
        for index in stride(from: 0, to: words.count, by: 2) { total += UInt32(words[index]) << 8 | UInt32(words[index + 1]) }
        while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
        let finished = ~UInt16(total)
        partial[16] = UInt8(finished >> 8)
        partial[17] = UInt8(finished & 0xFF)
        XCTAssertEqual(partial, full)
    }

    func testBuildsTheGoldenDataSegmentByteForByte() throws {
        let header = TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: SequenceNumber(0xFFFF_FFF0),
                               acknowledgmentNumber: SequenceNumber(0x1234_5679), flags: [.push, .acknowledgment],
                               window: 502)
        let payload = GuardedBuffer(Array("hello".utf8))
        var buffer = [UInt8](repeating: 0, count: 25)
        let length = try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
            try TCPSegment.build(header: header, options: TCPOptions(), payload: payload.reader,
                                 source: localAddress, destination: peerAddress, into: raw)
        }
        XCTAssertEqual(length, 25)
        XCTAssertEqual(buffer, helloSegment)
    }

    func testBuildRefusesABufferTooSmall() {
        let header = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(0),
                               acknowledgmentNumber: SequenceNumber(0), flags: [.reset], window: 0)
        var buffer = [UInt8](repeating: 0, count: 19)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
            try TCPSegment.build(header: header, options: TCPOptions(), payload: ByteReader(),
                                 source: localAddress, destination: peerAddress, into: raw)
        }) { XCTAssertEqual($0 as? TCPBuildError, .bufferTooSmall) }
        XCTAssertEqual(buffer, [UInt8](repeating: 0, count: 19), "nothing written")
    }
}
