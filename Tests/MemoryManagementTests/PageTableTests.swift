/// Tests of x86-64 page tables over fake table memory: map, translate, split, unmap, protect.
import Paging
import XCTest
@testable import MemoryManagement

final class PageTableTests: XCTestCase {
    let kib4: UInt64 = 4096
    let mib2: UInt64 = 2 << 20

    func makeSpace(frames: Int = 64) throws -> (AddressSpace<FakePageTableMemory>, FakeFramePool) {
        let pool = FakeFramePool(frames: frames)
        return (try AddressSpace(memory: FakePageTableMemory(pool: pool)), pool)
    }

    /// The one page size is what a page-table entry maps (Intel SDM vol 3A §4.5), and a
    /// page-directory entry maps 512 of them.
    func testThePageSizeIsWhatATableEntryMaps() {
        XCTAssertEqual(PageTableLevel.pageTable.coverage, Page.size64)
        XCTAssertEqual(PageTableLevel.pageDirectory.coverage, 512 * Page.size64)
        XCTAssertEqual(AddressSpace<FakePageTableMemory>.smallPageSize, Page.size64)
    }

    func testEntryBits() {
        var entry = PageTableEntry(rawValue: 0)
        entry.present = true
        entry.writable = true
        entry.noExecute = true
        entry.physicalAddress = 0x12_3456_7000
        XCTAssertEqual(entry.rawValue, 0x8000_0012_3456_7003)
        entry.largePage = true
        entry.global = true
        XCTAssertEqual(entry.rawValue, 0x8000_0012_3456_7183)
        XCTAssertEqual(entry.pageAddress(pageSize: 2 << 20), 0x12_3440_0000)
        XCTAssertEqual(entry.attributes, [.writable, .noExecute, .global])
        entry.setAttributes([.user, .cacheDisabled, .writeThrough])
        XCTAssertEqual(entry.rawValue, 0x0000_0012_3456_709D)
        XCTAssertEqual(PageTableEntry.table(physical: 0x5000, user: false).rawValue, 0x5003)
        XCTAssertEqual(PageTableEntry.leaf(physical: 0x20_0000, attributes: [], largePage: true).rawValue, 0x20_0081)
    }

    func testNewSpaceHasAClearedRoot() throws {
        let (space, pool) = try makeSpace()
        XCTAssertEqual(space.rootPhysicalAddress, pool.physicalBase)
        let root = pool.pointer(space.rootPhysicalAddress)
        XCTAssertTrue((0..<512).allSatisfy { root[$0] == 0 }, "the pool hands out dirty frames: the root must be cleared")
        XCTAssertNil(space.translate(0))
    }

    func testMap4KiBAndTranslate() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x40_1000, physical: 0x9000_3000, byteCount: 3 * kib4, attributes: [.writable, .noExecute])
        XCTAssertEqual(pool.used, 4, "root, PDPT, directory and one page table")
        let hit = try XCTUnwrap(space.translate(0x40_2abc))
        XCTAssertEqual(hit.physical, 0x9000_4abc)
        XCTAssertEqual(hit.attributes, [.writable, .noExecute])
        XCTAssertEqual(hit.pageSize, kib4)
        XCTAssertNil(space.translate(0x40_0fff))
        XCTAssertNil(space.translate(0x40_4000))
        // Intermediate entries are permissive: writable, executable, not user (no user leaf).
        let root = PageTableEntry(rawValue: pool.pointer(space.rootPhysicalAddress)[0])
        XCTAssertTrue(root.present && root.writable && !root.noExecute && !root.user)
    }

    func testMapUses2MiBPagesWhereAlignmentAllows() throws {
        var (space, pool) = try makeSpace()
        // 1 MiB below a 2 MiB boundary, through two full 2 MiB pages, and 12 KiB more.
        let start: UInt64 = 0x20_0000 - 0x10_0000
        let size = 0x10_0000 + 2 * mib2 + 3 * kib4
        try space.map(virtual: start, physical: start, byteCount: size, attributes: [.writable])
        XCTAssertEqual(space.translate(start)?.pageSize, kib4)
        XCTAssertEqual(space.translate(0x20_0000)?.pageSize, mib2)
        XCTAssertEqual(space.translate(0x5F_FFFF)?.pageSize, mib2)
        XCTAssertEqual(space.translate(0x5F_FFFF)?.physical, 0x5F_FFFF)
        XCTAssertEqual(space.translate(0x60_2000)?.pageSize, kib4)
        XCTAssertNil(space.translate(0x60_3000))
        XCTAssertEqual(pool.used, 5, "root, PDPT, directory, and page tables for the two 4 KiB ends")
        // Same request with large pages off: all 4 KiB.
        var (small, _) = try makeSpace()
        try small.map(virtual: start, physical: start, byteCount: size, attributes: [.writable], largePages: false)
        XCTAssertEqual(small.translate(0x30_0000)?.pageSize, kib4)
        // Physical not 2 MiB aligned: 4 KiB pages even though virtual is.
        var (shifted, _) = try makeSpace()
        try shifted.map(virtual: 0x20_0000, physical: 0x20_1000, byteCount: mib2, attributes: [])
        XCTAssertEqual(shifted.translate(0x20_0000)?.pageSize, kib4)
        XCTAssertEqual(shifted.translate(0x3F_F000)?.physical, 0x40_0000)
    }

    func testHighHalfAddresses() throws {
        var (space, _) = try makeSpace()
        let kernelBase: UInt64 = 0xFFFF_FFFF_8000_0000
        try space.map(virtual: kernelBase, physical: 0, byteCount: 4 * mib2, attributes: [.global])
        XCTAssertEqual(space.translate(kernelBase + 0x12_3456)?.physical, 0x12_3456)
        XCTAssertEqual(space.translate(kernelBase + 0x12_3456)?.attributes, [.global])
        // The very top of the address space.
        try space.map(virtual: 0xFFFF_FFFF_FFFF_F000, physical: 0x1000, byteCount: kib4, attributes: [])
        XCTAssertEqual(space.translate(0xFFFF_FFFF_FFFF_FFFF)?.physical, 0x1FFF)
        try space.unmap(virtual: 0xFFFF_FFFF_FFFF_F000, byteCount: kib4)
        XCTAssertNil(space.translate(0xFFFF_FFFF_FFFF_F000))
    }

    func testUnmapInsideA2MiBPageSplitsAndKeepsNeighbours() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x4000_0000, physical: 0x8000_0000, byteCount: mib2,
                      attributes: [.writable, .noExecute, .global])
        XCTAssertEqual(space.translate(0x4000_0000)?.pageSize, mib2)
        let tablesBefore = pool.used
        try space.unmap(virtual: 0x4000_5000, byteCount: 2 * kib4)
        XCTAssertEqual(pool.used, tablesBefore + 1, "one page table for the split")
        XCTAssertNil(space.translate(0x4000_5000))
        XCTAssertNil(space.translate(0x4000_6fff))
        for page in UInt64(0)..<512 where page != 5 && page != 6 {
            let virtual = 0x4000_0000 + page * kib4
            let hit = try XCTUnwrap(space.translate(virtual + 0x10), "page \(page)")
            XCTAssertEqual(hit.physical, 0x8000_0000 + page * kib4 + 0x10)
            XCTAssertEqual(hit.pageSize, kib4)
            XCTAssertEqual(hit.attributes, [.writable, .noExecute, .global])
        }
    }

    func testSplitMovesThePATBit() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x20_0000, physical: 0x20_0000, byteCount: mib2, attributes: [.writable])
        // Set PAT (bit 12) and accessed/dirty on the large page by hand, as firmware or the CPU might.
        guard case .mapped(let leaf) = space.walk(0x20_0000) else { return XCTFail("not mapped") }
        leaf.slot.pointee |= PageTableEntry.Bit.largePageAttributeTable | PageTableEntry.Bit.accessed | PageTableEntry.Bit.dirty
        XCTAssertEqual(space.translate(0x20_0000)?.physical, 0x20_0000, "PAT is not part of the address")
        try space.unmap(virtual: 0x20_0000, byteCount: kib4)
        guard case .mapped(let small) = space.walk(0x20_1000) else { return XCTFail("neighbour lost") }
        XCTAssertEqual(small.level, .pageTable)
        XCTAssertEqual(small.entry.rawValue, 0x20_1000 | 0x80 | 0x40 | 0x20 | 0x3, "PAT at bit 7, A and D kept")
        _ = pool
    }

    func testProtectSplitsOnlyWhereNeeded() throws {
        var (space, _) = try makeSpace()
        try space.map(virtual: 0x20_0000, physical: 0x20_0000, byteCount: 2 * mib2, attributes: [.writable, .noExecute])
        // Whole 2 MiB page: stays large.
        try space.protect(virtual: 0x40_0000, byteCount: mib2, attributes: [.noExecute])
        XCTAssertEqual(space.translate(0x40_0000)?.pageSize, mib2)
        XCTAssertEqual(space.translate(0x40_0000)?.attributes, [.noExecute])
        // Part of the first: split; 3 pages become executable read-only (byte count rounded up).
        try space.protect(virtual: 0x30_0000, byteCount: 2 * kib4 + 1, attributes: [])
        XCTAssertEqual(space.translate(0x30_0000)?.attributes, [])
        XCTAssertEqual(space.translate(0x30_2000)?.attributes, [])
        XCTAssertEqual(space.translate(0x30_3000)?.attributes, [.writable, .noExecute])
        XCTAssertEqual(space.translate(0x2F_F000)?.attributes, [.writable, .noExecute])
        XCTAssertEqual(space.translate(0x30_2000)?.physical, 0x30_2000)
        XCTAssertEqual(space.translate(0x30_2000)?.pageSize, kib4)
    }

    func testUserLeafMakesPathUser() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x1000, physical: 0x1000, byteCount: kib4, attributes: [])
        var root = PageTableEntry(rawValue: pool.pointer(space.rootPhysicalAddress)[0])
        XCTAssertFalse(root.user)
        try space.protect(virtual: 0x1000, byteCount: kib4, attributes: [.user, .writable])
        root = PageTableEntry(rawValue: pool.pointer(space.rootPhysicalAddress)[0])
        XCTAssertTrue(root.user)
        XCTAssertEqual(space.translate(0x1000)?.attributes, [.user, .writable])
        try space.map(virtual: 0x8000_0000_0000 - 0x1000, physical: 0x2000, byteCount: kib4, attributes: [.user])
        XCTAssertTrue(PageTableEntry(rawValue: pool.pointer(space.rootPhysicalAddress)[255]).user)
    }

    func testErrors() throws {
        var (space, _) = try makeSpace()
        XCTAssertThrowsError(try space.map(virtual: 0x1001, physical: 0, byteCount: kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .misaligned)
        }
        XCTAssertThrowsError(try space.map(virtual: 0x1000, physical: 0x10, byteCount: kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .misaligned)
        }
        XCTAssertThrowsError(try space.map(virtual: 0x0000_8000_0000_0000, physical: 0, byteCount: kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .nonCanonical(0x0000_8000_0000_0000))
        }
        XCTAssertThrowsError(try space.map(virtual: 0x0000_7FFF_FFFF_F000, physical: 0, byteCount: 2 * kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .nonCanonical(0x0000_8000_0000_0FFF), "the range runs into the hole")
        }
        XCTAssertThrowsError(try space.map(virtual: 0xFFFF_FFFF_FFFF_F000, physical: 0, byteCount: 2 * kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .nonCanonical(0xFFFF_FFFF_FFFF_F000), "the range wraps")
        }
        XCTAssertThrowsError(try space.map(virtual: 0, physical: 1 << 52, byteCount: kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .physicalAddressTooHigh(1 << 52))
        }
        try space.map(virtual: 0x20_0000, physical: 0, byteCount: mib2, attributes: [])
        XCTAssertThrowsError(try space.map(virtual: 0x1F_0000, physical: 0, byteCount: 0x2_0000, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .alreadyMapped(virtual: 0x20_0000))
        }
        XCTAssertNil(space.translate(0x1F_0000), "a failed map changes nothing")
        XCTAssertThrowsError(try space.unmap(virtual: 0x3F_F000, byteCount: 2 * kib4)) {
            XCTAssertEqual($0 as? PagingError, .notMapped(virtual: 0x40_0000))
        }
        XCTAssertEqual(space.translate(0x3F_F000)?.pageSize, mib2, "a failed unmap changes nothing")
        XCTAssertThrowsError(try space.protect(virtual: 0x1000_0000, byteCount: kib4, attributes: [])) {
            XCTAssertEqual($0 as? PagingError, .notMapped(virtual: 0x1000_0000))
        }
        XCTAssertThrowsError(try space.unmap(virtual: 0xFFFF_0000_0000_0000, byteCount: kib4)) {
            XCTAssertEqual($0 as? PagingError, .nonCanonical(0xFFFF_0000_0000_0000))
        }
    }

    func testOutOfMemory() throws {
        let pool = FakeFramePool(frames: 4)
        pool.budget = 0
        XCTAssertThrowsError(try AddressSpace(memory: FakePageTableMemory(pool: pool))) {
            XCTAssertEqual($0 as? PagingError, .outOfMemory)
        }
        pool.budget = 4
        var space = try AddressSpace(memory: FakePageTableMemory(pool: pool))
        // Root + PDPT + directory + one page table fit; a second page table does not.
        try space.map(virtual: 0, physical: 0, byteCount: mib2, attributes: [])   // one large page
        XCTAssertEqual(pool.used, 3)
        XCTAssertThrowsError(try space.map(virtual: 0x40_0000, physical: 0x40_0000, byteCount: mib2 + 2 * mib2,
                                           attributes: [], largePages: false)) {
            XCTAssertEqual($0 as? PagingError, .outOfMemory)
        }
        XCTAssertNil(space.translate(0x40_0000), "the part mapped before running out is rolled back")
        XCTAssertNil(space.translate(0x5F_F000))
        // Splitting needs a frame too: unmap fails and leaves the large page whole.
        pool.budget = pool.used
        XCTAssertThrowsError(try space.unmap(virtual: 0x1000, byteCount: kib4)) {
            XCTAssertEqual($0 as? PagingError, .outOfMemory)
        }
        XCTAssertEqual(space.translate(0x1000)?.pageSize, mib2)
        XCTAssertEqual(space.translate(0x1000)?.physical, 0x1000)
    }

    func testRemapAfterUnmapReusesTheTable() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x20_0000, physical: 0x20_0000, byteCount: mib2, attributes: [])
        try space.unmap(virtual: 0x20_0000, byteCount: kib4)
        try space.unmap(virtual: 0x20_1000, byteCount: mib2 - kib4)
        XCTAssertNil(space.translate(0x30_0000))
        let used = pool.used
        try space.map(virtual: 0x20_0000, physical: 0x60_0000, byteCount: mib2, attributes: [.writable])
        XCTAssertEqual(pool.used, used, "the empty page table is filled again, no new frame")
        XCTAssertEqual(space.translate(0x2F_F123)?.physical, 0x6F_F123)
        XCTAssertEqual(space.translate(0x2F_F123)?.pageSize, kib4)
    }

    func testAdoptExistingTables() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x10_0000, physical: 0x10_0000, byteCount: kib4, attributes: [.writable])
        let adopted = AddressSpace(root: space.rootPhysicalAddress, memory: FakePageTableMemory(pool: pool))
        XCTAssertEqual(adopted.translate(0x10_0010)?.physical, 0x10_0010)
        XCTAssertEqual(adopted.rootPhysicalAddress, space.rootPhysicalAddress)
    }

    func testAdopted1GiBPageSplitsInTwoSteps() throws {
        var (space, pool) = try makeSpace()
        try space.map(virtual: 0x1000, physical: 0x1000, byteCount: kib4, attributes: [])   // creates PDPT
        // Hand-write a 1 GiB page at 1 GiB (PDPTE index 1), as a boot stub might.
        let pml4e = PageTableEntry(rawValue: pool.pointer(space.rootPhysicalAddress)[0])
        pool.pointer(pml4e.physicalAddress)[1] = PageTableEntry.leaf(physical: 0x4000_0000, attributes: [.writable],
                                                                     largePage: true).rawValue
        XCTAssertEqual(space.translate(0x7FFF_FFFF)?.pageSize, 1 << 30)
        try space.unmap(virtual: 0x4060_3000, byteCount: kib4)
        XCTAssertNil(space.translate(0x4060_3000))
        XCTAssertEqual(space.translate(0x4060_4000)?.pageSize, kib4)
        XCTAssertEqual(space.translate(0x4080_0000)?.pageSize, mib2)
        XCTAssertEqual(space.translate(0x7FFF_FFFF)?.physical, 0x7FFF_FFFF)
        XCTAssertEqual(space.translate(0x7FFF_FFFF)?.attributes, [.writable])
    }
}
