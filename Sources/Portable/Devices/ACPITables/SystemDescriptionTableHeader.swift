// The 36-byte header that starts every ACPI system description table.

import RawBytes

/// System Description Table Header — ACPI 6.5 §5.2.6 (Table 5.4).
///
/// Offsets: Signature 0 (4), Length 4, Revision 8, Checksum 9, OEMID 10 (6), OEM Table ID 16 (8),
/// OEM Revision 24, Creator ID 28, Creator Revision 32.
public struct SystemDescriptionTableHeader: Equatable {
    /// Size of the header in bytes.
    public static let size = 36

    /// The table's signature.
    public let signature: TableSignature
    /// Length of the whole table, header included, in bytes.
    public let length: UInt32
    /// Revision of the table's structure.
    public let revision: UInt8
    /// The byte that makes the whole table sum to zero.
    public let checksum: UInt8
    /// OEM identifier (6 bytes).
    public let oemID: ASCIIIdentifier
    /// OEM table identifier (8 bytes).
    public let oemTableID: ASCIIIdentifier
    /// OEM revision of the table.
    public let oemRevision: UInt32
    /// Vendor ID of the utility that created the table.
    public let creatorID: UInt32
    /// Revision of the utility that created the table.
    public let creatorRevision: UInt32

    /// Decodes the header at the start of `bytes` (which needs at least 36 bytes; the Length field
    /// is not compared with `bytes.count` here).
    public init(_ bytes: ByteReader) throws(ACPIError) {
        guard let rawSignature = bytes.u32(at: 0) else { throw .badTableLength(signature: TableSignature(rawValue: 0)) }
        let signature = TableSignature(rawValue: rawSignature)
        guard let length = bytes.u32(at: 4), let revision = bytes.u8(at: 8), let checksum = bytes.u8(at: 9),
              let oemID = ASCIIIdentifier(bytes, at: 10, length: 6),
              let oemTableID = ASCIIIdentifier(bytes, at: 16, length: 8),
              let oemRevision = bytes.u32(at: 24), let creatorID = bytes.u32(at: 28),
              let creatorRevision = bytes.u32(at: 32)
        else { throw .badTableLength(signature: signature) }
        self.signature = signature
        self.length = length
        self.revision = revision
        self.checksum = checksum
        self.oemID = oemID
        self.oemTableID = oemTableID
        self.oemRevision = oemRevision
        self.creatorID = creatorID
        self.creatorRevision = creatorRevision
    }
}

/// Checks a table handed to a specific parser: header, signature, `minimumLength <= Length <=
/// bytes.count`, and checksum. Returns the table trimmed to exactly Length bytes.
func validatedTable(
    _ bytes: ByteReader, signature expected: TableSignature, minimumLength: Int
) throws(ACPIError) -> ByteReader {
    let header = try SystemDescriptionTableHeader(bytes)
    guard header.signature == expected else { throw .badTableSignature(expected: expected, found: header.signature) }
    guard Int(header.length) >= minimumLength, Int(header.length) >= SystemDescriptionTableHeader.size,
          let table = bytes.slice(at: 0, count: Int(header.length))
    else { throw .badTableLength(signature: expected) }
    guard table.byteSum() == 0 else { throw .badTableChecksum(signature: expected) }
    return table
}
