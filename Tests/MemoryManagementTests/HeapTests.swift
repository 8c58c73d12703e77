/// Tests of the kernel heap: reuse, coalescing, alignment, integrity and bad-free detection.
import TestSupport
import XCTest
@testable import MemoryManagement

final class HeapTests: XCTestCase {
    /// A heap over one fresh region of `byteCount` bytes; the buffer must outlive the heap.
    func makeHeap(byteCount: Int) -> (Heap, AlignedBuffer) {
        let buffer = AlignedBuffer(byteCount: byteCount)
        var heap = Heap()
        XCTAssertTrue(heap.addRegion(start: buffer.pointer, byteCount: byteCount))
        return (heap, buffer)
    }

    /// Fills an allocation with bytes derived from its address and a tag, to be checked later.
    func fill(_ pointer: UnsafeMutableRawPointer, _ count: Int, tag: UInt8) {
        for index in 0..<count { pointer.storeBytes(of: UInt8(truncatingIfNeeded: index &* 31) &+ tag, toByteOffset: index, as: UInt8.self) }
    }

    func isIntact(_ pointer: UnsafeMutableRawPointer, _ count: Int, tag: UInt8) -> Bool {
        for index in 0..<count where pointer.load(fromByteOffset: index, as: UInt8.self) != UInt8(truncatingIfNeeded: index &* 31) &+ tag {
            return false
        }
        return true
    }

    func testEmptyHeapFailsAndTinyRegionsAreRefused() {
        var heap = Heap()
        XCTAssertNil(heap.allocate(byteCount: 1, alignment: 16))
        let buffer = AlignedBuffer(byteCount: 4096)
        XCTAssertFalse(heap.addRegion(start: buffer.pointer, byteCount: 64))
        XCTAssertFalse(heap.addRegion(start: buffer.pointer + 1, byteCount: 80))  // 64 bytes once rounded
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.regionBytes, 0)
    }

    func testFreshRegionStatistics() {
        let (heap, buffer) = makeHeap(byteCount: 1 << 16)
        _ = buffer
        let statistics = heap.statistics
        XCTAssertEqual(statistics.regionBytes, 1 << 16)
        XCTAssertEqual(statistics.bytesInUse, 0)
        XCTAssertEqual(statistics.bytesFree, (1 << 16) - 32)    // region header and sentinel
        XCTAssertEqual(statistics.largestFreeBlock, (1 << 16) - 48)
        XCTAssertEqual(statistics.liveAllocations, 0)
        XCTAssertTrue(heap.validate())
    }

    func testSizesAndAlignmentsKeepTheirData() throws {
        var (heap, buffer) = makeHeap(byteCount: 8 << 20)
        var live: [(UnsafeMutableRawPointer, Int, UInt8)] = []
        var tag: UInt8 = 1
        for alignment in [1, 2, 8, 16, 32, 64, 128, 256, 1024, 4096, 8192, 65536] {
            for size in [0, 1, 7, 15, 16, 17, 31, 48, 100, 255, 256, 1000, 4095, 4096, 5000, 70_000] {
                let pointer = try XCTUnwrap(heap.allocate(byteCount: size, alignment: alignment), "size \(size) alignment \(alignment)")
                XCTAssertEqual(UInt(bitPattern: pointer) % UInt(max(alignment, 16)), 0, "size \(size) alignment \(alignment)")
                XCTAssertTrue(heap.owns(pointer))
                XCTAssertGreaterThanOrEqual(UInt(bitPattern: pointer), buffer.address)
                XCTAssertLessThanOrEqual(UInt(bitPattern: pointer) + UInt(size), buffer.address + UInt(buffer.byteCount))
                fill(pointer, size, tag: tag)
                live.append((pointer, size, tag))
                tag &+= 1
            }
        }
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(Set(live.map { UInt(bitPattern: $0.0) }).count, live.count, "zero-byte allocations are unique too")
        for (pointer, size, tag) in live { XCTAssertTrue(isIntact(pointer, size, tag: tag), "allocation of \(size) overwritten") }
        XCTAssertEqual(heap.statistics.liveAllocations, live.count)
        for (pointer, _, _) in live { try heap.free(pointer) }
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.bytesInUse, 0)
        XCTAssertEqual(heap.statistics.largestFreeBlock, (8 << 20) - 48)
    }

    func testRandomOrderFreeCoalescesBackToOneBlock() throws {
        var (heap, buffer) = makeHeap(byteCount: 1 << 20)
        _ = buffer
        let full = heap.statistics.largestFreeBlock
        var random = SplitMix64(seed: 42)
        var pointers: [UnsafeMutableRawPointer] = []
        while let pointer = heap.allocate(byteCount: Int.random(in: 0...600, using: &random), alignment: 16) {
            pointers.append(pointer)
        }
        XCTAssertGreaterThan(pointers.count, 1000)
        XCTAssertLessThan(heap.statistics.largestFreeBlock, 600)
        pointers.shuffle(using: &random)
        for pointer in pointers { try heap.free(pointer) }
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.largestFreeBlock, full)
        XCTAssertEqual(heap.statistics.bytesInUse, 0)
        XCTAssertEqual(heap.statistics.freeCount, pointers.count)
    }

    func testFragmentationThenRecovery() throws {
        var (heap, buffer) = makeHeap(byteCount: 256 << 10)
        _ = buffer
        var pointers: [UnsafeMutableRawPointer] = []
        while let pointer = heap.allocate(byteCount: 1000, alignment: 16) { pointers.append(pointer) }
        for index in stride(from: 0, to: pointers.count, by: 2) { try heap.free(pointers[index]) }
        XCTAssertTrue(heap.validate())
        let statistics = heap.statistics
        XCTAssertGreaterThan(statistics.bytesFree, 100 << 10, "half the heap is free...")
        XCTAssertLessThan(statistics.largestFreeBlock, 4096, "...but only in small holes")
        XCTAssertNil(heap.allocate(byteCount: 64 << 10, alignment: 16))
        for index in stride(from: 1, to: pointers.count, by: 2) { try heap.free(pointers[index]) }
        XCTAssertTrue(heap.validate())
        XCTAssertNotNil(heap.allocate(byteCount: 64 << 10, alignment: 16))
    }

    func testWorkingSetIsReusedForAHundredThousandOperations() throws {
        // 64 KiB can hold the working set (at most 32 blocks of up to 512 bytes) many times
        // over, but not the 100k allocations: only reuse makes this pass.
        var (heap, buffer) = makeHeap(byteCount: 64 << 10)
        _ = buffer
        var random = SplitMix64(seed: 3)
        var slots = [(UnsafeMutableRawPointer, Int, UInt8)?](repeating: nil, count: 32)
        var totalAllocated = 0
        for operation in 0..<100_000 {
            let slot = Int.random(in: 0..<slots.count, using: &random)
            if let (pointer, size, tag) = slots[slot] {
                XCTAssertTrue(isIntact(pointer, min(size, 16), tag: tag))
                try heap.free(pointer)
                slots[slot] = nil
            } else {
                let size = Int.random(in: 1...512, using: &random)
                let alignment = [16, 16, 64, 256].randomElement(using: &random)!
                guard let pointer = heap.allocate(byteCount: size, alignment: alignment) else {
                    return XCTFail("out of memory at operation \(operation) with \(heap.statistics)")
                }
                let tag = UInt8(truncatingIfNeeded: operation)
                fill(pointer, min(size, 16), tag: tag)
                slots[slot] = (pointer, size, tag)
                totalAllocated += size
            }
        }
        XCTAssertGreaterThan(totalAllocated, 100 * (64 << 10))
        XCTAssertTrue(heap.validate())
    }

    func testBadFreesAreDetectedAndHarmless() throws {
        var (heap, buffer) = makeHeap(byteCount: 1 << 16)
        let first = try XCTUnwrap(heap.allocate(byteCount: 100, alignment: 16))
        let second = try XCTUnwrap(heap.allocate(byteCount: 100, alignment: 16))
        let before = heap.statistics
        try heap.free(first)
        XCTAssertThrowsError(try heap.free(first)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: first))) }
        // The middle of a live allocation is not a block.
        XCTAssertThrowsError(try heap.free(second + 32)) { XCTAssertEqual($0 as? HeapError, .invalidPointer(UInt(bitPattern: second + 32))) }
        XCTAssertThrowsError(try heap.free(second + 1)) { XCTAssertEqual($0 as? HeapError, .foreignPointer(UInt(bitPattern: second + 1))) }
        let elsewhere = AlignedBuffer(byteCount: 64)
        XCTAssertThrowsError(try heap.free(elsewhere.pointer)) { XCTAssertEqual($0 as? HeapError, .foreignPointer(elsewhere.address)) }
        XCTAssertThrowsError(try heap.free(buffer.pointer)) { XCTAssertEqual($0 as? HeapError, .foreignPointer(buffer.address)) }
        XCTAssertFalse(heap.owns(elsewhere.pointer))
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.freeCount, before.freeCount + 1)
        // `second` merges with the free `first` and the rest: freeing it again is a double free.
        try heap.free(second)
        XCTAssertThrowsError(try heap.free(second)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: second))) }
        XCTAssertThrowsError(try heap.free(first)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: first))) }
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.largestFreeBlock, (1 << 16) - 48)
    }

    func testInvalidRequests() {
        var (heap, buffer) = makeHeap(byteCount: 1 << 16)
        _ = buffer
        XCTAssertNil(heap.allocate(byteCount: -1, alignment: 16))
        XCTAssertNil(heap.allocate(byteCount: 16, alignment: 3))
        XCTAssertNil(heap.allocate(byteCount: 16, alignment: 0))
        XCTAssertNil(heap.allocate(byteCount: Int.max, alignment: 16))
        XCTAssertNil(heap.allocate(byteCount: 1 << 16, alignment: 16), "larger than the region")
        XCTAssertEqual(heap.statistics.allocationCount, 0)
        XCTAssertTrue(heap.validate())
    }

    func testMultipleRegions() throws {
        let first = AlignedBuffer(byteCount: 1 << 16)
        let second = AlignedBuffer(byteCount: 1 << 17)
        var heap = Heap()
        heap.addRegion(start: first.pointer, byteCount: first.byteCount)
        let small = try XCTUnwrap(heap.allocate(byteCount: 1000, alignment: 16))
        XCTAssertNil(heap.allocate(byteCount: 100_000, alignment: 16))
        heap.addRegion(start: second.pointer, byteCount: second.byteCount)
        let large = try XCTUnwrap(heap.allocate(byteCount: 100_000, alignment: 16))
        XCTAssertTrue(UInt(bitPattern: large) >= second.address && UInt(bitPattern: large) < second.address + UInt(second.byteCount))
        XCTAssertTrue(heap.owns(small) && heap.owns(large))
        XCTAssertEqual(heap.statistics.regionBytes, (1 << 16) + (1 << 17))
        XCTAssertTrue(heap.validate())
        try heap.free(large)
        try heap.free(small)
        XCTAssertEqual(heap.statistics.largestFreeBlock, (1 << 17) - 48)
        XCTAssertEqual(heap.statistics.bytesFree, (1 << 16) + (1 << 17) - 64)
        XCTAssertTrue(heap.validate())
    }

    func testAdjacentRegionExtendsTheLastOne() throws {
        let buffer = AlignedBuffer(byteCount: 1 << 17)
        var heap = Heap()
        heap.addRegion(start: buffer.pointer, byteCount: 1 << 16)
        let tail = try XCTUnwrap(heap.allocate(byteCount: 100, alignment: 16))
        heap.addRegion(start: buffer.pointer + (1 << 16), byteCount: 1 << 16)
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.regionBytes, 1 << 17)
        XCTAssertNotNil(heap.allocate(byteCount: 100_000, alignment: 16), "a block spanning both halves exists")
        try heap.free(tail)
        XCTAssertTrue(heap.validate())
    }

    func testAdjacentRegionMergesWithFreeEnd() throws {
        let buffer = AlignedBuffer(byteCount: 1 << 17)
        var heap = Heap()
        heap.addRegion(start: buffer.pointer, byteCount: 1 << 16)
        heap.addRegion(start: buffer.pointer + (1 << 16), byteCount: 1 << 16)
        XCTAssertTrue(heap.validate())
        XCTAssertEqual(heap.statistics.largestFreeBlock, (1 << 17) - 48, "one block, as if added at once")
    }

    func testRandomizedWithValidationAfterEveryStep() throws {
        let regions = [AlignedBuffer(byteCount: 96 << 10), AlignedBuffer(byteCount: 32 << 10), AlignedBuffer(byteCount: 200 << 10)]
        var heap = Heap()
        var random = SplitMix64(seed: 0x5EED)
        var live: [(UnsafeMutableRawPointer, Int, UInt8)] = []
        var addedRegions = 1
        heap.addRegion(start: regions[0].pointer, byteCount: regions[0].byteCount)
        for step in 0..<6000 {
            if step == 2000 || step == 4000 {
                heap.addRegion(start: regions[addedRegions].pointer, byteCount: regions[addedRegions].byteCount)
                addedRegions += 1
            }
            if live.isEmpty || Int.random(in: 0..<100, using: &random) < 55 {
                let size = Int.random(in: 0...3000, using: &random)
                let alignment = 1 << Int.random(in: 0...12, using: &random)
                if let pointer = heap.allocate(byteCount: size, alignment: alignment) {
                    XCTAssertEqual(UInt(bitPattern: pointer) % UInt(max(alignment, 16)), 0)
                    let tag = UInt8(truncatingIfNeeded: step)
                    fill(pointer, size, tag: tag)
                    live.append((pointer, size, tag))
                }
            } else {
                let (pointer, size, tag) = live.remove(at: Int.random(in: 0..<live.count, using: &random))
                XCTAssertTrue(isIntact(pointer, size, tag: tag), "step \(step): data of \(size) bytes changed")
                try heap.free(pointer)
            }
            guard heap.validate() else { return XCTFail("heap invalid after step \(step)") }
            XCTAssertEqual(heap.statistics.liveAllocations, live.count)
        }
        for (pointer, size, tag) in live {
            XCTAssertTrue(isIntact(pointer, size, tag: tag))
            try heap.free(pointer)
        }
        let statistics = heap.statistics
        XCTAssertEqual(statistics.bytesInUse, 0)
        XCTAssertEqual(statistics.bytesFree, statistics.regionBytes - 3 * 32)
        XCTAssertEqual(statistics.largestFreeBlock, (200 << 10) - 48)
        XCTAssertTrue(heap.validate())
    }

    func testValidateDetectsCorruption() throws {
        var (heap, buffer) = makeHeap(byteCount: 1 << 16)
        _ = buffer
        let pointer = try XCTUnwrap(heap.allocate(byteCount: 64, alignment: 16))
        XCTAssertTrue(heap.validate())
        // An overflow from the allocation clobbers the next block's header.
        (pointer + 64).storeBytes(of: 0xDEAD_BEEF, as: UInt64.self)
        XCTAssertFalse(heap.validate())
    }

    func testSizeClassesAreMonotonicAndBounded() {
        XCTAssertEqual(HeapSizeClass.count, 172)
        var previous = 0
        for size in stride(from: 48, to: 1 << 22, by: 16) {
            let sizeClass = HeapSizeClass.of(size: size)
            XCTAssertGreaterThanOrEqual(sizeClass, previous)
            XCTAssertLessThanOrEqual(HeapSizeClass.lowerBound(of: sizeClass), size)
            XCTAssertGreaterThan(HeapSizeClass.lowerBound(of: sizeClass + 1), size)
            previous = sizeClass
        }
        XCTAssertEqual(HeapSizeClass.of(size: 1 << 60), HeapSizeClass.count - 1)
    }
}
