/// How the page-table code obtains table frames and reaches them: the kernel's identity map
/// in the kernel, host memory in tests.

/// The memory page tables live in.
public protocol PageTableMemory {
    /// The physical address of a fresh 4 KiB frame for a table, or nil when memory is out.
    /// The frame need not be zeroed: the mapper clears it before use.
    mutating func allocateTableFrame() -> UInt64?
    /// The 512 entries of the table at `physicalAddress`, reachable through a pointer now.
    func table(at physicalAddress: UInt64) -> UnsafeMutablePointer<UInt64>
}

/// Why a paging operation failed.
public enum PagingError: Error, Equatable, Sendable {
    /// No frame for a new table (`map`, `unmap` or `protect` that must split a large page).
    case outOfMemory
    /// An address is not 4 KiB aligned.
    case misaligned
    /// `map` found this virtual page already mapped; nothing was changed.
    case alreadyMapped(virtual: UInt64)
    /// `unmap` or `protect` found this virtual page not mapped; nothing was changed.
    case notMapped(virtual: UInt64)
    /// This virtual address (or the range's end) is not canonical, or the range wraps or
    /// crosses the non-canonical hole (§3.3.7.1: bits 63:47 must be equal).
    case nonCanonical(UInt64)
    /// The physical range reaches 2^52 or beyond (any MAXPHYADDR); the first such address.
    case physicalAddressTooHigh(UInt64)
}
