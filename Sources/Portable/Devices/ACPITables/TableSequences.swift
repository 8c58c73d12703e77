// Sequences over the root table's entries: raw addresses, valid tables, rejected tables.

import RawBytes

/// The physical addresses in the Entry field of the RSDT (32-bit) or XSDT (64-bit), which starts
/// after the 36-byte header — ACPI 6.5 §5.2.7 (Table 5.7), §5.2.8 (Table 5.8). A trailing partial
/// entry is ignored.
public struct TableAddressSequence: Sequence {
    /// The validated root table.
    let rootTable: ByteReader
    /// 4 for the RSDT, 8 for the XSDT.
    let entryWidth: Int

    /// Walks the entries without allocating.
    public struct Iterator: IteratorProtocol {
        let rootTable: ByteReader
        let entryWidth: Int
        var offset = SystemDescriptionTableHeader.size

        /// The next listed address, or `nil` after the last complete entry.
        public mutating func next() -> UInt64? {
            let value: UInt64?
            if entryWidth == 8 {
                value = rootTable.u64(at: offset)
            } else {
                value = rootTable.u32(at: offset).map { UInt64($0) }
            }
            guard let address = value else { return nil }
            offset += entryWidth
            return address
        }
    }

    /// An iterator over the listed addresses.
    public func makeIterator() -> Iterator { Iterator(rootTable: rootTable, entryWidth: entryWidth) }
}

/// The listed tables whose length and checksum are valid.
public struct TableSequence<Memory: PhysicalMemoryReader>: Sequence {
    let addresses: TableAddressSequence
    let memory: Memory

    /// Loads each listed table in turn, skipping rejected ones.
    public struct Iterator: IteratorProtocol {
        var addresses: TableAddressSequence.Iterator
        let memory: Memory

        /// The next valid table, or `nil` after the last entry.
        public mutating func next() -> DescribedTable? {
            while let address = addresses.next() {
                do {
                    return try loadTable(at: address, memory: memory, maximumLength: ACPI<Memory>.maximumTableLength)
                } catch {
                    continue
                }
            }
            return nil
        }
    }

    /// An iterator over the valid tables.
    public func makeIterator() -> Iterator { Iterator(addresses: addresses.makeIterator(), memory: memory) }
}

/// The listed tables that `TableSequence` skips, each with its reason.
public struct RejectedTableSequence<Memory: PhysicalMemoryReader>: Sequence {
    let addresses: TableAddressSequence
    let memory: Memory

    /// Loads each listed table in turn, yielding only the failures.
    public struct Iterator: IteratorProtocol {
        var addresses: TableAddressSequence.Iterator
        let memory: Memory

        /// The next rejected table, or `nil` after the last entry.
        public mutating func next() -> RejectedTable? {
            while let address = addresses.next() {
                do {
                    _ = try loadTable(at: address, memory: memory, maximumLength: ACPI<Memory>.maximumTableLength)
                } catch {
                    let header = memory.bytes(at: address, count: SystemDescriptionTableHeader.size)
                    let signature = header?.u32(at: 0).map { TableSignature(rawValue: $0) }
                    return RejectedTable(signature: signature, physicalAddress: address, reason: error)
                }
            }
            return nil
        }
    }

    /// An iterator over the rejected tables.
    public func makeIterator() -> Iterator { Iterator(addresses: addresses.makeIterator(), memory: memory) }
}
