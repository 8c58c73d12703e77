// The ACPI Root System Description Pointer (RSDP), validated and copied into typed fields.

import RawBytes

/// Root System Description Pointer — ACPI 6.5 §5.2.5.3 (Table 5.3).
///
/// Offsets: Signature 0 (8, "RSD PTR "), Checksum 8, OEMID 9 (6), Revision 15, RsdtAddress 16,
/// Length 20, XsdtAddress 24, Extended Checksum 32, Reserved 33 (3). Revision 0 structures are the
/// first 20 bytes only (ACPI 1.0); revision 2+ structures have `Length` (36) bytes.
public struct RootSystemDescriptionPointer: Equatable {
    /// Size of the ACPI 1.0 part covered by the first checksum.
    public static let version1Size = 20
    /// Size of the ACPI 2.0+ structure.
    public static let version2Size = 36

    /// Structure revision: 0 for ACPI 1.0, 2 for ACPI 2.0 and later.
    public let revision: UInt8
    /// Physical address of the RSDT.
    public let rsdtAddress: UInt32
    /// Physical address of the XSDT, or `nil` when the revision is below 2 or the field is zero.
    public let xsdtAddress: UInt64?
    /// The OEM-supplied identifier (6 bytes).
    public let oemID: ASCIIIdentifier

    /// Validates a copy of the RSDP: signature, the checksum of the first 20 bytes, and for
    /// revision 2+ the Length field and the extended checksum over Length bytes.
    public init(_ bytes: ByteReader) throws(ACPIError) {
        guard let revision = bytes.u8(at: 15), let rsdtAddress = bytes.u32(at: 16),
              let oemID = ASCIIIdentifier(bytes, at: 9, length: 6),
              let version1 = bytes.slice(at: 0, count: Self.version1Size)
        else { throw .truncatedRootPointer }
        guard bytes.matches("RSD PTR ") else { throw .badRootPointerSignature }
        guard version1.byteSum() == 0 else { throw .badRootPointerChecksum }
        var xsdtAddress: UInt64? = nil
        if revision >= 2 {
            guard let length = bytes.u32(at: 20) else { throw .truncatedRootPointer }
            guard Int(length) >= Self.version2Size, let whole = bytes.slice(at: 0, count: Int(length)),
                  let extended = whole.u64(at: 24)
            else { throw .badRootPointerLength(length) }
            guard whole.byteSum() == 0 else { throw .badExtendedChecksum }
            xsdtAddress = extended == 0 ? nil : extended
        }
        self.revision = revision
        self.rsdtAddress = rsdtAddress
        self.xsdtAddress = xsdtAddress
        self.oemID = oemID
    }
}
