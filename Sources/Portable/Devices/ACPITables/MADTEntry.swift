// One Interrupt Controller Structure of the MADT, decoded into a typed enum.

import RawBytes

/// An Interrupt Controller Structure of the MADT — ACPI 6.5 §5.2.12 (Table 5.21 lists the types).
public enum MADTEntry: Equatable {
    /// Processor Local APIC, type 0, length 8 — ACPI 6.5 §5.2.12.2.
    case localAPIC(processorID: UInt8, apicID: UInt8, enabled: Bool, onlineCapable: Bool)
    /// I/O APIC, type 1, length 12 — ACPI 6.5 §5.2.12.3.
    case ioAPIC(id: UInt8, address: UInt32, globalSystemInterruptBase: UInt32)
    /// Interrupt Source Override, type 2, length 10 — ACPI 6.5 §5.2.12.5.
    case interruptSourceOverride(bus: UInt8, source: UInt8, globalSystemInterrupt: UInt32, flags: InterruptInputFlags)
    /// Non-Maskable Interrupt Source, type 3, length 8 — ACPI 6.5 §5.2.12.6.
    case nonMaskableInterruptSource(flags: InterruptInputFlags, globalSystemInterrupt: UInt32)
    /// Local APIC NMI, type 4, length 6 — ACPI 6.5 §5.2.12.7. `processorID` 0xFF means all
    /// processors; `localInterruptInput` is the LINT# pin (0 or 1).
    case localAPICNMI(processorID: UInt8, flags: InterruptInputFlags, localInterruptInput: UInt8)
    /// Local APIC Address Override, type 5, length 12 — ACPI 6.5 §5.2.12.8.
    case localAPICAddressOverride(UInt64)
    /// Processor Local x2APIC, type 9, length 16 — ACPI 6.5 §5.2.12.12.
    case localX2APIC(apicID: UInt32, processorUID: UInt32, enabled: Bool, onlineCapable: Bool)
    /// Local x2APIC NMI, type 10, length 12 — ACPI 6.5 §5.2.12.13. `processorUID` 0xFFFFFFFF
    /// means all processors.
    case localX2APICNMI(processorUID: UInt32, flags: InterruptInputFlags, localInterruptInput: UInt8)
    /// Any other structure type, kept as its type and length.
    case unknown(type: UInt8, length: UInt8)
}

/// The type byte of an Interrupt Controller Structure — ACPI 6.5 §5.2.12 (Table 5.21).
public enum MADTEntryType: UInt8, Sendable {
    /// Processor Local APIC.
    case localAPIC = 0
    /// I/O APIC.
    case ioAPIC = 1
    /// Interrupt Source Override.
    case interruptSourceOverride = 2
    /// Non-Maskable Interrupt Source.
    case nonMaskableInterruptSource = 3
    /// Local APIC NMI.
    case localAPICNMI = 4
    /// Local APIC Address Override.
    case localAPICAddressOverride = 5
    /// Processor Local x2APIC.
    case localX2APIC = 9
    /// Local x2APIC NMI.
    case localX2APICNMI = 10

    /// The length the specification defines for this structure; shorter entries are malformed.
    public var minimumLength: Int {
        switch self {
        case .localAPIC: return 8
        case .ioAPIC: return 12
        case .interruptSourceOverride: return 10
        case .nonMaskableInterruptSource: return 8
        case .localAPICNMI: return 6
        case .localAPICAddressOverride: return 12
        case .localX2APIC: return 16
        case .localX2APICNMI: return 12
        }
    }
}

/// Local APIC Flags — ACPI 6.5 §5.2.12.2 (Table 5.23), shared by the x2APIC structure.
public struct LocalAPICFlags: OptionSet, Sendable {
    /// The raw 32-bit Flags field.
    public let rawValue: UInt32
    /// Wraps a raw Flags field.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The processor is ready for use (bit 0).
    public static let enabled = LocalAPICFlags(rawValue: 1 << 0)
    /// When not enabled, the processor can be enabled at run time (bit 1).
    public static let onlineCapable = LocalAPICFlags(rawValue: 1 << 1)
}

extension MADTEntry {
    /// Decodes one structure whose bytes (type, length, fields) are exactly `entry`; `nil` when
    /// a known type is shorter than its defined length.
    init?(_ entry: ByteReader) {
        guard let rawType = entry.u8(at: 0), let length = entry.u8(at: 1) else { return nil }
        guard let type = MADTEntryType(rawValue: rawType) else {
            self = .unknown(type: rawType, length: length)
            return
        }
        guard entry.count >= type.minimumLength else { return nil }
        switch type {
        case .localAPIC:
            guard let processorID = entry.u8(at: 2), let apicID = entry.u8(at: 3), let raw = entry.u32(at: 4)
            else { return nil }
            let flags = LocalAPICFlags(rawValue: raw)
            self = .localAPIC(processorID: processorID, apicID: apicID,
                              enabled: flags.contains(.enabled), onlineCapable: flags.contains(.onlineCapable))
        case .ioAPIC:
            guard let id = entry.u8(at: 2), let address = entry.u32(at: 4), let base = entry.u32(at: 8)
            else { return nil }
            self = .ioAPIC(id: id, address: address, globalSystemInterruptBase: base)
        case .interruptSourceOverride:
            guard let bus = entry.u8(at: 2), let source = entry.u8(at: 3), let interrupt = entry.u32(at: 4),
                  let flags = entry.u16(at: 8)
            else { return nil }
            self = .interruptSourceOverride(bus: bus, source: source, globalSystemInterrupt: interrupt,
                                            flags: InterruptInputFlags(rawValue: flags))
        case .nonMaskableInterruptSource:
            guard let flags = entry.u16(at: 2), let interrupt = entry.u32(at: 4) else { return nil }
            self = .nonMaskableInterruptSource(flags: InterruptInputFlags(rawValue: flags),
                                               globalSystemInterrupt: interrupt)
        case .localAPICNMI:
            guard let processorID = entry.u8(at: 2), let flags = entry.u16(at: 3), let pin = entry.u8(at: 5)
            else { return nil }
            self = .localAPICNMI(processorID: processorID, flags: InterruptInputFlags(rawValue: flags),
                                 localInterruptInput: pin)
        case .localAPICAddressOverride:
            guard let address = entry.u64(at: 4) else { return nil }
            self = .localAPICAddressOverride(address)
        case .localX2APIC:
            guard let apicID = entry.u32(at: 4), let raw = entry.u32(at: 8), let uid = entry.u32(at: 12)
            else { return nil }
            let flags = LocalAPICFlags(rawValue: raw)
            self = .localX2APIC(apicID: apicID, processorUID: uid,
                                enabled: flags.contains(.enabled), onlineCapable: flags.contains(.onlineCapable))
        case .localX2APICNMI:
            guard let flags = entry.u16(at: 2), let uid = entry.u32(at: 4), let pin = entry.u8(at: 8)
            else { return nil }
            self = .localX2APICNMI(processorUID: uid, flags: InterruptInputFlags(rawValue: flags),
                                   localInterruptInput: pin)
        }
    }
}
