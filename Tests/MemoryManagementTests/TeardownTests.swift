/// Taking an address space apart: every table frame it allocated, once, the shared kernel entry left alone.
import XCTest
@testable import MemoryManagement

final class TeardownTests: XCTestCase {
    func testEveryOwnTableFrameOnceAndNoSharedOne() throws {
        let pool = FakeFramePool(frames: 64)
        var space = try AddressSpace(memory: FakePageTableMemory(pool: pool))
        // A program's layout: image, stack, channel (three PML4 entries), one 2 MiB page, and
        // a "kernel" mapping under entry 0 that stands for the shared identity map.
        try space.map(virtual: 0x4000_0000_0000, physical: 0x10_0000, byteCount: 0x3000, attributes: .user, largePages: false)
        try space.map(virtual: 0x4000_0020_0000, physical: 0x40_0000, byteCount: 0x20_0000, attributes: .user, largePages: true)
        try space.map(virtual: 0x5000_0000_0000 - 0x1_0000, physical: 0x20_0000, byteCount: 0x1_0000, attributes: .user, largePages: false)
        try space.map(virtual: 0x6000_0000_0000, physical: 0x30_0000, byteCount: 0x8000, attributes: .user, largePages: false)
        try space.map(virtual: 0x1000, physical: 0x1000, byteCount: 0x1000, attributes: [], largePages: false)
        let allocated = pool.used
        let kernelTables = 3   // PDPT, PD, PT under entry 0
        let frames = space.ownTableFrames(sharing: [0])
        XCTAssertEqual(Set(frames).count, frames.count, "each frame once")
        XCTAssertEqual(frames.count, allocated - kernelTables, "every table but the shared ones")
        XCTAssertEqual(frames.last, space.rootPhysicalAddress, "the PML4 last")
        let shared = space.ownTableFrames(sharing: [])
        XCTAssertEqual(shared.count, allocated, "without sharing, every table the pool gave")
    }
}
