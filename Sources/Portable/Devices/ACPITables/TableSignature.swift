// The four-byte ASCII signature that names an ACPI table.

/// The 4-byte signature of an ACPI system description table — ACPI 6.5 §5.2.6 (Table 5.6).
///
/// `rawValue` is the signature as the little-endian `UInt32` found in memory, so "APIC" is
/// 0x4349_5041. The well-known signatures are integer literals so that they need no lazy
/// initialization (tests check each against its text).
public struct TableSignature: RawRepresentable, Equatable, Hashable, Sendable {
    /// The signature bytes read as a little-endian 32-bit value.
    public let rawValue: UInt32

    /// Wraps the little-endian value of four signature bytes.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Builds a signature from exactly four ASCII characters, e.g. `TableSignature("APIC")`.
    public init(_ text: StaticString) {
        precondition(text.utf8CodeUnitCount == 4, "an ACPI table signature has 4 bytes")
        let bytes = text.utf8Start
        self.rawValue = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    /// Multiple APIC Description Table, "APIC" — ACPI 6.5 §5.2.12.
    public static let madt = TableSignature(rawValue: 0x4349_5041)
    /// Fixed ACPI Description Table, "FACP" — ACPI 6.5 §5.2.9.
    public static let fadt = TableSignature(rawValue: 0x5043_4146)
    /// IA-PC High Precision Event Timer Table, "HPET" — IA-PC HPET spec 1.0a §3.2.4.
    public static let hpet = TableSignature(rawValue: 0x5445_5048)
    /// PCI Express memory-mapped configuration table, "MCFG" — PCI Firmware spec 3.2 §4.1.2.
    public static let mcfg = TableSignature(rawValue: 0x4746_434D)
    /// Root System Description Table, "RSDT" — ACPI 6.5 §5.2.7.
    public static let rsdt = TableSignature(rawValue: 0x5444_5352)
    /// Extended System Description Table, "XSDT" — ACPI 6.5 §5.2.8.
    public static let xsdt = TableSignature(rawValue: 0x5444_5358)
    /// Differentiated System Description Table, "DSDT" — ACPI 6.5 §5.2.11.1.
    public static let dsdt = TableSignature(rawValue: 0x5444_5344)

    /// The signature byte at `index` (0...3).
    public func byte(at index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: rawValue >> UInt32(8 * (index & 3)))
    }

    /// The four signature bytes with anything outside printable ASCII replaced by "?", for
    /// printing without a heap (e.g. byte by byte to a serial port).
    public var printableBytes: (UInt8, UInt8, UInt8, UInt8) {
        (printable(byte(at: 0)), printable(byte(at: 1)), printable(byte(at: 2)), printable(byte(at: 3)))
    }
}

/// `byte` if it is printable ASCII, else "?".
@inline(__always)
func printable(_ byte: UInt8) -> UInt8 {
    byte >= 0x20 && byte < 0x7F ? byte : 0x3F
}

extension TableSignature: CustomStringConvertible {
    /// The signature as text ("APIC"); non-printable bytes show as "?". Allocates a String.
    public var description: String {
        var bytes = printableBytes
        return withUnsafeBytes(of: &bytes) { buffer in
            String(decoding: buffer, as: UTF8.self)
        }
    }
}
