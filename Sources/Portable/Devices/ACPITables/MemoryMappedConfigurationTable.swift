// The MCFG table: where PCI Express enhanced configuration (ECAM) windows are in memory.

import RawBytes

/// PCI Express memory mapped configuration space base address description table (MCFG) —
/// PCI Firmware spec 3.2 §4.1.2 (Table 4-2): header 0 (36), Reserved 36 (8), allocation
/// structures from 44, 16 bytes each.
public struct MemoryMappedConfigurationTable {
    /// Offset of the first allocation structure.
    public static let allocationsOffset = 44
    /// Size of one allocation structure.
    public static let allocationSize = 16

    /// The table, exactly Length bytes.
    public let bytes: ByteReader
    /// The decoded header.
    public let header: SystemDescriptionTableHeader

    /// Validates the table (signature "MCFG", Length at least 44 and within `table`, checksum).
    public init(_ table: ByteReader) throws(ACPIError) {
        self.bytes = try validatedTable(table, signature: .mcfg, minimumLength: Self.allocationsOffset)
        self.header = try SystemDescriptionTableHeader(bytes)
    }

    /// The configuration space allocations; a trailing partial structure is ignored.
    public var allocations: ConfigurationSpaceAllocationSequence { ConfigurationSpaceAllocationSequence(bytes: bytes) }
}

/// One configuration space base address allocation — PCI Firmware spec 3.2 §4.1.2 (Table 4-3):
/// Base Address 0 (u64), PCI Segment Group 8 (u16), Start Bus 10, End Bus 11, Reserved 12 (4).
public struct ConfigurationSpaceAllocation: Equatable {
    /// Physical address of the ECAM window (the address of bus 0 of the segment, even when
    /// `startBus` is not 0).
    public let baseAddress: UInt64
    /// PCI segment group number.
    public let segmentGroup: UInt16
    /// First bus decoded by this window.
    public let startBus: UInt8
    /// Last bus decoded by this window.
    public let endBus: UInt8

    /// Creates an allocation from its fields.
    public init(baseAddress: UInt64, segmentGroup: UInt16, startBus: UInt8, endBus: UInt8) {
        self.baseAddress = baseAddress
        self.segmentGroup = segmentGroup
        self.startBus = startBus
        self.endBus = endBus
    }

    /// Physical address of the 4 KiB configuration space of a function — PCI Express Base spec
    /// §7.2.2 (ECAM: bus << 20 | device << 15 | function << 12); `nil` when outside this window.
    public func configurationAddress(bus: UInt8, device: UInt8, function: UInt8) -> UInt64? {
        guard bus >= startBus, bus <= endBus, device < 32, function < 8 else { return nil }
        return baseAddress + (UInt64(bus) << 20 | UInt64(device) << 15 | UInt64(function) << 12)
    }
}

/// The allocation structures of an MCFG table.
public struct ConfigurationSpaceAllocationSequence: Sequence {
    /// The validated table.
    let bytes: ByteReader

    /// Walks the allocations without allocating.
    public struct Iterator: IteratorProtocol {
        let bytes: ByteReader
        var offset = MemoryMappedConfigurationTable.allocationsOffset

        /// The next allocation, or `nil` after the last complete one.
        public mutating func next() -> ConfigurationSpaceAllocation? {
            guard let entry = bytes.slice(at: offset, count: MemoryMappedConfigurationTable.allocationSize),
                  let base = entry.u64(at: 0), let segment = entry.u16(at: 8),
                  let start = entry.u8(at: 10), let end = entry.u8(at: 11)
            else { return nil }
            offset += MemoryMappedConfigurationTable.allocationSize
            return ConfigurationSpaceAllocation(baseAddress: base, segmentGroup: segment, startBus: start, endBus: end)
        }
    }

    /// An iterator over the allocations.
    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}
