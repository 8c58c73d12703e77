// ICMP (RFC 792): the echo header, validation of received messages, and the echo reply and port-unreachable builders.

import RawBytes

/// An ICMP message type — RFC 792.
public struct ICMPType: RawRepresentable, Equatable, Sendable {
    /// The 8-bit type field.
    public var rawValue: UInt8
    /// Creates a type from its field value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Echo reply (type 0).
    public static let echoReply = ICMPType(rawValue: 0)
    /// Destination unreachable (type 3).
    public static let destinationUnreachable = ICMPType(rawValue: 3)
    /// Echo request (type 8).
    public static let echoRequest = ICMPType(rawValue: 8)
}

/// The first 8 bytes of an ICMP message — RFC 792. For echo and echo reply the last four bytes
/// are the identifier and sequence number; for destination unreachable they are unused (zero).
///
///     0      1      2          4            6                8
///     | type | code | checksum | identifier | sequence number | data ...
public struct ICMPHeader: Equatable, Sendable {
    /// The header length.
    public static let size = 8
    /// The code "port unreachable" of destination unreachable.
    public static let portUnreachableCode: UInt8 = 3

    /// The message type.
    public var type: ICMPType
    /// The subtype.
    public var code: UInt8
    /// The Internet checksum of the whole message.
    public var checksum: UInt16
    /// The echo identifier (bytes 4-5).
    public var identifier: UInt16
    /// The echo sequence number (bytes 6-7).
    public var sequenceNumber: UInt16

    /// Creates a header.
    public init(type: ICMPType, code: UInt8, checksum: UInt16, identifier: UInt16, sequenceNumber: UInt16) {
        self.type = type
        self.code = code
        self.checksum = checksum
        self.identifier = identifier
        self.sequenceNumber = sequenceNumber
    }

    /// Reads the 8 header bytes, or `nil` when the message is shorter.
    public init?(reading message: ByteReader) {
        guard let type = message.u8(at: 0), let code = message.u8(at: 1),
              let checksum = message.bigEndianUInt16(at: 2),
              let identifier = message.bigEndianUInt16(at: 4),
              let sequenceNumber = message.bigEndianUInt16(at: 6)
        else { return nil }
        self.init(type: ICMPType(rawValue: type), code: code, checksum: checksum,
                  identifier: identifier, sequenceNumber: sequenceNumber)
    }

    /// Writes the 8 bytes at `offset`, with the checksum field as it is.
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        writer.storeByte(type.rawValue, at: offset)
        writer.storeByte(code, at: offset + 1)
        writer.storeBigEndian(checksum, at: offset + 2)
        writer.storeBigEndian(identifier, at: offset + 4)
        writer.storeBigEndian(sequenceNumber, at: offset + 6)
    }
}

/// A received ICMP message whose checksum verified.
public struct ICMPMessage {
    /// The header.
    public var header: ICMPHeader
    /// The whole message, header included (the checksum covers it all).
    public var bytes: ByteReader

    /// Validates an ICMP message (an IPv4 payload): `.truncated` below 8 bytes, `.badChecksum`
    /// when the checksum over the whole message does not verify (RFC 792, "Checksum").
    public init(parsing message: ByteReader) throws(DropReason) {
        guard let header = ICMPHeader(reading: message) else { throw .truncated }
        guard InternetChecksum.of(message) == 0 else { throw .badChecksum }
        self.header = header
        self.bytes = message
    }
}

/// Builds the ICMP frames the stack sends.
enum ICMPFrames {
    /// An echo reply to `request` (RFC 792 "Echo or Echo Reply Message": the data, identifier
    /// and sequence number of the request are returned; type 0; checksum recomputed), sent from
    /// `source` to the requester. Returns the frame length, or 0 when the buffer is too small.
    static func writeEchoReply(into buffer: UnsafeMutableRawBufferPointer, request: ICMPMessage,
                               ethernet: EthernetHeader, source: IPv4Address, destination: IPv4Address,
                               identification: UInt16) -> Int {
        let messageLength = request.bytes.count
        let ipOffset = EthernetHeader.size
        let icmpOffset = ipOffset + IPv4Header.minimumSize
        guard messageLength >= ICMPHeader.size,
              messageLength <= EthernetHeader.maximumPayloadSize - IPv4Header.minimumSize,
              buffer.count >= max(icmpOffset + messageLength, EthernetHeader.minimumFrameSize),
              let echoed = request.bytes.suffix(from: 4)
        else { return 0 }
        let writer = NetworkOrderWriter(buffer)
        ethernet.write(to: writer)
        IPv4Header(protocolNumber: .icmp, source: source, destination: destination,
                   payloadLength: messageLength, identification: identification)
            .write(to: writer, at: ipOffset)
        writer.storeByte(ICMPType.echoReply.rawValue, at: icmpOffset)
        writer.storeByte(0, at: icmpOffset + 1)
        writer.storeBigEndian(UInt16(0), at: icmpOffset + 2)
        writer.copy(echoed, to: icmpOffset + 4)
        let checksum = InternetChecksum.of(writer.reader(at: icmpOffset, count: messageLength))
        writer.storeBigEndian(checksum, at: icmpOffset + 2)
        return EthernetHeader.finish(writer, length: icmpOffset + messageLength)
    }

    /// A destination unreachable message with `code` about `original` — RFC 792: the original
    /// IP header (with its options) and the first 64 bits of its data. Returns the frame length,
    /// or 0 when the buffer is too small.
    static func writeUnreachable(into buffer: UnsafeMutableRawBufferPointer, code: UInt8, original: IPv4Datagram,
                                 ethernet: EthernetHeader, source: IPv4Address, identification: UInt16) -> Int {
        let quotedLength = min(original.header.headerLength + 8, original.bytes.count)
        let messageLength = ICMPHeader.size + quotedLength
        let ipOffset = EthernetHeader.size
        let icmpOffset = ipOffset + IPv4Header.minimumSize
        guard buffer.count >= max(icmpOffset + messageLength, EthernetHeader.minimumFrameSize),
              let quoted = original.bytes.slice(at: 0, count: quotedLength)
        else { return 0 }
        let writer = NetworkOrderWriter(buffer)
        ethernet.write(to: writer)
        IPv4Header(protocolNumber: .icmp, source: source, destination: original.header.source,
                   payloadLength: messageLength, identification: identification)
            .write(to: writer, at: ipOffset)
        ICMPHeader(type: .destinationUnreachable, code: code, checksum: 0, identifier: 0, sequenceNumber: 0)
            .write(to: writer, at: icmpOffset)
        writer.copy(quoted, to: icmpOffset + ICMPHeader.size)
        let checksum = InternetChecksum.of(writer.reader(at: icmpOffset, count: messageLength))
        writer.storeBigEndian(checksum, at: icmpOffset + 2)
        return EthernetHeader.finish(writer, length: icmpOffset + messageLength)
    }
}
