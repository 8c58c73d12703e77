// Errors found while validating Multiboot2 boot information.

/// Why Multiboot2 boot information was rejected by `Multiboot2Information.init`.
public enum Multiboot2Error: Error, Equatable {
    /// EAX did not hold `Multiboot2.bootloaderMagic` (the value found is kept).
    case badMagic(UInt32)
    /// The buffer is too small to hold the 8-byte boot information header, or a tag header runs
    /// past `total_size`.
    case truncated
    /// `total_size` is smaller than 8 or larger than the readable buffer.
    case badTotalSize(UInt32)
    /// The boot information does not start on an 8-byte boundary — Multiboot2 spec §3.6.1.
    case misaligned(address: UInt)
    /// A tag's size is below 8, runs past `total_size`, is too small for the fields its type
    /// defines, or is an end tag whose size is not 8. `offset` is from the start of the boot information.
    case badTag(type: UInt32, offset: Int)
    /// A memory map tag's entry_size is below 24 or not a multiple of 8 — Multiboot2 spec §3.6.8.
    case badMemoryMapEntrySize(UInt32)
    /// No end tag (type 0, size 8) was found before `total_size`.
    case missingEndTag
}
