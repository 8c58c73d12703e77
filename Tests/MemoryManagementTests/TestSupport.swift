/// Shared test helpers: a seeded random generator, aligned host buffers, fake table memory.
import MemoryManagement

/// SplitMix64: deterministic, so a failing randomized test fails the same way every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
