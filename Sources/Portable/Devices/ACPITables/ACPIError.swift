// Errors found while validating ACPI tables.

/// Why an ACPI structure was rejected.
public enum ACPIError: Error, Equatable {
    /// The root pointer copy is shorter than the 20 bytes of an ACPI 1.0 RSDP.
    case truncatedRootPointer
    /// The root pointer does not start with "RSD PTR " — ACPI 6.5 §5.2.5.3.
    case badRootPointerSignature
    /// The first 20 bytes of the root pointer do not sum to zero — ACPI 6.5 §5.2.5.3.
    case badRootPointerChecksum
    /// A revision 2+ root pointer's Length is below 36 or beyond the bytes available.
    case badRootPointerLength(UInt32)
    /// A revision 2+ root pointer's Length bytes do not sum to zero — ACPI 6.5 §5.2.5.3.
    case badExtendedChecksum
    /// A table's bytes do not sum to zero — ACPI 6.5 §5.2.6.
    case badTableChecksum(signature: TableSignature)
    /// A table's Length is below its header (or its fixed fields), beyond the bytes available, or
    /// above `ACPI.maximumTableLength`.
    case badTableLength(signature: TableSignature)
    /// A table parser was given a table with another signature.
    case badTableSignature(expected: TableSignature, found: TableSignature)
    /// The physical memory reader could not provide the bytes at this address.
    case unreadable(physicalAddress: UInt64)
    /// No valid table with this signature is listed in the RSDT/XSDT.
    case missingTable(signature: TableSignature)
}
