// Tests of the byte ring behind the send and receive buffers: bounds, wrap-around, peeking in two pieces, storage on demand.

import RawBytes
import TCP
import TestSupport
import XCTest

final class ByteRingTests: XCTestCase {
    private func append(_ bytes: [UInt8], to ring: ByteRing) -> Int {
        let buffer = GuardedBuffer(bytes)
        return ring.append(buffer.reader)
    }

    /// A ring whose storage is exactly 64 bytes once it holds anything (the pool's only size).
    private func ring64(capacity: Int = 64) -> ByteRing {
        ByteRing(pool: BufferPool(byteCount: 64, smallestBlock: 64, largestBlock: 64), capacity: capacity, maximumCapacity: 64)
    }

    private func run(_ range: ClosedRange<Int>) -> [UInt8] { range.map { UInt8($0) } }

    func testAppendStopsAtCapacity() {
        let ring = ByteRing(capacity: 8)
        XCTAssertEqual(append([1, 2, 3, 4, 5], to: ring), 5)
        XCTAssertEqual(append([6, 7, 8, 9, 10], to: ring), 3)
        XCTAssertEqual(ring.count, 8)
        XCTAssertEqual(ring.freeSpace, 0)
        XCTAssertEqual(append([11], to: ring), 0)
    }

    func testWrappedDataPeeksAsTwoPiecesAndReadsInOrder() {
        let ring = ring64()
        _ = append(run(1...60), to: ring)
        ring.discard(59)
        XCTAssertEqual(append(run(61...70), to: ring), 10)   // 65...70 wrap to the start
        let (first, second) = ring.peek(offset: 0, length: 100)
        XCTAssertEqual(bytesOf(first), run(60...64))
        XCTAssertEqual(bytesOf(second), run(65...70))
        let (middle, rest) = ring.peek(offset: 5, length: 2)
        XCTAssertEqual(bytesOf(middle), [65, 66])
        XCTAssertEqual(rest.count, 0)
        var out = [UInt8](repeating: 0, count: 7)
        XCTAssertEqual(out.withUnsafeMutableBytes { ring.read(into: $0) }, 7)
        XCTAssertEqual(out, run(60...66))
        XCTAssertEqual(ring.count, 4)
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
        let ring = ring64()
        _ = append(run(1...62), to: ring)
        var out = [UInt8](repeating: 0, count: 61)
        XCTAssertEqual(out.withUnsafeMutableBytes { ring.read(into: $0) }, 61)   // head at 61, one byte held
        // Out of order: bytes 2...4 past the tail land after the ring wrapped, not yet readable.
        let later = GuardedBuffer([30, 40, 50])
        XCTAssertEqual(ring.write(later.reader, atTailOffset: 2), 3)
        XCTAssertEqual(ring.count, 1)
        let hole = GuardedBuffer([10, 20])
        XCTAssertEqual(ring.write(hole.reader, atTailOffset: 0), 2)
        ring.commit(5)
        var all = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(all.withUnsafeMutableBytes { ring.read(into: $0) }, 6)
        XCTAssertEqual(Array(all.prefix(6)), [62, 10, 20, 30, 40, 50])
        let tail = GuardedBuffer(run(1...10))
        XCTAssertEqual(ring.write(tail.reader, atTailOffset: 64), 0, "beyond the free space")
        XCTAssertEqual(ring.write(tail.reader, atTailOffset: 60), 4, "cut at the free space")
    }

    func testStorageIsTakenOnDemandAndGivenBack() {
        let pool = BufferPool(byteCount: 4096, smallestBlock: 64, largestBlock: 4096)
        let ring = ByteRing(pool: pool, capacity: 4096, maximumCapacity: 4096)
        XCTAssertEqual(ring.storageBytes, 0, "an empty ring holds no memory")
        XCTAssertEqual(append(run(1...10), to: ring), 10)
        XCTAssertEqual(ring.storageBytes, 64, "the smallest block that holds the bytes")
        XCTAssertEqual(append([UInt8](repeating: 7, count: 100), to: ring), 100)
        XCTAssertEqual(ring.storageBytes, 128, "doubled, keeping the bytes")
        XCTAssertEqual(bytesOf(ring.peek(offset: 0, length: 10).0), run(1...10))
        XCTAssertEqual(pool.bytesInUse, 128)
        ring.discard(110)
        ring.releaseStorage()
        XCTAssertEqual(ring.storageBytes, 0)
        XCTAssertEqual(pool.bytesInUse, 0, "everything back in the pool")
    }

    func testGrowingAWrappedRingKeepsStagedBytesAtTheirOffsets() {
        let pool = BufferPool(byteCount: 256, smallestBlock: 64, largestBlock: 256)
        let ring = ByteRing(pool: pool, capacity: 256, maximumCapacity: 256)
        _ = append(run(1...60), to: ring)
        ring.discard(58)                                          // head at 58 of 64, holding 59, 60
        _ = append(run(61...70), to: ring)                        // wraps
        let staged = GuardedBuffer([99, 98])
        XCTAssertEqual(ring.write(staged.reader, atTailOffset: 100), 2, "past the storage: it grows")
        XCTAssertEqual(ring.storageBytes, 128, "the smallest block holding offset 114")
        let (first, second) = ring.peek(offset: 0, length: 12)
        XCTAssertEqual(bytesOf(first) + bytesOf(second), run(59...70))
        ring.commit(0)
        let filler = GuardedBuffer([UInt8](repeating: 1, count: 100))
        _ = ring.append(filler.reader)
        ring.commit(2)
        XCTAssertEqual(bytesOf(ring.peek(offset: 112, length: 2).0), [99, 98])
    }

    func testAnExhaustedPoolRefusesGrowthAndLosesNothing() {
        let pool = BufferPool(byteCount: 128, smallestBlock: 64, largestBlock: 128)
        let hog = pool.allocate(byteCount: 64)
        XCTAssertNotNil(hog)
        let ring = ByteRing(pool: pool, capacity: 128, maximumCapacity: 128)
        XCTAssertEqual(append(run(1...50), to: ring), 50)
        XCTAssertFalse(ring.reserve(100), "the 128-byte block is split: no room to double")
        XCTAssertEqual(append(run(51...100), to: ring), 14, "only what the storage holds")
        XCTAssertEqual(bytesOf(ring.peek(offset: 0, length: 64).0), run(1...64), "nothing lost")
        XCTAssertGreaterThan(pool.refusals, 0)
        ring.discard(64)
        ring.releaseStorage()
        pool.free(hog!)
        XCTAssertEqual(pool.bytesInUse, 0)
        XCTAssertEqual(pool.freeBlockCounts(), [0, 1], "the halves merged again")
        XCTAssertTrue(ring.reserve(100))
    }

    func testCapacityOnlyGrowsAndStopsAtTheMaximum() {
        let ring = ByteRing(pool: BufferPool(byteCount: 1024, smallestBlock: 64, largestBlock: 1024), capacity: 100, maximumCapacity: 1000)
        ring.raiseCapacity(to: 50)
        XCTAssertEqual(ring.capacity, 100)
        ring.raiseCapacity(to: 5000)
        XCTAssertEqual(ring.capacity, 1000)
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
