// The MADT: local APIC address, PC-AT compatibility flag, and its interrupt controller entries.

import RawBytes

/// Multiple APIC Description Table — ACPI 6.5 §5.2.12 (Table 5.19).
///
/// Offsets: header 0 (36), Local Interrupt Controller Address 36, Flags 40, Interrupt Controller
/// Structures from 44 to Length.
public struct MultipleAPICDescriptionTable {
    /// Offset of the first Interrupt Controller Structure.
    public static let entriesOffset = 44

    /// The table, exactly Length bytes.
    public let bytes: ByteReader
    /// The decoded header.
    public let header: SystemDescriptionTableHeader
    /// 32-bit physical address of every processor's local APIC (see `effectiveLocalAPICAddress`).
    public let localAPICAddress: UInt32
    /// The Multiple APIC Flags field.
    public let flags: MultipleAPICFlags
    /// Number of entries `entries` does not yield: known types shorter than their defined length
    /// (skipped), plus one if the walk stopped early at an entry whose length is below 2 or runs
    /// past the end of the table. Zero for a well-formed table.
    public let malformedEntries: Int

    /// Validates the table (signature "APIC", Length at least 44 and within `table`, checksum)
    /// and counts malformed entries.
    public init(_ table: ByteReader) throws(ACPIError) {
        let bytes = try validatedTable(table, signature: .madt, minimumLength: Self.entriesOffset)
        self.bytes = bytes
        self.header = try SystemDescriptionTableHeader(bytes)
        self.localAPICAddress = bytes.u32(at: 36) ?? 0
        self.flags = MultipleAPICFlags(rawValue: bytes.u32(at: 40) ?? 0)
        var walker = MADTEntrySequence.Iterator(bytes: bytes)
        while walker.next() != nil {}
        self.malformedEntries = walker.malformedEntries
    }

    /// Whether the system also has a PC-AT-compatible dual 8259 setup that must be masked.
    public var hasLegacyPICs: Bool { flags.contains(.pcatCompatible) }

    /// The Interrupt Controller Structures, in table order.
    public var entries: MADTEntrySequence { MADTEntrySequence(bytes: bytes) }

    /// The local APIC address: the 64-bit Local APIC Address Override if there is one
    /// (ACPI 6.5 §5.2.12.8), else `localAPICAddress`.
    public var effectiveLocalAPICAddress: UInt64 {
        for entry in entries {
            if case .localAPICAddressOverride(let address) = entry { return address }
        }
        return UInt64(localAPICAddress)
    }
}

/// Multiple APIC Flags — ACPI 6.5 §5.2.12 (Table 5.20).
public struct MultipleAPICFlags: OptionSet, Sendable {
    /// The raw 32-bit Flags field.
    public let rawValue: UInt32
    /// Wraps a raw Flags field.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// PCAT_COMPAT (bit 0): the system also has a dual 8259 PIC setup.
    public static let pcatCompatible = MultipleAPICFlags(rawValue: 1 << 0)
}

/// The Interrupt Controller Structures of an MADT — ACPI 6.5 §5.2.12.
///
/// Each structure starts with a type byte and a length byte. The walk stops at the first entry
/// whose length is below 2 or that runs past the end of the table; a known type shorter than its
/// defined length is skipped. Both are counted in `MultipleAPICDescriptionTable.malformedEntries`.
public struct MADTEntrySequence: Sequence {
    /// The validated table.
    let bytes: ByteReader

    /// Walks the structures without allocating.
    public struct Iterator: IteratorProtocol {
        let bytes: ByteReader
        var offset = MultipleAPICDescriptionTable.entriesOffset
        /// Malformed entries seen so far (see `MultipleAPICDescriptionTable.malformedEntries`).
        public private(set) var malformedEntries = 0

        init(bytes: ByteReader) { self.bytes = bytes }

        /// The next entry, or `nil` at the end of the table or at a structurally malformed entry.
        public mutating func next() -> MADTEntry? {
            while offset < bytes.count {
                guard let length = bytes.u8(at: offset + 1), length >= 2,
                      let entry = bytes.slice(at: offset, count: Int(length))
                else {
                    malformedEntries += 1
                    offset = bytes.count
                    return nil
                }
                offset += Int(length)
                if let decoded = MADTEntry(entry) { return decoded }
                malformedEntries += 1
            }
            return nil
        }
    }

    /// An iterator starting at the first structure.
    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}
