// The FADT fields a kernel needs early: DSDT address, SCI, PM timer, RTC century, boot flags.

import RawBytes

/// Fixed ACPI Description Table — ACPI 6.5 §5.2.9 (Table 5.9). Only the fields below are decoded;
/// fields past the table's Length (older, shorter revisions) are treated as absent.
///
/// Offsets used: FIRMWARE_CTRL 36, DSDT 40, SCI_INT 46 (u16), PM_TMR_BLK 76, PM_TMR_LEN 91,
/// CENTURY 108, IAPC_BOOT_ARCH 109 (u16), Flags 112, RESET_REG 116 (GAS), RESET_VALUE 128,
/// X_DSDT 140 (u64), X_PM_TMR_BLK 208 (GAS).
public struct FixedACPIDescriptionTable {
    /// Length of the ACPI 1.0 FADT, the shortest accepted.
    public static let minimumLength = 116

    /// The table, exactly Length bytes.
    public let bytes: ByteReader
    /// The decoded header.
    public let header: SystemDescriptionTableHeader

    /// Validates the table (signature "FACP", Length at least 116 and within `table`, checksum).
    public init(_ table: ByteReader) throws(ACPIError) {
        self.bytes = try validatedTable(table, signature: .fadt, minimumLength: Self.minimumLength)
        self.header = try SystemDescriptionTableHeader(bytes)
    }

    /// Physical address of the DSDT: X_DSDT when present and non-zero, else DSDT.
    public var dsdtAddress: UInt64 {
        if let extended = bytes.u64(at: 140), extended != 0 { return extended }
        return UInt64(bytes.u32(at: 40) ?? 0)
    }

    /// The system vector (GSI on APIC systems) the SCI interrupt is wired to.
    public var systemControlInterrupt: UInt16 { bytes.u16(at: 46) ?? 0 }

    /// The ACPI power management timer register: X_PM_TMR_BLK when present with a non-zero
    /// address, else the PM_TMR_BLK I/O port; `nil` when the platform has no PM timer.
    public var powerManagementTimer: GenericAddressStructure? {
        if let extended = GenericAddressStructure(bytes, at: 208), extended.address != 0 { return extended }
        guard let port = bytes.u32(at: 76), port != 0 else { return nil }
        return GenericAddressStructure(
            addressSpace: .systemIO, registerBitWidth: 32, registerBitOffset: 0, accessSize: 3, address: UInt64(port))
    }

    /// PM_TMR_LEN: 4 when there is a PM timer, else 0.
    public var powerManagementTimerLength: UInt8 { bytes.u8(at: 91) ?? 0 }

    /// CMOS RAM index of the RTC century register, or 0 when there is none.
    public var centuryRegister: UInt8 { bytes.u8(at: 108) ?? 0 }

    /// IA-PC Boot Architecture Flags (zero in ACPI 1.0 tables).
    public var bootArchitectureFlags: BootArchitectureFlags {
        BootArchitectureFlags(rawValue: bytes.u16(at: 109) ?? 0)
    }

    /// Fixed Feature Flags.
    public var flags: FixedFeatureFlags { FixedFeatureFlags(rawValue: bytes.u32(at: 112) ?? 0) }

    /// The reset register and the value to write to it, when the table is long enough and
    /// `flags` contains `.resetRegisterSupported`.
    public var reset: (register: GenericAddressStructure, value: UInt8)? {
        guard flags.contains(.resetRegisterSupported), let register = GenericAddressStructure(bytes, at: 116),
              let value = bytes.u8(at: 128)
        else { return nil }
        return (register, value)
    }
}

/// IA-PC Boot Architecture Flags — ACPI 6.5 §5.2.9.3 (Table 5.11).
public struct BootArchitectureFlags: OptionSet, Sendable {
    /// The raw 16-bit field.
    public let rawValue: UInt16
    /// Wraps a raw field.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// LEGACY_DEVICES (bit 0): ISA devices such as the RTC are present.
    public static let legacyDevices = BootArchitectureFlags(rawValue: 1 << 0)
    /// 8042 (bit 1): a PS/2 keyboard controller is present.
    public static let has8042 = BootArchitectureFlags(rawValue: 1 << 1)
    /// VGA Not Present (bit 2).
    public static let vgaNotPresent = BootArchitectureFlags(rawValue: 1 << 2)
    /// MSI Not Supported (bit 3).
    public static let msiNotSupported = BootArchitectureFlags(rawValue: 1 << 3)
    /// PCIe ASPM Controls (bit 4).
    public static let pcieASPMControls = BootArchitectureFlags(rawValue: 1 << 4)
    /// CMOS RTC Not Present (bit 5).
    public static let cmosRTCNotPresent = BootArchitectureFlags(rawValue: 1 << 5)
}

/// Fixed ACPI Description Table Fixed Feature Flags — ACPI 6.5 §5.2.9 (Table 5.10), selected bits.
public struct FixedFeatureFlags: OptionSet, Sendable {
    /// The raw 32-bit field.
    public let rawValue: UInt32
    /// Wraps a raw field.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// WBINVD (bit 0): WBINVD works correctly.
    public static let writeBackInvalidate = FixedFeatureFlags(rawValue: 1 << 0)
    /// TMR_VAL_EXT (bit 8): the PM timer is 32 bits wide (else 24 bits).
    public static let timerValueExtended = FixedFeatureFlags(rawValue: 1 << 8)
    /// RESET_REG_SUP (bit 10): RESET_REG resets the system.
    public static let resetRegisterSupported = FixedFeatureFlags(rawValue: 1 << 10)
    /// HW_REDUCED_ACPI (bit 20).
    public static let hardwareReducedACPI = FixedFeatureFlags(rawValue: 1 << 20)
}
