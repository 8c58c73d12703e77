// The HPET description table: where the HPET registers are and what the timer block offers.

import RawBytes

/// IA-PC HPET Description Table — IA-PC HPET spec 1.0a §3.2.4 (Table 3).
///
/// Offsets: header 0 (36), Event Timer Block ID 36, Base Address (Generic Address Structure) 40,
/// HPET Number 52, Main Counter Minimum Clock Tick 53 (u16), Page Protection and OEM Attribute 55.
public struct HighPrecisionEventTimerTable {
    /// Length of the table as defined by the specification.
    public static let minimumLength = 56

    /// The decoded header.
    public let header: SystemDescriptionTableHeader
    /// The Event Timer Block ID field.
    public let eventTimerBlockID: EventTimerBlockID
    /// Where the HPET register block is.
    public let baseAddressStructure: GenericAddressStructure
    /// Sequence number of this HPET block.
    public let hpetNumber: UInt8
    /// Minimum main counter tick for periodic mode without lost interrupts.
    public let minimumClockTick: UInt16
    /// Page protection and OEM attribute byte.
    public let pageProtection: UInt8

    /// Validates the table (signature "HPET", Length at least 56 and within `table`, checksum).
    public init(_ table: ByteReader) throws(ACPIError) {
        let bytes = try validatedTable(table, signature: .hpet, minimumLength: Self.minimumLength)
        guard let blockID = bytes.u32(at: 36), let base = GenericAddressStructure(bytes, at: 40),
              let number = bytes.u8(at: 52), let tick = bytes.u16(at: 53), let protection = bytes.u8(at: 55)
        else { throw .badTableLength(signature: .hpet) }
        self.header = try SystemDescriptionTableHeader(bytes)
        self.eventTimerBlockID = EventTimerBlockID(rawValue: blockID)
        self.baseAddressStructure = base
        self.hpetNumber = number
        self.minimumClockTick = tick
        self.pageProtection = protection
    }

    /// Physical address of the HPET register block (check `baseAddressStructure.addressSpace`
    /// is `.systemMemory`).
    public var baseAddress: UInt64 { baseAddressStructure.address }
}

/// Event Timer Block ID — IA-PC HPET spec 1.0a §3.2.4 (Table 3), mirroring the General
/// Capabilities register.
public struct EventTimerBlockID: RawRepresentable, Equatable, Sendable {
    /// The raw 32-bit field.
    public let rawValue: UInt32
    /// Wraps a raw field.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Hardware revision ID (bits 0-7).
    public var hardwareRevisionID: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
    /// Number of comparators in the first timer block (bits 8-12 hold the count minus one).
    public var comparatorCount: Int { Int((rawValue >> 8) & 0x1F) + 1 }
    /// Whether the main counter is 64 bits wide (bit 13).
    public var counterIs64Bit: Bool { rawValue & (1 << 13) != 0 }
    /// Whether legacy replacement IRQ routing is supported (bit 15).
    public var legacyReplacementCapable: Bool { rawValue & (1 << 15) != 0 }
    /// PCI vendor ID of the first timer block (bits 16-31).
    public var pciVendorID: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
}
