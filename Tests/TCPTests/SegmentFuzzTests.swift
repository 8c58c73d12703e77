// Seeded fuzzing of the segment parser and the connection: mutated segments against guard pages never read outside their bytes, and the parser agrees with a plain reference.

import RawBytes
import TCP
import TestSupport
import XCTest

/// The segment parser against a reference, and an established connection against random
/// segments (`FuzzRun`: short in `swift test`, SWIGLET_FUZZ_ITERATIONS under `make fuzz`).
final class SegmentFuzzTests: XCTestCase {
    /// The golden segments the mutations start from: Linux's SYN (MSS, SACK permitted,
    /// timestamps, window scale), a data segment, and one with every option kind and a SACK block.
    static let seeds: [[UInt8]] = [
        linuxStyleSYN,
        helloSegment,
        // ACK+PSH, data offset 14: NOP NOP timestamps, SACK block (kind 5), MSS, WS, SACK
        // permitted, an unknown kind 30 of length 4, end of list; then 6 payload bytes.
        hexBytes("9c400050000003e8000007d0e018ffff00000000"
                 + "0101080a0000000100000002" + "050a000003e8000007d0" + "020405b4" + "030307" + "0402"
                 + "1e04abcd" + "00" + "646174612121"),
    ]

    /// Mutated segments (checksum repaired half the time or more, so the options parser is
    /// reached) against guard pages. Every outcome must be what a plain reference parser over
    /// the byte array says: the same error, or a segment whose header fields, options and
    /// payload are exactly the bytes' — and a read past the end hits the guard page.
    func testMutatedSegmentsNeverReadOutsideTheirBytes() {
        let fuzz = FuzzRun("TCP segment parser", defaultIterations: 20_000, defaultSeed: 0x5EED_7C9)
        var outcomes: [String: Int] = [:]
        let inputs = fuzz.run(in: self) { iteration, random in
            let bytes = Self.mutate(Self.seeds[Int.random(in: 0..<Self.seeds.count, using: &random)], using: &random)
            let expected = ReferenceSegment.parse(bytes)
            let buffer = GuardedBuffer(bytes)
            defer { withExtendedLifetime(buffer) {} }
            do throws(TCPSegmentError) {
                let segment = try TCPSegment(parsing: buffer.reader, source: peerAddress, destination: localAddress)
                outcomes["parsed", default: 0] += 1
                guard case .success(let reference) = expected else {
                    return XCTFail("accepted a segment the reference refuses (\(expected)): \(hex(bytes))")
                }
                XCTAssertEqual(segment.header.sourcePort, reference.sourcePort)
                XCTAssertEqual(segment.header.destinationPort, reference.destinationPort)
                XCTAssertEqual(segment.header.sequenceNumber.rawValue, reference.sequence)
                XCTAssertEqual(segment.header.acknowledgmentNumber.rawValue, reference.acknowledgment)
                XCTAssertEqual(segment.header.flags.rawValue, reference.flags)
                XCTAssertEqual(segment.header.window, reference.window)
                XCTAssertEqual(segment.header.headerLength, reference.headerLength)
                XCTAssertEqual(segment.options.maximumSegmentSize, reference.maximumSegmentSize)
                XCTAssertEqual(segment.options.windowScale, reference.windowScale)
                XCTAssertEqual(segment.options.selectiveAcknowledgmentPermitted, reference.selectiveAcknowledgmentPermitted)
                XCTAssertEqual(segment.options.timestamps.map { [$0.value, $0.echoReply] }, reference.timestamps)
                XCTAssertTrue(buffer.encloses(segment.payload), "payload outside the segment's bytes")
                XCTAssertEqual(bytesOf(segment.payload), Array(bytes[reference.headerLength...]))
            } catch {
                outcomes["\(error)", default: 0] += 1
                XCTAssertEqual(expected, .failure(error), "\(hex(bytes))")
            }
        }
        guard inputs == fuzz.iterations else { return }   // stopped at a failure, reported above
        // Every path was exercised, not just one.
        for outcome in ["parsed", "truncated", "dataOffsetTooSmall", "dataOffsetBeyondSegment", "badChecksum", "malformedOption"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 0, "\(outcome) never happened: \(outcomes)")
        }
    }

    /// One to four of: a random byte, a byte of the data offset or option area set to an
    /// interesting value, bytes inserted or removed in the option area, a cut; then, three
    /// times in four, the checksum set right for the result.
    static func mutate(_ seed: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        let interesting: [UInt8] = [0, 1, 2, 3, 4, 5, 8, 10, 0x40, 0x50, 0x60, 0xA0, 0xF0, 0xFF]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 1 where bytes.count > 12:
                // The data offset, or a byte of the option area.
                let offset = Bool.random(using: &random) ? 12 : Int.random(in: 12..<min(bytes.count, 60), using: &random)
                bytes[offset] = interesting.randomElement(using: &random)!
            case 2 where bytes.count >= 20:
                let at = Int.random(in: 20...min(bytes.count, 60), using: &random)
                bytes.insert(contentsOf: (0..<Int.random(in: 1...4, using: &random)).map { _ in
                    interesting.randomElement(using: &random)! }, at: at)
            case 3 where bytes.count > 20:
                let start = Int.random(in: 20..<bytes.count, using: &random)
                bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...4, using: &random)))
            case 4:
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            default:
                break
            }
        }
        if bytes.count >= 18 && Int.random(in: 0..<4, using: &random) != 0 { bytes = withReferenceChecksum(bytes) }
        return bytes
    }

    /// Random segments thrown at an established connection (a fresh one every 20): it must stay
    /// consistent (SND.UNA ≤ SND.NXT ≤ SND.MAX, bounded reassembly, readable bytes and window)
    /// and every segment it answers with must survive the wire.
    func testRandomSegmentsKeepTheConnectionConsistent() {
        let fuzz = FuzzRun("TCP connection", defaultIterations: 4_000, defaultSeed: 42)
        var talk = Conversation()
        fuzz.run(in: self) { iteration, random in
            if iteration % 20 == 0 {
                talk = Conversation()
                talk.establishPassively()
                _ = talk.send([1, 2, 3, 4])
            }
            let flags = TCPFlags(rawValue: UInt8.random(in: 0...0x3F, using: &random))
            let sequence = 1001 &+ UInt32.random(in: 0...3000, using: &random) &- 1500
            let acknowledgment = talk.iss &+ UInt32.random(in: 0...10, using: &random)
            // Up to 200 bytes, so segments land beyond RCV.NXT and exercise reassembly too.
            let payload = [UInt8](repeating: 0xAB, count: Int.random(in: 0...200, using: &random))
            talk.inject(flags: flags, sequence: sequence, acknowledgment: acknowledgment, payload: payload)
            talk.advance(by: UInt64.random(in: 0...(2 * oneSecond), using: &random))
            XCTAssertTrue(talk.connection.sendUnacknowledged <= talk.connection.sendNext)
            XCTAssertTrue(talk.connection.sendNext <= talk.connection.sendMaximum)
            XCTAssertLessThanOrEqual(talk.connection.reassembly.count, ReassemblyQueue.capacity)
            XCTAssertLessThanOrEqual(talk.connection.readableCount, talk.connection.configuration.receiveBufferCapacity)
            XCTAssertLessThanOrEqual(talk.connection.congestion.congestionWindow, 1 << 30)
        }
    }
}

/// The bytes as hex, for failure messages.
private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// A TCP segment parsed the plain way from a byte array (RFC 9293 §3.1, RFC 7323), written
/// apart from `TCPSegment` so that the two can be compared.
struct ReferenceSegment: Equatable {
    var sourcePort: UInt16
    var destinationPort: UInt16
    var sequence: UInt32
    var acknowledgment: UInt32
    var flags: UInt8
    var window: UInt16
    var headerLength: Int
    var maximumSegmentSize: UInt16?
    var windowScale: UInt8?
    var selectiveAcknowledgmentPermitted = false
    var timestamps: [UInt32]?

    /// The segment, or the first rule it breaks in the order the parser checks them: the fixed
    /// header is there, the data offset is 5 to the segment's length, the checksum (from
    /// 10.0.2.2 to 10.0.2.15) is right, each option has its length and the length its kind needs.
    static func parse(_ bytes: [UInt8]) -> Result<ReferenceSegment, TCPSegmentError> {
        guard bytes.count >= 20 else { return .failure(.truncated) }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) << 16 | UInt32(u16(at + 2)) }
        let headerLength = Int(bytes[12] >> 4) * 4
        guard headerLength >= 20 else { return .failure(.dataOffsetTooSmall) }
        guard headerLength <= bytes.count else { return .failure(.dataOffsetBeyondSegment) }
        guard referenceChecksum(source: peerAddress, destination: localAddress, segment: bytes) == 0 else {
            return .failure(.badChecksum)
        }
        var segment = ReferenceSegment(sourcePort: u16(0), destinationPort: u16(2), sequence: u32(4), acknowledgment: u32(8),
                                       flags: bytes[13], window: u16(14), headerLength: headerLength)
        var offset = 20
        while offset < headerLength {
            let kind = bytes[offset]
            if kind == 0 { break }
            if kind == 1 { offset += 1; continue }
            guard offset + 1 < headerLength else { return .failure(.malformedOption) }
            let length = Int(bytes[offset + 1])
            guard length >= 2, offset + length <= headerLength else { return .failure(.malformedOption) }
            let required: [UInt8: Int] = [2: 4, 3: 3, 4: 2, 8: 10]
            if let size = required[kind], size != length { return .failure(.malformedOption) }
            switch kind {
            case 2: segment.maximumSegmentSize = u16(offset + 2)
            case 3: segment.windowScale = min(bytes[offset + 2], 14)
            case 4: segment.selectiveAcknowledgmentPermitted = true
            case 8: segment.timestamps = [u32(offset + 2), u32(offset + 6)]
            default: break
            }
            offset += length
        }
        return .success(segment)
    }
}
