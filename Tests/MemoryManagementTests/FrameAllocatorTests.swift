/// Tests of the bitmap frame allocator and of bitmap placement.
import TestSupport
import XCTest
import MemoryManagement

final class FrameAllocatorTests: XCTestCase {
    let frame = FrameAllocator.frameSize

    /// An allocator over `0 ..< highest` with nothing released yet; keeps its bitmap alive.
    func makeAllocator(highest: UInt64) -> (FrameAllocator, AlignedBuffer) {
        let bytes = FrameAllocator.bitmapByteCount(highestAddress: highest)
        let buffer = AlignedBuffer(byteCount: max(bytes, 8), alignment: 8)
        return (FrameAllocator(bitmap: buffer.pointer, bitmapByteCount: bytes, highestAddress: highest), buffer)
    }

    func testBitmapSize() {
        XCTAssertEqual(FrameAllocator.bitmapByteCount(highestAddress: 64 * 4096), 8)
        XCTAssertEqual(FrameAllocator.bitmapByteCount(highestAddress: 64 * 4096 + 1), 16)
        XCTAssertEqual(FrameAllocator.bitmapByteCount(highestAddress: 1 << 32), (1 << 20) / 8)
        XCTAssertEqual(FrameAllocator.bitmapByteCount(highestAddress: 0), 0)
    }

    func testStartsReservedAndReleaseRoundsInward() {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        XCTAssertEqual(allocator.totalFrameCount, 256)
        XCTAssertEqual(allocator.freeFrameCount, 0)
        XCTAssertNil(allocator.allocate())
        allocator.release(PhysicalRange(start: 0x1001, end: 0x5fff))   // frames 2, 3, 4
        XCTAssertEqual(allocator.freeFrameCount, 3)
        XCTAssertFalse(allocator.isFree(0x1000))
        XCTAssertTrue(allocator.isFree(0x2000))
        XCTAssertTrue(allocator.isFree(0x4000))
        XCTAssertFalse(allocator.isFree(0x5000))
        allocator.release(PhysicalRange(start: 0x2000, end: 0x3000))   // already free: no change
        XCTAssertEqual(allocator.freeFrameCount, 3)
        allocator.release(PhysicalRange(start: 0xF_F000, end: 0x10_0000 + 0x10_0000))  // clipped at the top
        XCTAssertEqual(allocator.freeFrameCount, 4)
    }

    func testReserveRoundsOutward() {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0, end: 1 << 20))
        XCTAssertEqual(allocator.freeFrameCount, 256)
        allocator.reserve(PhysicalRange(start: 0x1fff, end: 0x3001))   // touches frames 1, 2, 3
        XCTAssertEqual(allocator.freeFrameCount, 253)
        XCTAssertTrue(allocator.isFree(0x0))
        XCTAssertFalse(allocator.isFree(0x1000))
        XCTAssertFalse(allocator.isFree(0x3000))
        XCTAssertTrue(allocator.isFree(0x4000))
        allocator.reserve(PhysicalRange(start: 0x1000, end: 0x2000))   // already reserved
        XCTAssertEqual(allocator.freeFrameCount, 253)
        allocator.reserve(PhysicalRange(start: 0x5000, end: 0x5000))   // empty: nothing
        XCTAssertEqual(allocator.freeFrameCount, 253)
    }

    func testAllocatesLowestFirstAndCountsFrames() throws {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0x10000, end: 0x20000))  // 16 frames
        XCTAssertEqual(allocator.allocate(), 0x10000)
        XCTAssertEqual(allocator.allocate(), 0x11000)
        XCTAssertEqual(allocator.freeFrameCount, 14)
        try allocator.free(0x10000)
        XCTAssertEqual(allocator.freeFrameCount, 15)
        XCTAssertEqual(allocator.allocate(), 0x10000, "a freed frame below the hint is found again")
    }

    func testContiguousAlignedAndBelowLimit() throws {
        var (allocator, buffer) = makeAllocator(highest: 64 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0x1000, end: 64 << 20))
        // Fragment: a used frame every 8 frames in the first 1 MiB.
        for address in stride(from: UInt64(0x8000), to: 0x10_0000, by: 0x8000) {
            allocator.reserve(PhysicalRange(start: address, length: 0x1000))
        }
        let run = try XCTUnwrap(allocator.allocate(count: 7))
        XCTAssertEqual(run, 0x1000, "frames 1...7 are free and contiguous")
        let eight = try XCTUnwrap(allocator.allocate(count: 8))
        XCTAssertEqual(eight, 0xF_9000, "the first run of 8 straddles 1 MiB, past the last reserved frame")
        let aligned = try XCTUnwrap(allocator.allocate(count: 512, alignment: 2 << 20))
        XCTAssertEqual(aligned % (2 << 20), 0)
        XCTAssertEqual(aligned, 2 << 20)
        for index in 0..<512 { XCTAssertFalse(allocator.isFree(aligned + UInt64(index) * frame)) }
        XCTAssertNil(allocator.allocate(count: 8, below: 0x10_0000), "no 8-frame run ends below 1 MiB")
        let low = try XCTUnwrap(allocator.allocate(count: 1, below: 0x10_0000))
        XCTAssertLessThan(low + frame, 0x10_0001)
        XCTAssertNil(allocator.allocate(count: 1, below: 0x1000))
        XCTAssertNil(allocator.allocate(count: 0))
    }

    func testLimitIsAnEndNotAStart() {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0x4000, end: 0x6000))
        XCTAssertNil(allocator.allocate(count: 2, below: 0x5fff))
        XCTAssertEqual(allocator.allocate(count: 2, below: 0x6000), 0x4000)
    }

    func testExhaustionAndReuse() throws {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0, end: 1 << 20))
        var addresses: [UInt64] = []
        while let address = allocator.allocate() { addresses.append(address) }
        XCTAssertEqual(addresses.count, 256)
        XCTAssertEqual(Set(addresses).count, 256)
        XCTAssertEqual(allocator.freeFrameCount, 0)
        try allocator.free(addresses[100])
        XCTAssertEqual(allocator.allocate(), addresses[100])
        XCTAssertNil(allocator.allocate())
    }

    func testFreeErrorsLeaveStateUnchanged() throws {
        var (allocator, buffer) = makeAllocator(highest: 1 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0, end: 1 << 20))
        let run = try XCTUnwrap(allocator.allocate(count: 4))
        XCTAssertEqual(allocator.freeFrameCount, 252)
        XCTAssertThrowsError(try allocator.free(run + 1)) { XCTAssertEqual($0 as? FrameError, .misaligned(run + 1)) }
        XCTAssertThrowsError(try allocator.free(1 << 20)) { XCTAssertEqual($0 as? FrameError, .outOfRange(1 << 20)) }
        XCTAssertThrowsError(try allocator.free(0xFF000, count: 2)) { XCTAssertEqual($0 as? FrameError, .outOfRange(0xFF000)) }
        XCTAssertThrowsError(try allocator.free(run, count: 0)) { XCTAssertEqual($0 as? FrameError, .outOfRange(run)) }
        // Frames 4 and beyond were never allocated: freeing 0...4 must fail and free nothing.
        XCTAssertThrowsError(try allocator.free(run, count: 5)) {
            XCTAssertEqual($0 as? FrameError, .notAllocated(run + 4 * frame))
        }
        XCTAssertEqual(allocator.freeFrameCount, 252)
        XCTAssertFalse(allocator.isFree(run))
        try allocator.free(run, count: 4)
        XCTAssertEqual(allocator.freeFrameCount, 256)
        XCTAssertThrowsError(try allocator.free(run + frame)) {
            XCTAssertEqual($0 as? FrameError, .notAllocated(run + frame))
        }
        XCTAssertEqual(allocator.freeFrameCount, 256)
    }

    func testRandomAgainstModel() throws {
        var (allocator, buffer) = makeAllocator(highest: 4 << 20)
        _ = buffer
        allocator.release(PhysicalRange(start: 0, end: 4 << 20))
        var model = [Bool](repeating: false, count: 1024)   // true = allocated
        var live: [(UInt64, Int)] = []
        var random = SplitMix64(seed: 7)
        for _ in 0..<5000 {
            if live.isEmpty || Bool.random(using: &random) {
                let count = Int.random(in: 1...20, using: &random)
                let alignment: UInt64 = [4096, 8192, 65536].randomElement(using: &random)!
                if let address = allocator.allocate(count: count, alignment: alignment) {
                    XCTAssertEqual(address % alignment, 0)
                    let first = Int(address / frame)
                    for index in first..<first + count {
                        XCTAssertFalse(model[index], "frame \(index) handed out twice")
                        model[index] = true
                    }
                    live.append((address, count))
                }
            } else {
                let (address, count) = live.remove(at: Int.random(in: 0..<live.count, using: &random))
                try allocator.free(address, count: count)
                let first = Int(address / frame)
                for index in first..<first + count { model[index] = false }
            }
            XCTAssertEqual(allocator.freeFrameCount, model.filter { !$0 }.count)
        }
    }

    func testFindPlacement() {
        let available = [PhysicalRange(start: 0, end: 0x9_F000),
                         PhysicalRange(start: 0x10_0000, end: 0x800_0000)]
        let reserved = [PhysicalRange(start: 0x10_0000, end: 0x20_0123),    // kernel image
                        PhysicalRange(start: 0x20_3000, end: 0x20_4000)]    // boot information
        XCTAssertEqual(FrameAllocator.findPlacement(bytes: 0x3000, in: available, avoiding: reserved, above: 0x10_0000),
                       0x20_1000 + 0x3000, "0x201000..0x204000 collides with boot information")
        XCTAssertEqual(FrameAllocator.findPlacement(bytes: 0x2000, in: available, avoiding: reserved, above: 0x10_0000),
                       0x20_1000)
        XCTAssertEqual(FrameAllocator.findPlacement(bytes: 0x1000, in: available, avoiding: reserved, above: 0),
                       0, "lowest address first")
        XCTAssertEqual(FrameAllocator.findPlacement(bytes: 0x1000, in: available.reversed(), avoiding: reserved, above: 0),
                       0, "the lowest across regions, whatever their order")
        XCTAssertNil(FrameAllocator.findPlacement(bytes: 0x800_0000, in: available, avoiding: reserved, above: 0))
        XCTAssertNil(FrameAllocator.findPlacement(bytes: 0x1000, in: [PhysicalRange](), avoiding: reserved, above: 0))
        XCTAssertEqual(FrameAllocator.findPlacement(bytes: 10, in: available.lazy.map { $0 }, avoiding: [PhysicalRange](),
                                                    above: 0x9_E001), 0x10_0000, "above is rounded up to a frame")
    }
}
