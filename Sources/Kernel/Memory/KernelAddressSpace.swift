/// The kernel's own page tables: RAM identity-mapped with W^X, device windows uncached, guard
/// pages unmapped under every stack.
///
/// Memory map (virtual = physical, all of it below 4 GiB on QEMU's default machines, far
/// below 2^47 where Swift objects must live):
///
///     0x0000_0000  page 0: unmapped, so null-pointer accesses fault
///     0x0000_1000  low memory: data, read-write, no-execute
///     0x0000_8000  AP trampoline page: read-write-execute (real-mode code is written here)
///     0x0010_0000  kernel .text: read+execute   .rodata: read-only   .data/.bss: read-write
///                  (the guard pages under the boot stacks are unmapped)
///     ...          the rest of RAM and ACPI regions: read-write, no-execute
///     0xFEC0_0000  I/O APIC, 0xFEE0_0000 local APIC: read-write, uncached, no-execute
import MemoryManagement
import Paging

/// Page-table frames come from the frame allocator, below 4 GiB so that the 32-bit part of
/// the AP trampoline can load CR3, and are reached through the identity map.
struct KernelPageTableMemory: PageTableMemory {
    mutating func allocateTableFrame() -> UInt64? { PhysicalMemory.allocate(count: 1, below: 1 << 32)?.rawValue }
    func table(at physicalAddress: UInt64) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer(bitPattern: UInt(physicalAddress))!
    }
}

enum KernelAddressSpace {
    private static let lock = SpinLock()
    nonisolated(unsafe) private static var space: AddressSpace<KernelPageTableMemory>? = nil
    /// Where the AP trampoline runs (SIPI vector 0x08 — Intel SDM vol 3A §8.4.4.1).
    static let trampolineAddress: UInt64 = 0x8000

    /// The physical address to load into CR3 on every CPU.
    static var root: UInt64 { space?.rootPhysicalAddress ?? 0 }

    /// Builds the tables from the memory map and switches the boot CPU to them.
    static func build<Regions: Sequence>(regions: Regions, layout: KernelLayout) where Regions.Element == PhysicalRange {
        var newSpace: AddressSpace<KernelPageTableMemory>
        do throws(PagingError) {
            newSpace = try AddressSpace(memory: KernelPageTableMemory())
            let data: PageAttributes = [.writable, .noExecute]
            try newSpace.map(virtual: Page.size64, physical: Page.size64, byteCount: PhysicalMemory.lowMemoryEnd - Page.size64, attributes: data)
            for region in regions {
                let start = max(region.start & ~(Page.size64 - 1), PhysicalMemory.lowMemoryEnd)
                let end = (region.end + Page.size64 - 1) & ~(Page.size64 - 1)
                guard end > start else { continue }
                try mapSkippingMapped(&newSpace, start: start, end: end, attributes: data)
            }
            // The image is in an available region or not (GRUB may load it anywhere the map allows): map it either way.
            try mapSkippingMapped(&newSpace, start: layout.image.start, end: layout.image.end, attributes: data)
            try newSpace.protect(virtual: layout.text.start, byteCount: layout.text.length, attributes: [])
            try newSpace.protect(virtual: layout.readOnlyData.start, byteCount: layout.readOnlyData.length, attributes: [.noExecute])
            try newSpace.protect(virtual: trampolineAddress, byteCount: Page.size64, attributes: [.writable])
            try newSpace.unmap(virtual: layout.bootStackGuard, byteCount: Page.size64)
            for stack in 0..<3 {
                let guardPage = layout.bootInterruptStacks + UInt64(stack) * (Page.size64 + layout.bootInterruptStackBytes)
                try newSpace.unmap(virtual: guardPage, byteCount: Page.size64)
            }
        } catch {
            Log.error("paging: building the kernel page tables failed")
            Processor.stop()
        }
        space = newSpace
        write_cr3(newSpace.rootPhysicalAddress)
    }

    /// Maps [start, end) where nothing is mapped yet (regions can overlap). Looks for mapped
    /// pages a whole missing table at a time, not page by page: QEMU's memory map has a 12 GiB
    /// reserved region at 0xFD_0000_0000, and three million lookups of 4 KiB pages took more than
    /// 100 ms of the boot under TCG.
    private static func mapSkippingMapped(_ space: inout AddressSpace<KernelPageTableMemory>,
                                          start: UInt64, end: UInt64, attributes: PageAttributes) throws(PagingError) {
        var address = start
        while address < end {
            let mapped = space.firstAddress(mapped: true, from: address, byteCount: end - address) ?? end
            if mapped > address {
                try space.map(virtual: address, physical: address, byteCount: mapped - address, attributes: attributes)
            }
            guard mapped < end else { return }
            address = space.firstAddress(mapped: false, from: mapped, byteCount: end - mapped) ?? end
        }
    }

    /// Maps a device's registers (identity, uncached, no-execute). Safe to call more than once.
    @discardableResult
    static func mapDevice(physical: UInt64, byteCount: UInt64) -> Bool {
        let start = physical & ~(Page.size64 - 1)
        let end = (physical + byteCount + Page.size64 - 1) & ~(Page.size64 - 1)
        return lock.withLock {
            guard space != nil else { return false }
            var address = start
            while address < end {
                if space!.translate(address) == nil {
                    do throws(PagingError) {
                        try space!.map(virtual: address, physical: address, byteCount: Page.size64,
                                       attributes: [.writable, .noExecute, .cacheDisabled], largePages: false)
                    } catch { return false }
                    invalidate_page(address)
                }
                address += Page.size64
            }
            return true
        }
    }

    /// Unmaps one page (a stack guard) and flushes it from this CPU's TLB. Other CPUs cannot
    /// hold a stale entry for it: guards are made before the stack above them is ever used.
    static func unmapGuardPage(_ address: UInt64) {
        lock.withLock {
            do throws(PagingError) { try space?.unmap(virtual: address, byteCount: Page.size64) } catch {
                Log.error("paging: cannot unmap guard page \(hex: address)")
            }
            invalidate_page(address)
        }
    }

    /// The mapping of `address`, for tests and fault diagnosis.
    static func translate(_ address: UInt64) -> (physical: UInt64, attributes: PageAttributes, pageSize: UInt64)? {
        lock.withLock { space?.translate(address) }
    }
}

/// Kernel stacks with an unmapped guard page below, so an overflow faults at once.
enum KernelStacks {
    /// Allocates a stack of `byteCount` (a multiple of the page size) plus its guard; returns the top.
    static func allocate(byteCount: Int) -> UInt64? {
        let pages = Page.count(covering: byteCount)
        guard let base = PhysicalMemory.allocate(count: pages + 1) else { return nil }
        KernelAddressSpace.unmapGuardPage(base.rawValue)
        return (base + (pages + 1) * Page.size).rawValue
    }
}
