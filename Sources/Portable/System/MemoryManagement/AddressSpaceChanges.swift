/// Unmapping and changing protection, splitting large pages where a range ends inside one.

extension AddressSpace {
    /// Unmaps `virtual ..< virtual + byteCount` (rounded up to 4 KiB pages). A large page only
    /// partly inside the range is first split into smaller pages that keep its mapping and
    /// attributes. Throws `notMapped` (for the first unmapped page) before changing anything;
    /// on `outOfMemory` during a split nothing is unmapped and every translation is unchanged.
    /// Empty tables are kept. The caller flushes the TLB (see `AddressSpace`).
    public mutating func unmap(virtual: UInt64, byteCount: UInt64) throws(PagingError) {
        guard byteCount > 0 else { return }
        let size = try Self.checkedRange(virtual: virtual, byteCount: byteCount)
        if let missing = firstAddress(mapped: false, from: virtual, byteCount: size) { throw .notMapped(virtual: missing) }
        try splitLargePages(around: virtual, byteCount: size)
        clearLeaves(virtual: virtual, byteCount: size)
    }

    /// Gives every page of `virtual ..< virtual + byteCount` (rounded up to 4 KiB pages) the
    /// attributes `attributes`, keeping addresses, page sizes where possible, and the accessed,
    /// dirty and PAT bits. Splits large pages only partly inside the range. Throws like
    /// `unmap`. The caller flushes the TLB (see `AddressSpace`).
    public mutating func protect(virtual: UInt64, byteCount: UInt64, attributes: PageAttributes) throws(PagingError) {
        guard byteCount > 0 else { return }
        let size = try Self.checkedRange(virtual: virtual, byteCount: byteCount)
        if let missing = firstAddress(mapped: false, from: virtual, byteCount: size) { throw .notMapped(virtual: missing) }
        try splitLargePages(around: virtual, byteCount: size)
        let user = attributes.contains(.user)
        var offset: UInt64 = 0
        while offset < size {
            guard case .mapped(let leaf) = walk(virtual + offset) else { preconditionFailure("mapping vanished") }
            var entry = leaf.entry
            entry.setAttributes(attributes)
            if user { grantUserAccess(toward: virtual + offset, above: leaf.level) }
            leaf.slot.pointee = entry.rawValue
            offset += leaf.level.coverage
        }
    }

    /// Splits the large pages that hold the range's first byte or the byte after its end
    /// without starting there, so that every page the range touches lies wholly inside it.
    /// All splits happen before any entry changes, so running out of memory changes nothing
    /// visible.
    private mutating func splitLargePages(around virtual: UInt64, byteCount: UInt64) throws(PagingError) {
        try splitUntilBoundary(at: virtual)
        let (end, overflow) = virtual.addingReportingOverflow(byteCount)
        if !overflow && VirtualAddress.isCanonical(end) { try splitUntilBoundary(at: end) }
    }

    /// Splits the large page holding `address`, and then the smaller one holding it, until
    /// `address` starts a page (or is unmapped).
    private mutating func splitUntilBoundary(at address: UInt64) throws(PagingError) {
        while case .mapped(let leaf) = walk(address), leaf.level != .pageTable,
              address & (leaf.level.coverage - 1) != 0 {
            try split(leaf, containing: address)
        }
    }

    /// Replaces a large-page leaf with a table of 512 smaller leaves mapping the same memory
    /// with the same attributes (a 1 GiB page becomes 2 MiB pages, a 2 MiB page 4 KiB pages).
    /// The PAT bit moves from bit 12 (large-page entries) to bit 7 (page-table entries).
    private mutating func split(_ leaf: Leaf, containing address: UInt64) throws(PagingError) {
        let large = leaf.entry
        let lower = leaf.level.lower!
        let smallSize = lower.coverage
        let base = large.pageAddress(pageSize: leaf.level.coverage)
        guard let frame = memory.allocateTableFrame() else { throw .outOfMemory }
        let table = memory.table(at: frame)

        // Everything but the address, PS and both PAT positions carries over unchanged.
        let kept = large.rawValue & ~(PageTableEntry.Bit.address | PageTableEntry.Bit.largePage
                                      | PageTableEntry.Bit.largePageAttributeTable)
        let attributeTable = large.rawValue & PageTableEntry.Bit.largePageAttributeTable != 0
        var template = PageTableEntry(rawValue: kept)
        if lower == .pageTable {
            if attributeTable { template.rawValue |= PageTableEntry.Bit.pageAttributeTable }
        } else {
            template.largePage = true
            if attributeTable { template.rawValue |= PageTableEntry.Bit.largePageAttributeTable }
        }
        for index in 0..<PageTableLevel.entryCount {
            var entry = template
            entry.physicalAddress = base + UInt64(index) * smallSize
            table[index] = entry.rawValue
        }
        // Install only once the new table is complete: another CPU may be walking.
        leaf.slot.pointee = PageTableEntry.table(physical: frame, user: large.user).rawValue
    }

    /// Clears the leaves covering `virtual ..< virtual + byteCount`, which must all be mapped
    /// by pages lying wholly inside the range.
    func clearLeaves(virtual: UInt64, byteCount: UInt64) {
        var offset: UInt64 = 0
        while offset < byteCount {
            guard case .mapped(let leaf) = walk(virtual + offset) else { preconditionFailure("mapping vanished") }
            leaf.slot.pointee = 0
            offset += leaf.level.coverage
        }
    }

    /// Sets the user bit on the intermediate entries above the leaf for `virtual`, so that a
    /// user leaf is reachable from user mode.
    private func grantUserAccess(toward virtual: UInt64, above leafLevel: PageTableLevel) {
        var table = rootPhysicalAddress
        var level = PageTableLevel.pageMapLevel4
        while level != leafLevel {
            let slot = memory.table(at: table) + level.index(of: virtual)
            var entry = PageTableEntry(rawValue: slot.pointee)
            entry.user = true
            slot.pointee = entry.rawValue
            table = entry.physicalAddress
            level = level.lower!
        }
    }
}
