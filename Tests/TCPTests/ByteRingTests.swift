// Tests of the fixed-capacity byte ring behind the send and receive buffers: bounds, wrap-around, peeking in two pieces.

import RawBytes
import TCP
import TestSupport
import XCTest

final class ByteRingTests: XCTestCase {
    private func append(_ bytes: [UInt8], to ring: ByteRing) -> Int {
        let buffer = GuardedBuffer(bytes)
        return ring.append(buffer.reader)
    }

    func testAppendStopsAtCapacity() {
        let ring = ByteRing(capacity: 8)
        XCTAssertEqual(append([1, 2, 3, 4, 5], to: ring), 5)
        XCTAssertEqual(append([6, 7, 8, 9, 10], to: ring), 3)
        XCTAssertEqual(ring.count, 8)
        XCTAssertEqual(ring.freeSpace, 0)
        XCTAssertEqual(append([11], to: ring), 0)
    }

    func testWrappedDataPeeksAsTwoPiecesAndReadsInOrder() {
        let ring = ByteRing(capacity: 8)
        _ = append([1, 2, 3, 4, 5, 6], to: ring)
        ring.discard(5)
        XCTAssertEqual(append([7, 8, 9, 10, 11], to: ring), 5)   // 8..11 wrap to the start
        let (first, second) = ring.peek(offset: 0, length: 100)
        XCTAssertEqual(bytesOf(first), [6, 7, 8])
        XCTAssertEqual(bytesOf(second), [9, 10, 11])
        let (middle, rest) = ring.peek(offset: 3, length: 2)
        XCTAssertEqual(bytesOf(middle), [9, 10])
        XCTAssertEqual(rest.count, 0)
        var out = [UInt8](repeating: 0, count: 4)
        XCTAssertEqual(out.withUnsafeMutableBytes { ring.read(into: $0) }, 4)
        XCTAssertEqual(out, [6, 7, 8, 9])
        XCTAssertEqual(ring.count, 2)
    }

    func testPeekOutsideTheDataIsEmpty() {
        let ring = ByteRing(capacity: 4)
        _ = append([1, 2], to: ring)
        XCTAssertEqual(ring.peek(offset: 2, length: 1).0.count, 0)
        XCTAssertEqual(ring.peek(offset: -1, length: 1).0.count, 0)
        ring.discard(10)
        XCTAssertEqual(ring.count, 0)
    }

    func testWritePastTheTailThenCommitAcrossTheWrap() {
        let ring = ByteRing(capacity: 8)
        _ = append([1, 2, 3, 4, 5, 6], to: ring)
        var out = [UInt8](repeating: 0, count: 5)
        XCTAssertEqual(out.withUnsafeMutableBytes { ring.read(into: $0) }, 5)   // head at 5, one byte held
        // Out of order: bytes 2...4 past the tail land after the ring wrapped, not yet readable.
        let later = GuardedBuffer([30, 40, 50])
        XCTAssertEqual(ring.write(later.reader, atTailOffset: 2), 3)
        XCTAssertEqual(ring.count, 1)
        let hole = GuardedBuffer([10, 20])
        XCTAssertEqual(ring.write(hole.reader, atTailOffset: 0), 2)
        ring.commit(5)
        var all = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(all.withUnsafeMutableBytes { ring.read(into: $0) }, 6)
        XCTAssertEqual(Array(all.prefix(6)), [6, 10, 20, 30, 40, 50])
        XCTAssertEqual(ring.write(later.reader, atTailOffset: 8), 0, "beyond the free space")
        XCTAssertEqual(ring.write(later.reader, atTailOffset: 6), 2, "cut at the free space")
    }

    func testConnectionSendsDataThatWrapsInItsBuffer() {
        var talk = Conversation(configuration: TCPConnectionConfiguration(sendBufferCapacity: 10))
        talk.establishPassively()
        XCTAssertEqual(talk.send([1, 2, 3, 4, 5, 6, 7, 8]), 8)
        talk.inject(flags: [.acknowledgment], acknowledgment: talk.iss &+ 9)
        _ = talk.wire.take()
        XCTAssertEqual(talk.send([9, 10, 11, 12, 13, 14]), 6)   // stored across the ring's end
        let segment = expectOne(talk.wire.take(), flags: [.acknowledgment, .push], sequence: talk.iss &+ 9, payloadCount: 6)
        XCTAssertEqual(segment?.payload, [9, 10, 11, 12, 13, 14])
    }
}
