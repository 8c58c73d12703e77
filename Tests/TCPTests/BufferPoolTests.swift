// Tests of the buddy allocator TCP buffers grow from: sizes, splitting, merging, exhaustion, and a random workload against a model.

import TCP
import XCTest

final class BufferPoolTests: XCTestCase {
    func testBlocksAreRoundedUpToPowersOfTwo() {
        let pool = BufferPool(byteCount: 1 << 16, smallestBlock: 2048, largestBlock: 1 << 16)
        XCTAssertEqual(pool.allocate(byteCount: 1)?.count, 2048)
        XCTAssertEqual(pool.allocate(byteCount: 2049)?.count, 4096)
        XCTAssertEqual(pool.bytesInUse, 6144)
        XCTAssertNil(pool.allocate(byteCount: (1 << 16) + 1), "above the largest block")
        XCTAssertEqual(pool.refusals, 1)
    }

    func testFreedBuddiesMergeBackIntoOneLargeBlock() {
        let pool = BufferPool(byteCount: 8192, smallestBlock: 2048, largestBlock: 8192)
        let blocks = (0..<4).compactMap { _ in pool.allocate(byteCount: 2048) }
        XCTAssertEqual(blocks.count, 4)
        XCTAssertNil(pool.allocate(byteCount: 2048), "exhausted: a clear refusal")
        for block in blocks { pool.free(block) }
        XCTAssertEqual(pool.bytesInUse, 0)
        XCTAssertEqual(pool.freeBlockCounts(), [0, 0, 1], "merged whole again")
        XCTAssertEqual(pool.allocate(byteCount: 8192)?.count, 8192)
    }

    func testBlocksNeverOverlapUnderARandomWorkload() {
        let pool = BufferPool(byteCount: 1 << 20, smallestBlock: 2048, largestBlock: 1 << 18)
        var live: [(block: UnsafeMutableRawBufferPointer, tag: UInt8)] = []
        var generator = SystemRandomNumberGenerator()
        var refusals = 0
        for step in 0..<20_000 {
            if !live.isEmpty && (Int.random(in: 0..<3, using: &generator) == 0 || live.count > 200) {
                let victim = live.remove(at: Int.random(in: 0..<live.count, using: &generator))
                // Its bytes are still the tag written at allocation: no other block overlapped it.
                XCTAssertTrue(victim.block.allSatisfy { $0 == victim.tag }, "block overwritten at step \(step)")
                pool.free(victim.block)
            } else if let block = pool.allocate(byteCount: Int.random(in: 1...(1 << 18), using: &generator)) {
                let tag = UInt8(truncatingIfNeeded: step)
                block.initializeMemory(as: UInt8.self, repeating: tag)
                live.append((block, tag))
            } else {
                refusals += 1
            }
            XCTAssertEqual(pool.bytesInUse, live.reduce(0) { $0 + $1.block.count })
        }
        for entry in live { pool.free(entry.block) }
        XCTAssertEqual(pool.freeBlockCounts().last, 4, "everything merged back into the four largest blocks")
        XCTAssertEqual(pool.refusals, UInt64(refusals))
    }
}
