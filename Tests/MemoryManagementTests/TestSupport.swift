/// Memory-management test helpers: aligned host buffers and fake page-table memory.
import MemoryManagement

/// Host memory with a chosen alignment, freed when the test ends.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    init(byteCount: Int, alignment: Int = 4096) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0xCC, count: byteCount)
    }
    deinit { pointer.deallocate() }
    var address: UInt { UInt(bitPattern: pointer) }
}

/// Table frames from a host buffer posing as physical memory at `physicalBase`; a frame
/// budget makes out-of-memory testable. Frames are handed out dirty (0xCC) on purpose: the
/// mapper must clear them.
final class FakeFramePool {
    let buffer: AlignedBuffer
    let physicalBase: UInt64 = 0x4000_0000
    var used = 0
    var budget: Int
    init(frames: Int) {
        buffer = AlignedBuffer(byteCount: frames * 4096)
        budget = frames
    }
    func allocate() -> UInt64? {
        guard used < budget else { return nil }
        defer { used += 1 }
        return physicalBase + UInt64(used) * 4096
    }
    func pointer(_ physical: UInt64) -> UnsafeMutablePointer<UInt64> {
        precondition(physical >= physicalBase && physical < physicalBase + UInt64(budget) * 4096 && physical % 4096 == 0,
                     "table address \(physical) is not a frame of the pool")
        return (buffer.pointer + Int(physical - physicalBase)).assumingMemoryBound(to: UInt64.self)
    }
}

/// `PageTableMemory` over a `FakeFramePool`.
struct FakePageTableMemory: PageTableMemory {
    let pool: FakeFramePool
    mutating func allocateTableFrame() -> UInt64? { pool.allocate() }
    func table(at physicalAddress: UInt64) -> UnsafeMutablePointer<UInt64> { pool.pointer(physicalAddress) }
}
