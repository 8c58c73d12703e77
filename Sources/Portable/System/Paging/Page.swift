/// The page: the one definition of its size, for the memory manager, the loader, channels, virtqueues and the kernel.

/// An x86-64 page of 4 KiB (Intel SDM vol 3A §4.5: 4-level paging maps 4-KByte pages; the
/// 2-MiB pages the kernel also uses are a page-directory entry's reach, `AddressSpace`'s
/// `largePageSize`). The unit of physical frames, of mappings and their permissions, and of
/// every region that must be page aligned: program segments, channel memory, virtqueues.
public enum Page {
    /// Bytes in a page.
    public static let size = 4096
    /// `size` as a 64-bit value, for address arithmetic.
    public static var size64: UInt64 { UInt64(size) }

    /// `byteCount` rounded up to a whole number of pages.
    @inline(__always)
    public static func roundUp(_ byteCount: Int) -> Int { (byteCount + size - 1) & ~(size - 1) }

    /// How many pages `byteCount` bytes need.
    @inline(__always)
    public static func count(covering byteCount: Int) -> Int { (byteCount + size - 1) / size }

    /// Whether `value` is a multiple of the page size.
    @inline(__always)
    public static func isAligned(_ value: UInt64) -> Bool { value & (size64 - 1) == 0 }
}
