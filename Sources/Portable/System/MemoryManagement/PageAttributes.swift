/// The access rights and caching attributes a mapping can carry.

/// What a leaf page-table entry allows. The empty set means present, read-only, supervisor
/// only, executable, cached — e.g. kernel code.
public struct PageAttributes: OptionSet, Equatable, Sendable {
    /// The raw option bits (not the page-table bit positions; see `PageTableEntry`).
    public var rawValue: UInt8
    /// Options from raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Writes allowed (R/W).
    public static let writable = PageAttributes(rawValue: 1 << 0)
    /// User-mode accesses allowed (U/S).
    public static let user = PageAttributes(rawValue: 1 << 1)
    /// Instruction fetches fault (XD; needs IA32_EFER.NXE).
    public static let noExecute = PageAttributes(rawValue: 1 << 2)
    /// Caching disabled (PCD): for device registers.
    public static let cacheDisabled = PageAttributes(rawValue: 1 << 3)
    /// Write-through caching (PWT).
    public static let writeThrough = PageAttributes(rawValue: 1 << 4)
    /// Global translation (G; needs CR4.PGE).
    public static let global = PageAttributes(rawValue: 1 << 5)
}
