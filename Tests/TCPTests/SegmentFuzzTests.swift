// Seeded fuzzing of the segment parser and the connection: mutated segments against guard pages never read outside their bytes.

import RawBytes
import TCP
import TestSupport
import XCTest

final class SegmentFuzzTests: XCTestCase {
    /// Flips bytes of the golden SYN (keeping the checksum right, so the options parser is
    /// reached) and cuts it at random lengths; every outcome must be a parse or a typed error,
    /// and a read past the end would hit the guard page and crash the test.
    func testMutatedSegmentsNeverReadOutsideTheirBytes() {
        var random = SplitMix64(seed: 0x5EED_7C9)
        var outcomes: [String: Int] = [:]
        for _ in 0..<20_000 {
            var bytes = linuxStyleSYN
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            if bytes.count >= 18 {
                bytes[16] = 0
                bytes[17] = 0
                let checksum = referenceChecksum(source: peerAddress, destination: localAddress, segment: bytes)
                bytes[16] = UInt8(checksum >> 8)
                bytes[17] = UInt8(checksum & 0xFF)
            }
            do {
                try parseGuarded(bytes) { segment in
                    XCTAssertLessThanOrEqual(segment.header.headerLength + segment.payload.count, bytes.count)
                }
                outcomes["parsed", default: 0] += 1
            } catch {
                outcomes["\(error)", default: 0] += 1
            }
        }
        // Every path was exercised, not just one.
        for outcome in ["parsed", "truncated", "dataOffsetTooSmall", "dataOffsetBeyondSegment", "malformedOption"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 0, "\(outcome) never happened: \(outcomes)")
        }
    }

    /// Random segments thrown at an established connection: it must stay consistent
    /// (SND.UNA ≤ SND.NXT) and every segment it answers with must survive the wire.
    func testRandomSegmentsKeepTheConnectionConsistent() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            var talk = Conversation()
            talk.establishPassively()
            _ = talk.send([1, 2, 3, 4])
            for _ in 0..<20 {
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
}
