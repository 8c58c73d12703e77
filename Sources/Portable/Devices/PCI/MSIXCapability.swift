/// The MSI-X capability: finding and decoding it, switching MSI-X on, the table entry layout, and x86 messages.

/// The Message Control register of the MSI-X capability — PCI Local Bus 3.0 §6.8.2.3.
///
/// Bits 10:0 (read-only) hold the table size N encoded as N − 1, bits 13:11 are reserved,
/// bit 14 is Function Mask and bit 15 is MSI-X Enable.
public struct MSIXMessageControl: Equatable, Sendable {
    /// The register's 16 bits.
    public var rawValue: UInt16
    /// The control register holding `rawValue`.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Bits 10:0: Table Size, N − 1.
    public static let tableSizeMask: UInt16 = 0x07FF
    /// Bit 14: Function Mask. While set, every vector is masked whatever its own mask bit
    /// says, and the function records events in the pending bit array instead of sending.
    public static let functionMaskBit: UInt16 = 1 << 14
    /// Bit 15: MSI-X Enable. While set (and MSI off) the function may only signal through
    /// its MSI-X table and must not assert INTx#.
    public static let enableBit: UInt16 = 1 << 15

    /// How many entries the MSI-X table has, 1 to 2048 (the field stores one less).
    public var tableEntryCount: Int { Int(rawValue & Self.tableSizeMask) + 1 }

    /// Whether MSI-X Enable (bit 15) is set.
    public var isEnabled: Bool {
        get { rawValue & Self.enableBit != 0 }
        set { rawValue = newValue ? rawValue | Self.enableBit : rawValue & ~Self.enableBit }
    }

    /// Whether Function Mask (bit 14) is set.
    public var isFunctionMasked: Bool {
        get { rawValue & Self.functionMaskBit != 0 }
        set { rawValue = newValue ? rawValue | Self.functionMaskBit : rawValue & ~Self.functionMaskBit }
    }
}

/// Where a table (or the pending bit array) lives: a BAR and an offset into it — PCI Local
/// Bus 3.0 §6.8.2.4 (Table Offset/Table BIR) and §6.8.2.5 (PBA Offset/PBA BIR).
///
/// The dword holds the BAR Indicator Register in bits 2:0 (0–5 name the BARs at 0x10–0x24,
/// 6 and 7 are reserved) and a QWORD-aligned offset in bits 31:3, used with its low three
/// bits as zero.
public struct MSIXRegion: Equatable, Sendable {
    /// The BAR index, 0 to 7 (6 and 7 are reserved: a driver must not use the region).
    public var bar: UInt8
    /// The byte offset from the start of that BAR (a multiple of 8).
    public var offset: UInt32

    /// The region `offset` bytes into BAR `bar`.
    public init(bar: UInt8, offset: UInt32) {
        self.bar = bar
        self.offset = offset
    }

    /// Decodes an Offset/BIR dword.
    public init(offsetAndIndicator dword: UInt32) {
        bar = UInt8(truncatingIfNeeded: dword & 0x7)
        offset = dword & ~0x7
    }

    /// Whether `bar` names one of the six BARs of a type 0 header.
    public var hasValidBAR: Bool { bar < 6 }
}

/// One function's MSI-X capability structure — PCI Local Bus 3.0 §6.8.2:
/// +0 capability ID (0x11) and next pointer, +2 Message Control, +4 Table Offset/BIR,
/// +8 PBA Offset/BIR.
public struct MSIXCapability: Equatable, Sendable {
    /// The capability's register offsets, relative to the capability's start.
    public enum Register: UInt8, Sendable {
        /// Capability ID (8 bits) then next pointer (8 bits), both read-only.
        case header = 0x0
        /// Message Control, 16 bits (§6.8.2.3).
        case messageControl = 0x2
        /// Table Offset/Table BIR, 32 bits, read-only (§6.8.2.4).
        case table = 0x4
        /// PBA Offset/PBA BIR, 32 bits, read-only (§6.8.2.5).
        case pendingBitArray = 0x8
    }

    /// The function the capability belongs to.
    public var address: PCIAddress
    /// Where the capability starts in configuration space.
    public var offset: UInt8
    /// Message Control as it read when the capability was found.
    public var control: MSIXMessageControl
    /// Where the MSI-X table is.
    public var table: MSIXRegion
    /// Where the pending bit array is.
    public var pendingBitArray: MSIXRegion

    /// Decodes a capability from its three registers (what `find` reads).
    public init(address: PCIAddress, offset: UInt8, control: MSIXMessageControl,
                tableDword: UInt32, pendingBitArrayDword: UInt32) {
        self.address = address
        self.offset = offset
        self.control = control
        table = MSIXRegion(offsetAndIndicator: tableDword)
        pendingBitArray = MSIXRegion(offsetAndIndicator: pendingBitArrayDword)
    }

    /// The MSI-X capability of the function at `address`, or nil when its capability list
    /// (walked safely by `CapabilitySequence`) has none.
    public static func find<Space: ConfigurationSpace>(in space: Space, at address: PCIAddress) -> MSIXCapability? {
        for capability in CapabilitySequence(space: space, address: address)
            where capability.id == CapabilityID.messageSignaledInterruptsExtended {
            // A capability this close to the end would run past configuration space.
            guard capability.offset <= 0xFF - 11 else { return nil }
            return MSIXCapability(
                address: address, offset: capability.offset,
                control: MSIXMessageControl(rawValue: space.read16(address, offset: capability.offset + Register.messageControl.rawValue)),
                tableDword: space.read32(address, offset: capability.offset + Register.table.rawValue),
                pendingBitArrayDword: space.read32(address, offset: capability.offset + Register.pendingBitArray.rawValue))
        }
        return nil
    }

    /// How many entries the table has.
    public var tableEntryCount: Int { control.tableEntryCount }

    /// The bytes the table spans from `table.offset`: 16 per entry.
    public var tableByteCount: UInt64 { UInt64(tableEntryCount) * UInt64(MSIXTableEntry.byteCount) }

    /// The bytes the pending bit array spans from `pendingBitArray.offset`: one bit per entry,
    /// in whole QWORDs (§6.8.2.10).
    public var pendingBitArrayByteCount: UInt64 { UInt64((tableEntryCount + 63) / 64) * 8 }

    /// Message Control as the function shows it now.
    public func readControl<Space: ConfigurationSpace>(_ space: Space) -> MSIXMessageControl {
        MSIXMessageControl(rawValue: space.read16(address, offset: offset + Register.messageControl.rawValue))
    }

    /// Replaces Message Control. Configuration space is written a dword at a time, so the
    /// dword also carries the ID and next pointer as they read: both are read-only, so this
    /// changes nothing there (unlike the command register's dword, no bit of it is
    /// write-one-to-clear).
    public func writeControl<Space: ConfigurationSpace>(_ space: Space, _ control: MSIXMessageControl) {
        let header = space.read16(address, offset: offset + Register.header.rawValue)
        space.write32(address, offset: offset, value: UInt32(control.rawValue) << 16 | UInt32(header))
    }

    /// Sets MSI-X Enable and Function Mask as given, leaving the other bits as they read.
    ///
    /// The usual bring-up (PCI Local Bus 3.0 §6.8.3) is `setEnabled(true, functionMasked: true)`,
    /// mask every entry, then `setEnabled(true, functionMasked: false)`, then program and
    /// unmask entries one by one: with Enable set the function stops using INTx#, and no
    /// message can leave before its entry holds a real address.
    public func setEnabled<Space: ConfigurationSpace>(_ space: Space, _ enabled: Bool, functionMasked: Bool) {
        var control = readControl(space)
        control.isEnabled = enabled
        control.isFunctionMasked = functionMasked
        writeControl(space, control)
    }
}

/// One 16-byte MSI-X table entry, as the dwords software writes — PCI Local Bus 3.0
/// §6.8.2.6 (Message Address), §6.8.2.7 (Message Upper Address), §6.8.2.8 (Message Data),
/// §6.8.2.9 (Vector Control).
///
/// Entries live in memory space and must be accessed a DWORD (or aligned QWORD) at a time.
/// Software must not change an entry's address or data while it is unmasked (§6.8.3): the
/// function could send a message built from half-written fields. Mask, write, then unmask.
public struct MSIXTableEntry: Equatable, Sendable {
    /// The byte offsets of the entry's four dwords.
    public enum Field: Int, Sendable {
        /// Message Address bits 31:0; bits 1:0 are zero (DWORD-aligned).
        case messageAddressLow = 0x0
        /// Message Address bits 63:32.
        case messageAddressHigh = 0x4
        /// Message Data, 32 bits.
        case messageData = 0x8
        /// Vector Control: bit 0 masks the entry, bits 31:1 are reserved (kept as read).
        case vectorControl = 0xC
    }

    /// The size of one entry.
    public static let byteCount = 16
    /// Vector Control bit 0: the entry is masked (set on reset, §6.8.2.9).
    public static let maskBit: UInt32 = 1 << 0

    /// The byte offset of entry `index` from the start of the table.
    public static func offset(ofEntry index: Int) -> Int { index * byteCount }

    /// Message Address bits 31:0.
    public var messageAddressLow: UInt32
    /// Message Address bits 63:32.
    public var messageAddressHigh: UInt32
    /// Message Data.
    public var messageData: UInt32

    /// The entry that sends `message`.
    public init(message: MessageSignaledInterrupt) {
        messageAddressLow = UInt32(truncatingIfNeeded: message.address)
        messageAddressHigh = UInt32(truncatingIfNeeded: message.address >> 32)
        messageData = message.data
    }

    /// The Vector Control value that masks (or unmasks) an entry whose control reads
    /// `current`, keeping its reserved bits.
    public static func vectorControl(_ current: UInt32, masked: Bool) -> UInt32 {
        masked ? current | maskBit : current & ~maskBit
    }
}

/// The address and data of one message-signalled interrupt: the memory write a device makes.
public struct MessageSignaledInterrupt: Equatable, Sendable {
    /// Where the device writes (an interrupt message address on x86).
    public var address: UInt64
    /// What it writes.
    public var data: UInt32

    /// A message of `address` and `data`.
    public init(address: UInt64, data: UInt32) {
        self.address = address
        self.data = data
    }

    /// The x86 message that raises `vector` on the local APIC with ID `destinationAPICID` —
    /// Intel SDM vol 3A §11.11.1 (address) and §11.11.2 (data).
    ///
    /// Address: 0xFEE in bits 31:20, the destination APIC ID in bits 19:12, redirection hint
    /// (bit 3) 0 and destination mode (bit 2) 0, i.e. exactly the one CPU named, by physical
    /// APIC ID. Data: the vector in bits 7:0, delivery mode (10:8) 000 fixed, level (bit 14)
    /// 0 — ignored for edge triggering — and trigger mode (bit 15) 0 edge: PCI messages have
    /// no de-assert, so level triggering would need an EOI broadcast that cannot come.
    ///
    /// Nil when the APIC ID does not fit the 8-bit xAPIC destination field, or the vector is
    /// one of 0–15, which §11.5.2 calls illegal for fixed delivery (the APIC reports a
    /// receive error instead of interrupting).
    public static func x86(destinationAPICID: UInt32, vector: UInt8) -> MessageSignaledInterrupt? {
        guard destinationAPICID <= 0xFF, vector >= 16 else { return nil }
        return MessageSignaledInterrupt(address: X86InterruptMessage.addressBase | UInt64(destinationAPICID) << X86InterruptMessage.destinationShift,
                                        data: UInt32(vector) | X86InterruptMessage.deliveryModeFixed | X86InterruptMessage.triggerModeEdge)
    }
}

/// The x86 interrupt message format — Intel SDM vol 3A §11.11.1 (address) and
/// §11.11.2 (data).
public enum X86InterruptMessage {
    /// Address bits 31:20: 0xFEE, the local APICs' message window.
    public static let addressBase: UInt64 = 0xFEE0_0000
    /// Address bits 19:12: the destination ID.
    public static let destinationShift: UInt64 = 12
    /// Address bit 3: redirection hint (0: deliver to the destination named only).
    public static let redirectionHint: UInt64 = 1 << 3
    /// Address bit 2: destination mode (0 physical, 1 logical; read only when the hint is 1).
    public static let destinationModeLogical: UInt64 = 1 << 2
    /// Data bits 7:0: the vector.
    public static let vectorMask: UInt32 = 0xFF
    /// Data bits 10:8 = 000: fixed delivery.
    public static let deliveryModeFixed: UInt32 = 0b000 << 8
    /// Data bit 14: level assert (ignored for edge-triggered messages).
    public static let levelAssert: UInt32 = 1 << 14
    /// Data bit 15 = 0: edge triggered.
    public static let triggerModeEdge: UInt32 = 0 << 15
    /// Data bit 15 = 1: level triggered.
    public static let triggerModeLevel: UInt32 = 1 << 15
}
