/// An x86-64 4-level address space: walking, mapping and translating (Intel SDM vol 3A §4.5).
import Paging

/// One set of page tables, rooted at a PML4, edited through `Memory`.
///
/// Intermediate entries are permissive (present, writable, executable; user as soon as any
/// leaf below is user) so that the leaf entries alone decide access.
///
/// TLB: nothing here flushes. After `unmap` or `protect` (and `map` over previously used
/// addresses) the caller must invalidate every page of the range on every CPU that may
/// cache it (INVLPG per page, or reload CR3; global pages need INVLPG or CR4.PGE toggling).
/// Splitting a large page keeps its translations but changes the page size, which also calls
/// for invalidation (§4.10.2.3); flushing the whole range the call named covers it, because
/// INVLPG on any address of a large page drops that large page.
public struct AddressSpace<Memory: PageTableMemory> {
    /// Where table frames come from.
    public internal(set) var memory: Memory
    /// The PML4's physical address, for CR3.
    public let rootPhysicalAddress: UInt64

    /// Bytes in a 4 KiB page (`Page.size`; a page-table entry's reach is the same, which
    /// `PageTableTests` checks).
    public static var smallPageSize: UInt64 { Page.size64 }
    /// Bytes in a 2 MiB page.
    public static var largePageSize: UInt64 { PageTableLevel.pageDirectory.coverage }

    /// A new, empty address space; allocates its PML4.
    public init(memory: Memory) throws(PagingError) {
        var memory = memory
        guard let root = memory.allocateTableFrame() else { throw .outOfMemory }
        memory.table(at: root).initialize(repeating: 0, count: PageTableLevel.entryCount)
        self.memory = memory
        self.rootPhysicalAddress = root
    }

    /// Adopts existing tables rooted at `root` (for example the boot stub's).
    public init(root: UInt64, memory: Memory) {
        self.memory = memory
        self.rootPhysicalAddress = root
    }

    // MARK: Walking

    /// The present leaf entry mapping `virtual`: where it is stored and at which level.
    struct Leaf {
        /// The entry's slot in its table.
        let slot: UnsafeMutablePointer<UInt64>
        /// The level of the table holding it (page table: 4 KiB; directory: 2 MiB; PDPT: 1 GiB).
        let level: PageTableLevel
        /// The entry itself.
        var entry: PageTableEntry { PageTableEntry(rawValue: slot.pointee) }
        /// The first virtual address the leaf maps, given any address inside it.
        func base(of virtual: UInt64) -> UInt64 { virtual & ~(level.coverage - 1) }
    }

    /// What the walk for one address found: a leaf, or the level whose entry was not present.
    enum Walk {
        case mapped(Leaf)
        case hole(level: PageTableLevel)
    }

    /// Walks the tables for `virtual` (canonical) without changing anything.
    func walk(_ virtual: UInt64) -> Walk {
        var table = rootPhysicalAddress
        var level = PageTableLevel.pageMapLevel4
        while true {
            let slot = memory.table(at: table) + level.index(of: virtual)
            let entry = PageTableEntry(rawValue: slot.pointee)
            guard entry.present else { return .hole(level: level) }
            if level == .pageTable || (level.canMapPage && entry.largePage) {
                return .mapped(Leaf(slot: slot, level: level))
            }
            table = entry.physicalAddress
            level = level.lower!
        }
    }

    /// The physical address, attributes and page size `virtual` maps to, or nil if unmapped
    /// (or non-canonical).
    public func translate(_ virtual: UInt64) -> (physical: UInt64, attributes: PageAttributes, pageSize: UInt64)? {
        guard VirtualAddress.isCanonical(virtual), case .mapped(let leaf) = walk(virtual) else { return nil }
        let size = leaf.level.coverage
        return (leaf.entry.pageAddress(pageSize: size) + (virtual & (size - 1)), leaf.entry.attributes, size)
    }

    /// The first address in `virtual ..< virtual + byteCount` that is mapped (`wantMapped`) or
    /// not mapped (`!wantMapped`), or nil. Unmapped stretches are skipped a whole missing
    /// table at a time, mapped ones a whole page at a time.
    public func firstAddress(mapped wantMapped: Bool, from virtual: UInt64, byteCount: UInt64) -> UInt64? {
        let last = virtual + (byteCount - 1)
        var address = virtual
        while true {
            let step: UInt64
            switch walk(address) {
            case .mapped(let leaf):
                if wantMapped { return address }
                step = leaf.level.coverage
            case .hole(let level):
                if !wantMapped { return address }
                step = level.coverage
            }
            let (next, overflow) = (address & ~(step - 1)).addingReportingOverflow(step)
            guard !overflow, next <= last else { return nil }
            address = next
        }
    }

    /// Checks a range's alignment and canonicality; returns its byte count rounded up to
    /// whole 4 KiB pages.
    static func checkedRange(virtual: UInt64, byteCount: UInt64) throws(PagingError) -> UInt64 {
        guard virtual % smallPageSize == 0 else { throw .misaligned }
        guard VirtualAddress.isCanonical(virtual) else { throw .nonCanonical(virtual) }
        guard let size = PhysicalRange.alignUp(byteCount, to: smallPageSize) else { throw .nonCanonical(virtual) }
        let (last, overflow) = virtual.addingReportingOverflow(size - 1)
        // Both ends canonical and on the same side of the hole: the range holds no hole.
        guard !overflow, VirtualAddress.isCanonical(last), last >> 47 == virtual >> 47 else {
            throw .nonCanonical(overflow ? virtual : last)
        }
        return size
    }

    // MARK: Mapping

    /// Maps `virtual ..< virtual + byteCount` to `physical` onward with `attributes`.
    /// Uses 2 MiB pages where both addresses are 2 MiB aligned, at least 2 MiB remain and
    /// `largePages` is true (and no page table is already there), 4 KiB pages elsewhere.
    /// `byteCount` is rounded up to whole pages; 0 maps nothing.
    ///
    /// Throws `misaligned`, `nonCanonical`, `physicalAddressTooHigh` or `alreadyMapped` (for
    /// the first mapped page) before changing anything. On `outOfMemory` the pages mapped so
    /// far are unmapped again (tables already allocated stay, empty).
    public mutating func map(virtual: UInt64, physical: UInt64, byteCount: UInt64,
                             attributes: PageAttributes, largePages: Bool = true) throws(PagingError) {
        guard byteCount > 0 else { return }
        guard physical % Self.smallPageSize == 0 else { throw .misaligned }
        let size = try Self.checkedRange(virtual: virtual, byteCount: byteCount)
        let (physicalEnd, overflow) = physical.addingReportingOverflow(size)
        guard !overflow, physicalEnd <= 1 << 52 else { throw .physicalAddressTooHigh(overflow ? physical : max(physical, 1 << 52)) }
        if let mapped = firstAddress(mapped: true, from: virtual, byteCount: size) { throw .alreadyMapped(virtual: mapped) }

        let large = Self.largePageSize
        var offset: UInt64 = 0
        while offset < size {
            let address = virtual + offset
            let frame = physical + offset
            var level = PageTableLevel.pageTable
            if largePages && address % large == 0 && frame % large == 0 && size - offset >= large {
                // A directory entry already pointing to a (now empty) page table stays: fill it.
                if case .hole(let holeLevel) = walk(address), holeLevel.rawValue >= PageTableLevel.pageDirectory.rawValue {
                    level = .pageDirectory
                }
            }
            do throws(PagingError) {
                let slot = try slotCreatingTables(for: address, at: level, user: attributes.contains(.user))
                slot.pointee = PageTableEntry.leaf(physical: frame, attributes: attributes,
                                                   largePage: level != .pageTable).rawValue
            } catch {
                if offset > 0 { clearLeaves(virtual: virtual, byteCount: offset) }
                throw error
            }
            offset += level.coverage
        }
    }

    /// The slot for `virtual`'s entry in the table at `level`, creating missing tables on the
    /// way and making existing intermediate entries permissive. A large page in the way means
    /// the address is mapped already.
    private mutating func slotCreatingTables(for virtual: UInt64, at level: PageTableLevel,
                                             user: Bool) throws(PagingError) -> UnsafeMutablePointer<UInt64> {
        var table = rootPhysicalAddress
        var current = PageTableLevel.pageMapLevel4
        while current != level {
            let slot = memory.table(at: table) + current.index(of: virtual)
            var entry = PageTableEntry(rawValue: slot.pointee)
            if !entry.present {
                guard let frame = memory.allocateTableFrame() else { throw .outOfMemory }
                memory.table(at: frame).initialize(repeating: 0, count: PageTableLevel.entryCount)
                entry = .table(physical: frame, user: user)
            } else if current.canMapPage && entry.largePage {
                throw .alreadyMapped(virtual: virtual)
            } else {
                entry.writable = true
                entry.noExecute = false
                if user { entry.user = true }
            }
            slot.pointee = entry.rawValue
            table = entry.physicalAddress
            current = current.lower!
        }
        return memory.table(at: table) + current.index(of: virtual)
    }
}
