// The entry point to ACPI: validates the RSDP and the RSDT or XSDT, then finds tables by signature.

import RawBytes

/// The ACPI tables reachable from a root pointer — ACPI 6.5 §5.2.5 to §5.2.8.
///
/// Nothing here allocates: tables are read through `Memory` when iterated, so this works before
/// the kernel heap exists.
public struct ACPI<Memory: PhysicalMemoryReader> {
    /// Tables longer than this are rejected as `.badTableLength`, so that a corrupted Length field
    /// cannot make the checksum walk run over gigabytes of memory.
    public static var maximumTableLength: Int { 16 << 20 }

    /// The validated root pointer.
    public let rootPointer: RootSystemDescriptionPointer
    /// The root table in use: the XSDT, or the RSDT when there is no XSDT.
    public let rootTable: DescribedTable
    /// The physical memory the tables are read from.
    public let memory: Memory

    /// Validates the RSDP in `rootPointer`, then the root table it points to: the XSDT when the
    /// RSDP revision is 2 or more and XsdtAddress is not zero, else the RSDT. The root table must
    /// be readable, carry the expected signature, and have a valid length and checksum. (There is
    /// no fallback from a bad XSDT to the RSDT: the error is reported.)
    public init(rootPointer: ByteReader, memory: Memory) throws(ACPIError) {
        let pointer = try RootSystemDescriptionPointer(rootPointer)
        let expected: TableSignature
        let address: UInt64
        if let xsdtAddress = pointer.xsdtAddress {
            expected = .xsdt
            address = xsdtAddress
        } else {
            expected = .rsdt
            address = UInt64(pointer.rsdtAddress)
        }
        let table = try loadTable(at: address, memory: memory, maximumLength: Self.maximumTableLength)
        guard table.header.signature == expected else {
            throw .badTableSignature(expected: expected, found: table.header.signature)
        }
        self.rootPointer = pointer
        self.rootTable = table
        self.memory = memory
    }

    /// Whether the root table is the XSDT (64-bit entries) rather than the RSDT (32-bit entries).
    public var usesExtendedRootTable: Bool { rootTable.header.signature == .xsdt }

    /// The physical addresses listed in the root table — ACPI 6.5 §5.2.7, §5.2.8.
    public var tableAddresses: TableAddressSequence {
        TableAddressSequence(rootTable: rootTable.bytes, entryWidth: usesExtendedRootTable ? 8 : 4)
    }

    /// Every listed table whose length and checksum are valid, in root table order.
    public var tables: TableSequence<Memory> { TableSequence(addresses: tableAddresses, memory: memory) }

    /// Every listed table that `tables` skips, with the reason, so the kernel can report each.
    public var rejectedTables: RejectedTableSequence<Memory> {
        RejectedTableSequence(addresses: tableAddresses, memory: memory)
    }

    /// The first valid table with `signature`, if any.
    public func findTable(_ signature: TableSignature) -> DescribedTable? {
        for table in tables where table.header.signature == signature { return table }
        return nil
    }

    /// The bytes of the first valid table with `signature`, if any.
    public func find(_ signature: TableSignature) -> ByteReader? {
        findTable(signature)?.bytes
    }

    /// The bytes of the first valid table with `signature`, or `.missingTable`.
    public func require(_ signature: TableSignature) throws(ACPIError) -> ByteReader {
        guard let bytes = find(signature) else { throw .missingTable(signature: signature) }
        return bytes
    }

    /// Loads and validates the table at `physicalAddress` (for tables not listed in the root
    /// table, such as the DSDT that the FADT points to).
    public func table(at physicalAddress: UInt64) throws(ACPIError) -> DescribedTable {
        try loadTable(at: physicalAddress, memory: memory, maximumLength: Self.maximumTableLength)
    }
}
