// The IPv4 header (RFC 791): parsing with validation of every length field, and writing with checksum.

import RawBytes

/// The protocol carried by an IPv4 datagram — RFC 791 §3.1 "Protocol", IANA numbers.
public struct IPProtocol: RawRepresentable, Equatable, Sendable {
    /// The 8-bit protocol field.
    public var rawValue: UInt8
    /// Creates a protocol from its field value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// ICMP, RFC 792.
    public static let icmp = IPProtocol(rawValue: 1)
    /// UDP, RFC 768.
    public static let udp = IPProtocol(rawValue: 17)
    /// TCP, RFC 9293.
    public static let tcp = IPProtocol(rawValue: 6)
}

/// The fixed part of an IPv4 header — RFC 791 §3.1. Options (between byte 20 and the header
/// length) are skipped on receive and never sent.
///
///     0       4       8              16    19                31
///     |version|  IHL  | type of service|      total length    |
///     |        identification          |flags| fragment offset|
///     | time to live  |    protocol    |    header checksum    |
///     |                     source address                     |
///     |                  destination address                   |
public struct IPv4Header: Equatable, Sendable {
    /// The header length without options.
    public static let minimumSize = 20
    /// The time to live of datagrams we send (RFC 1700's recommended default).
    public static let defaultTimeToLive: UInt8 = 64

    /// The version field; 4.
    public var version: UInt8
    /// The header length in bytes: the IHL field (32-bit words) times 4.
    public var headerLength: Int
    /// The type of service byte (DSCP and ECN today, RFC 2474/3168); copied, never interpreted.
    public var typeOfService: UInt8
    /// The datagram length in bytes, header included.
    public var totalLength: UInt16
    /// Identifies the fragments of one datagram.
    public var identification: UInt16
    /// The reserved flag bit (bit 0), which must be zero.
    public var reservedFlag: Bool
    /// DF: the datagram must not be fragmented.
    public var dontFragment: Bool
    /// MF: more fragments follow.
    public var moreFragments: Bool
    /// The fragment's position in 8-byte units.
    public var fragmentOffset: UInt16
    /// Hops left.
    public var timeToLive: UInt8
    /// The payload's protocol.
    public var protocolNumber: IPProtocol
    /// The Internet checksum of the header (RFC 1071).
    public var headerChecksum: UInt16
    /// Who sent the datagram.
    public var source: IPv4Address
    /// Where it goes.
    public var destination: IPv4Address

    /// A header for a datagram we originate: no options, TTL 64, DF set (we never fragment and
    /// every datagram fits one frame), checksum to be computed when written.
    public init(protocolNumber: IPProtocol, source: IPv4Address, destination: IPv4Address,
                payloadLength: Int, identification: UInt16) {
        version = 4
        headerLength = IPv4Header.minimumSize
        typeOfService = 0
        totalLength = UInt16(truncatingIfNeeded: IPv4Header.minimumSize + payloadLength)
        self.identification = identification
        reservedFlag = false
        dontFragment = true
        moreFragments = false
        fragmentOffset = 0
        timeToLive = IPv4Header.defaultTimeToLive
        self.protocolNumber = protocolNumber
        headerChecksum = 0
        self.source = source
        self.destination = destination
    }

    /// Reads the fixed 20 bytes at the start of `bytes` without judging them, or `nil` when
    /// there are fewer than 20.
    public init?(reading bytes: ByteReader) {
        guard let versionAndLength = bytes.u8(at: 0),
              let typeOfService = bytes.u8(at: 1),
              let totalLength = bytes.bigEndianUInt16(at: 2),
              let identification = bytes.bigEndianUInt16(at: 4),
              let flagsAndOffset = bytes.bigEndianUInt16(at: 6),
              let timeToLive = bytes.u8(at: 8),
              let protocolNumber = bytes.u8(at: 9),
              let headerChecksum = bytes.bigEndianUInt16(at: 10),
              let source = IPv4Address(reading: bytes, at: 12),
              let destination = IPv4Address(reading: bytes, at: 16)
        else { return nil }
        version = versionAndLength >> 4
        headerLength = Int(versionAndLength & 0x0F) * 4
        self.typeOfService = typeOfService
        self.totalLength = totalLength
        self.identification = identification
        reservedFlag = flagsAndOffset & 0x8000 != 0
        dontFragment = flagsAndOffset & 0x4000 != 0
        moreFragments = flagsAndOffset & 0x2000 != 0
        fragmentOffset = flagsAndOffset & 0x1FFF
        self.timeToLive = timeToLive
        self.protocolNumber = IPProtocol(rawValue: protocolNumber)
        self.headerChecksum = headerChecksum
        self.source = source
        self.destination = destination
    }

    /// Whether this datagram is a fragment of a larger one (RFC 791 §3.2 "Fragmentation").
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }

    /// Writes the 20-byte header at `offset` with a freshly computed checksum (options are never
    /// written, so `headerLength` is taken to be 20).
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        writer.storeByte(0x45, at: offset)
        writer.storeByte(typeOfService, at: offset + 1)
        writer.storeBigEndian(totalLength, at: offset + 2)
        writer.storeBigEndian(identification, at: offset + 4)
        var flagsAndOffset = fragmentOffset & 0x1FFF
        if reservedFlag { flagsAndOffset |= 0x8000 }
        if dontFragment { flagsAndOffset |= 0x4000 }
        if moreFragments { flagsAndOffset |= 0x2000 }
        writer.storeBigEndian(flagsAndOffset, at: offset + 6)
        writer.storeByte(timeToLive, at: offset + 8)
        writer.storeByte(protocolNumber.rawValue, at: offset + 9)
        writer.storeBigEndian(UInt16(0), at: offset + 10)
        writer.store(source, at: offset + 12)
        writer.store(destination, at: offset + 16)
        let checksum = InternetChecksum.of(writer.reader(at: offset, count: IPv4Header.minimumSize))
        writer.storeBigEndian(checksum, at: offset + 10)
    }
}

/// A received IPv4 datagram whose header passed every check, with its payload cut to the
/// header's total length.
public struct IPv4Datagram {
    /// The header.
    public var header: IPv4Header
    /// The whole datagram (header, options and payload) — exactly `totalLength` bytes.
    public var bytes: ByteReader
    /// The bytes after the header and its options.
    public var payload: ByteReader

    /// Validates the datagram at the start of an Ethernet payload — RFC 791 §3.1, RFC 1122 §3.2.1.
    ///
    /// Throws `.truncated` when the frame ends before the header or the total length,
    /// `.badHeader` for a version other than 4, an IHL below 5 or a total length shorter than the
    /// header, and `.badChecksum` when the header checksum does not verify. Bytes after the total
    /// length are Ethernet padding and are cut off. Addressing and fragmentation are judged by
    /// the caller.
    public init(parsing frame: ByteReader) throws(DropReason) {
        guard let header = IPv4Header(reading: frame) else { throw .truncated }
        guard header.version == 4, header.headerLength >= IPv4Header.minimumSize else { throw .badHeader }
        guard header.headerLength <= frame.count else { throw .truncated }
        let totalLength = Int(header.totalLength)
        guard totalLength >= header.headerLength else { throw .badHeader }
        guard let bytes = frame.slice(at: 0, count: totalLength) else { throw .truncated }
        guard let headerBytes = bytes.slice(at: 0, count: header.headerLength),
              let payload = bytes.suffix(from: header.headerLength)
        else { throw .truncated }
        guard InternetChecksum.of(headerBytes) == 0 else { throw .badChecksum }
        self.header = header
        self.bytes = bytes
        self.payload = payload
    }
}
