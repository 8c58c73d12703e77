// Taking an address space apart: the frames of its own page tables, for the kernel to free when a program ends.

extension AddressSpace {
    /// Every frame holding one of this address space's own page tables, children before their
    /// parent and the PML4 last: the frames to give back once nothing uses the address space
    /// (no CPU has it in CR3). PML4 entries in `shared` (for example entry 0, which a program
    /// shares with the kernel) are not followed: those tables belong to someone else. The
    /// frames the leaves map are not included — their owner knows what it mapped.
    public func ownTableFrames(sharing shared: [Int]) -> [UInt64] {
        var frames: [UInt64] = []
        collect(table: rootPhysicalAddress, level: .pageMapLevel4, shared: shared, into: &frames)
        return frames
    }

    private func collect(table: UInt64, level: PageTableLevel, shared: [Int], into frames: inout [UInt64]) {
        if let lower = level.lower {
            let entries = memory.table(at: table)
            for index in 0..<PageTableLevel.entryCount {
                if level == .pageMapLevel4 && shared.contains(index) { continue }
                let entry = PageTableEntry(rawValue: entries[index])
                // A large page is a leaf: nothing below it is a table.
                guard entry.present, !(level.canMapPage && entry.largePage) else { continue }
                collect(table: entry.physicalAddress, level: lower, shared: shared, into: &frames)
            }
        }
        frames.append(table)
    }
}
