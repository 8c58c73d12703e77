/// The four levels of x86-64 4-level paging and how a virtual address indexes them.

/// A level of the paging hierarchy, named by the table at that level.
/// Intel SDM vol 3A §4.5.4, figure 4-8: bits 47:39, 38:30, 29:21 and 20:12 of the linear
/// address index the PML4, page-directory-pointer table, page directory and page table.
enum PageTableLevel: Int {
    case pageTable = 1
    case pageDirectory = 2
    case pageDirectoryPointerTable = 3
    case pageMapLevel4 = 4

    /// Entries per table at every level.
    static let entryCount = 512

    /// The lowest virtual-address bit this level's index uses.
    var shift: UInt64 { 12 + 9 * UInt64(rawValue - 1) }
    /// Bytes one entry of this level covers (the page size if it is a leaf).
    var coverage: UInt64 { 1 << shift }
    /// The entry index `virtual` selects in a table of this level.
    func index(of virtual: UInt64) -> Int { Int((virtual >> shift) & 511) }
    /// The level below (nil for page tables).
    var lower: PageTableLevel? { PageTableLevel(rawValue: rawValue - 1) }
    /// Whether an entry at this level may map a page directly (4 KiB, 2 MiB with PS, 1 GiB with PS).
    var canMapPage: Bool { rawValue <= 3 }
}

/// Canonical-address rules: Intel SDM vol 3A §3.3.7.1 (bits 63:47 all equal with 48-bit
/// linear addresses).
enum VirtualAddress {
    /// Whether `address` is canonical.
    static func isCanonical(_ address: UInt64) -> Bool {
        let top = address >> 47
        return top == 0 || top == 0x1_FFFF
    }
}
