// A validated ACPI table found through the RSDT/XSDT, and a table that was rejected.

import RawBytes

/// A table listed in the RSDT/XSDT whose length and checksum are valid.
public struct DescribedTable {
    /// The decoded header.
    public let header: SystemDescriptionTableHeader
    /// Where the table is in physical memory.
    public let physicalAddress: UInt64
    /// The whole table, exactly `header.length` bytes.
    public let bytes: ByteReader
}

/// A table listed in the RSDT/XSDT that was not yielded by `ACPI.tables`, and why.
public struct RejectedTable: Equatable {
    /// The table's signature, or `nil` when its header could not be read.
    public let signature: TableSignature?
    /// Where the RSDT/XSDT says the table is.
    public let physicalAddress: UInt64
    /// Why it was rejected (`.unreadable`, `.badTableLength` or `.badTableChecksum`).
    public let reason: ACPIError

    /// Creates a record of a rejected table.
    public init(signature: TableSignature?, physicalAddress: UInt64, reason: ACPIError) {
        self.signature = signature
        self.physicalAddress = physicalAddress
        self.reason = reason
    }
}

/// Reads and validates the table at `physicalAddress`: readable header, `36 <= Length <=
/// ACPI.maximumTableLength`, readable body, zero checksum — ACPI 6.5 §5.2.6.
func loadTable<Memory: PhysicalMemoryReader>(
    at physicalAddress: UInt64, memory: Memory, maximumLength: Int
) throws(ACPIError) -> DescribedTable {
    guard let headerBytes = memory.bytes(at: physicalAddress, count: SystemDescriptionTableHeader.size),
          headerBytes.count >= SystemDescriptionTableHeader.size
    else { throw .unreadable(physicalAddress: physicalAddress) }
    let header = try SystemDescriptionTableHeader(headerBytes)
    let length = Int(header.length)
    guard length >= SystemDescriptionTableHeader.size, length <= maximumLength else {
        throw .badTableLength(signature: header.signature)
    }
    guard let bytes = memory.bytes(at: physicalAddress, count: length), bytes.count >= length,
          let table = bytes.slice(at: 0, count: length)
    else { throw .unreadable(physicalAddress: physicalAddress) }
    guard table.byteSum() == 0 else { throw .badTableChecksum(signature: header.signature) }
    return DescribedTable(header: header, physicalAddress: physicalAddress, bytes: table)
}
