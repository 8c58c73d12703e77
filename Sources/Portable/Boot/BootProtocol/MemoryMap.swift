// The Multiboot2 memory map tag: typed regions and the sequence that walks them.

import RawBytes

/// The type of a memory map entry — Multiboot2 spec §3.6.8.
public enum MemoryRegionKind: Equatable {
    /// RAM the kernel may use (type 1).
    case available
    /// Holds ACPI tables; usable once they are no longer needed (type 3).
    case acpiReclaimable
    /// Must be preserved across hibernation (type 4).
    case acpiNVS
    /// Defective RAM (type 5).
    case defective
    /// Any other type, reserved; the raw value (2 or unknown) is kept.
    case reserved(UInt32)

    /// Decodes the raw `type` field of a memory map entry.
    public init(rawValue: UInt32) {
        switch rawValue {
        case 1: self = .available
        case 3: self = .acpiReclaimable
        case 4: self = .acpiNVS
        case 5: self = .defective
        default: self = .reserved(rawValue)
        }
    }

    /// The raw `type` field value.
    public var rawValue: UInt32 {
        switch self {
        case .available: return 1
        case .acpiReclaimable: return 3
        case .acpiNVS: return 4
        case .defective: return 5
        case .reserved(let value): return value
        }
    }
}

/// One memory map entry — Multiboot2 spec §3.6.8 (base_addr, length, type).
public struct MemoryRegion: Equatable {
    /// Physical start address.
    public let base: UInt64
    /// Length in bytes.
    public let length: UInt64
    /// What the memory may be used for.
    public let kind: MemoryRegionKind

    /// Creates a region.
    public init(base: UInt64, length: UInt64, kind: MemoryRegionKind) {
        self.base = base
        self.length = length
        self.kind = kind
    }

    /// The first address after the region, saturating at `UInt64.max` for a region that would wrap.
    public var end: UInt64 {
        let (sum, overflow) = base.addingReportingOverflow(length)
        return overflow ? UInt64.max : sum
    }
}

/// Layout of the memory map tag payload — Multiboot2 spec §3.6.8 memory map tag.
enum MemoryMapLayout {
    /// Offset of entry_size in the payload (after the 8-byte tag header).
    static let entrySizeOffset = 0
    /// Offset of entry_version in the payload.
    static let entryVersionOffset = 4
    /// Offset of the first entry in the payload.
    static let entriesOffset = 8
    /// Size of the fields of an entry this parser reads: base_addr u64, length u64, type u32, reserved u32.
    static let minimumEntrySize = 24
    /// Offset of base_addr in an entry.
    static let baseOffset = 0
    /// Offset of length in an entry.
    static let lengthOffset = 8
    /// Offset of type in an entry.
    static let typeOffset = 16

    /// Whether `entrySize` is one this parser accepts: at least 24 and a multiple of 8.
    static func isValid(entrySize: UInt32) -> Bool {
        entrySize >= UInt32(minimumEntrySize) && entrySize % 8 == 0
    }
}

/// The regions of every memory map tag, in order.
///
/// Entries are `entry_size` apart; a trailing partial entry is ignored. A memory map tag whose
/// entry_size is invalid is rejected by `Multiboot2Information.init`; the iterator also skips
/// such a tag defensively, so it never reads outside the tag.
public struct MemoryRegionSequence: Sequence {
    /// The tags to search for memory maps.
    let tags: TagSequence

    /// Walks memory map entries without allocating.
    public struct Iterator: IteratorProtocol {
        var tags: TagSequence.Iterator
        var current: ByteReader = ByteReader()
        var entrySize = 0
        var offset = 0

        /// The next region, or `nil` after the last entry of the last memory map tag.
        public mutating func next() -> MemoryRegion? {
            while true {
                if entrySize > 0, let entry = current.slice(at: offset, count: entrySize),
                   let base = entry.u64(at: MemoryMapLayout.baseOffset),
                   let length = entry.u64(at: MemoryMapLayout.lengthOffset),
                   let type = entry.u32(at: MemoryMapLayout.typeOffset) {
                    offset += entrySize
                    return MemoryRegion(base: base, length: length, kind: MemoryRegionKind(rawValue: type))
                }
                guard let tag = tags.next() else { return nil }
                guard tag.type == .memoryMap,
                      let size = tag.payload.u32(at: MemoryMapLayout.entrySizeOffset),
                      MemoryMapLayout.isValid(entrySize: size)
                else { continue }
                current = tag.payload
                entrySize = Int(size)
                offset = MemoryMapLayout.entriesOffset
            }
        }
    }

    /// An iterator over all regions.
    public func makeIterator() -> Iterator { Iterator(tags: tags.makeIterator()) }
}
