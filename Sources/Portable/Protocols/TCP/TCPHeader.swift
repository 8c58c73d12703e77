// The fixed 20-byte TCP header (RFC 9293 §3.1): reading it from bytes and writing it into a segment buffer.

import RawBytes

/// The fixed part of a TCP header — RFC 9293 §3.1 "Header Format".
///
///     0             2                  4                 8                     12           13      14       16         18               20
///     | source port | destination port | sequence number | acknowledgment number | offset<<4 | flags | window | checksum | urgent pointer | options ...
///
/// Byte 12 holds the data offset (header length in 32-bit words) in its high 4 bits; its low
/// 4 bits are reserved and sent as zero.
public struct TCPHeader: Equatable, Sendable {
    /// The fixed header length: data offset 5.
    public static let minimumSize = 20
    /// The longest header: data offset 15.
    public static let maximumSize = 60

    /// The sender's port.
    public var sourcePort: UInt16
    /// The receiver's port.
    public var destinationPort: UInt16
    /// SEG.SEQ: the first sequence number of this segment (the ISN on a SYN).
    public var sequenceNumber: SequenceNumber
    /// SEG.ACK: the next sequence number the sender expects; significant only with ACK.
    public var acknowledgmentNumber: SequenceNumber
    /// The header length in 32-bit words, options included (5 to 15).
    public var dataOffset: UInt8
    /// The control bits.
    public var flags: TCPFlags
    /// SEG.WND: the receive window, unscaled as on the wire.
    public var window: UInt16
    /// The checksum field as carried.
    public var checksum: UInt16
    /// The urgent pointer; significant only with URG.
    public var urgentPointer: UInt16

    /// Creates a header; `dataOffset` defaults to 5 (no options) and the builder fixes it to
    /// match the options it writes.
    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: SequenceNumber,
                acknowledgmentNumber: SequenceNumber, dataOffset: UInt8 = 5, flags: TCPFlags,
                window: UInt16, checksum: UInt16 = 0, urgentPointer: UInt16 = 0) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.dataOffset = dataOffset
        self.flags = flags
        self.window = window
        self.checksum = checksum
        self.urgentPointer = urgentPointer
    }

    /// Reads the 20 fixed bytes, or throws `.truncated` when there are fewer. The data offset
    /// is read as it is; `TCPSegment` checks it against the segment.
    public init(reading bytes: ByteReader) throws(TCPSegmentError) {
        guard let sourcePort = bytes.bigEndianUInt16(at: 0),
              let destinationPort = bytes.bigEndianUInt16(at: 2),
              let sequence = bytes.bigEndianUInt32(at: 4),
              let acknowledgment = bytes.bigEndianUInt32(at: 8),
              let offsetByte = bytes.u8(at: 12),
              let flagsByte = bytes.u8(at: 13),
              let window = bytes.bigEndianUInt16(at: 14),
              let checksum = bytes.bigEndianUInt16(at: 16),
              let urgentPointer = bytes.bigEndianUInt16(at: 18)
        else { throw .truncated }
        self.init(sourcePort: sourcePort, destinationPort: destinationPort,
                  sequenceNumber: SequenceNumber(sequence), acknowledgmentNumber: SequenceNumber(acknowledgment),
                  dataOffset: offsetByte >> 4, flags: TCPFlags(rawValue: flagsByte),
                  window: window, checksum: checksum, urgentPointer: urgentPointer)
    }

    /// The header length in bytes that `dataOffset` claims.
    public var headerLength: Int { Int(dataOffset) * 4 }

    /// Writes the 20 fixed bytes at `offset`, with the checksum field as it is.
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        writer.storeBigEndian(sourcePort, at: offset)
        writer.storeBigEndian(destinationPort, at: offset + 2)
        writer.storeBigEndian(sequenceNumber.rawValue, at: offset + 4)
        writer.storeBigEndian(acknowledgmentNumber.rawValue, at: offset + 8)
        writer.storeByte(dataOffset << 4, at: offset + 12)
        writer.storeByte(flags.rawValue, at: offset + 13)
        writer.storeBigEndian(window, at: offset + 14)
        writer.storeBigEndian(checksum, at: offset + 16)
        writer.storeBigEndian(urgentPointer, at: offset + 18)
    }
}
