/// One 64-bit x86-64 paging-structure entry, with typed fields for every bit the kernel uses.

/// An entry of a PML4, page-directory-pointer table, page directory or page table.
///
/// Intel SDM vol 3A §4.5, tables 4-15 (PML4E), 4-16 (PDPTE mapping a 1-GByte page),
/// 4-17 (PDPTE referencing a page directory), 4-18 (PDE mapping a 2-MByte page),
/// 4-19 (PDE referencing a page table) and 4-20 (PTE mapping a 4-KByte page).
public struct PageTableEntry: Equatable, Sendable {
    /// The raw 64 bits as the processor reads them.
    public var rawValue: UInt64

    /// An entry with these raw bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The bit positions, common to all four levels unless noted (tables 4-15 to 4-20).
    enum Bit {
        /// P: the entry is valid.
        static let present: UInt64 = 1 << 0
        /// R/W: writes allowed (if 0 at any level, writes fault).
        static let writable: UInt64 = 1 << 1
        /// U/S: user-mode accesses allowed (if 0 at any level, user accesses fault).
        static let user: UInt64 = 1 << 2
        /// PWT: page-level write-through.
        static let writeThrough: UInt64 = 1 << 3
        /// PCD: page-level cache disable.
        static let cacheDisabled: UInt64 = 1 << 4
        /// A: set by the processor when the entry is used for a translation.
        static let accessed: UInt64 = 1 << 5
        /// D: set by the processor on a write through a leaf entry.
        static let dirty: UInt64 = 1 << 6
        /// PS in a PDPTE or PDE: the entry maps a 1 GiB or 2 MiB page instead of a table.
        static let largePage: UInt64 = 1 << 7
        /// PAT in a PTE (same position as PS): the memory-type selector's third bit.
        static let pageAttributeTable: UInt64 = 1 << 7
        /// G: global translation, kept across CR3 loads when CR4.PGE = 1 (leaves only).
        static let global: UInt64 = 1 << 8
        /// PAT in a PDPTE or PDE that maps a large page (tables 4-16 and 4-18).
        static let largePageAttributeTable: UInt64 = 1 << 12
        /// XD: instruction fetches fault (when IA32_EFER.NXE = 1).
        static let noExecute: UInt64 = 1 << 63
        /// Bits 51:12: the physical address of the next table or 4 KiB page (MAXPHYADDR is at
        /// most 52, §4.1.4); for large pages the low bits of this field hold PAT and must be 0.
        static let address: UInt64 = 0x000F_FFFF_FFFF_F000
    }

    private func bit(_ mask: UInt64) -> Bool { rawValue & mask != 0 }
    private mutating func setBit(_ mask: UInt64, _ value: Bool) {
        rawValue = value ? rawValue | mask : rawValue & ~mask
    }

    /// P: the entry is valid.
    public var present: Bool { get { bit(Bit.present) } set { setBit(Bit.present, newValue) } }
    /// R/W: the region may be written.
    public var writable: Bool { get { bit(Bit.writable) } set { setBit(Bit.writable, newValue) } }
    /// U/S: user mode may access the region.
    public var user: Bool { get { bit(Bit.user) } set { setBit(Bit.user, newValue) } }
    /// PWT: write-through caching.
    public var writeThrough: Bool { get { bit(Bit.writeThrough) } set { setBit(Bit.writeThrough, newValue) } }
    /// PCD: caching disabled.
    public var cacheDisabled: Bool { get { bit(Bit.cacheDisabled) } set { setBit(Bit.cacheDisabled, newValue) } }
    /// A: the processor used this entry.
    public var accessed: Bool { get { bit(Bit.accessed) } set { setBit(Bit.accessed, newValue) } }
    /// D: the processor wrote through this leaf.
    public var dirty: Bool { get { bit(Bit.dirty) } set { setBit(Bit.dirty, newValue) } }
    /// PS: this PDPTE or PDE maps a large page (meaningless in a PML4E; PAT in a PTE).
    public var largePage: Bool { get { bit(Bit.largePage) } set { setBit(Bit.largePage, newValue) } }
    /// G: the translation is global.
    public var global: Bool { get { bit(Bit.global) } set { setBit(Bit.global, newValue) } }
    /// XD: instruction fetches from the region fault.
    public var noExecute: Bool { get { bit(Bit.noExecute) } set { setBit(Bit.noExecute, newValue) } }

    /// Bits 51:12: the next table's (or a 4 KiB page's) physical address. Setting it keeps
    /// every other bit; the value must be 4 KiB aligned and below 2^52.
    public var physicalAddress: UInt64 {
        get { rawValue & Bit.address }
        set {
            precondition(newValue & ~Bit.address == 0, "physical address misaligned or above 2^52")
            rawValue = (rawValue & ~Bit.address) | newValue
        }
    }

    /// The physical address of the page this leaf maps, for a page of `pageSize` bytes (4 KiB,
    /// 2 MiB or 1 GiB): the PAT bit that large pages keep in bit 12 is masked off.
    public func pageAddress(pageSize: UInt64) -> UInt64 { rawValue & Bit.address & ~(pageSize - 1) }

    /// The access rights and caching attributes of this entry.
    public var attributes: PageAttributes {
        var attributes = PageAttributes()
        if writable { attributes.insert(.writable) }
        if user { attributes.insert(.user) }
        if noExecute { attributes.insert(.noExecute) }
        if cacheDisabled { attributes.insert(.cacheDisabled) }
        if writeThrough { attributes.insert(.writeThrough) }
        if global { attributes.insert(.global) }
        return attributes
    }

    /// Replaces the access rights and caching attributes, keeping everything else (present,
    /// address, page size, PAT, accessed, dirty).
    public mutating func setAttributes(_ attributes: PageAttributes) {
        writable = attributes.contains(.writable)
        user = attributes.contains(.user)
        noExecute = attributes.contains(.noExecute)
        cacheDisabled = attributes.contains(.cacheDisabled)
        writeThrough = attributes.contains(.writeThrough)
        global = attributes.contains(.global)
    }

    /// A leaf mapping `physical` with `attributes`; `largePage` for a 2 MiB or 1 GiB page.
    public static func leaf(physical: UInt64, attributes: PageAttributes, largePage: Bool) -> PageTableEntry {
        var entry = PageTableEntry(rawValue: Bit.present)
        entry.physicalAddress = physical
        entry.largePage = largePage
        entry.setAttributes(attributes)
        return entry
    }

    /// An entry referencing the table at `physical`. It grants everything (present, writable,
    /// user if asked, executable) so that the leaf entries alone decide access: the processor
    /// combines the rights of every level (§4.6).
    public static func table(physical: UInt64, user: Bool) -> PageTableEntry {
        var entry = PageTableEntry(rawValue: Bit.present | Bit.writable)
        entry.physicalAddress = physical
        entry.user = user
        return entry
    }
}
