// Ethernet II framing: the 14-byte header, EtherTypes, and the frame size limits.

import RawBytes

/// The protocol carried by an Ethernet II frame — IEEE 802.3 §3.2.6 (values ≥ 0x0600 are types).
public struct EtherType: RawRepresentable, Equatable, Sendable {
    /// The 16-bit type field.
    public var rawValue: UInt16
    /// Creates a type from its field value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// IPv4, RFC 894.
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// ARP, RFC 826.
    public static let arp = EtherType(rawValue: 0x0806)
}

/// The Ethernet II header: destination, source, EtherType — RFC 894 / IEEE 802.3 §3.1.1.
/// Frames reach the stack without preamble and without FCS (the NIC strips and adds those).
///
///     0      6      12    14
///     | dest | src  | type | payload (46...1500 bytes on the wire) |
public struct EthernetHeader: Equatable, Sendable {
    /// The header length in bytes.
    public static let size = 14
    /// The largest frame without FCS: 14 + 1500 (the Ethernet MTU, RFC 894).
    public static let maximumFrameSize = 1514
    /// The smallest frame without FCS: 64 on the wire minus the 4-byte FCS. Shorter frames are
    /// padded with zeros when sent (IEEE 802.3 §4.2.3.3); received ones are accepted as they come.
    public static let minimumFrameSize = 60
    /// The most payload one frame carries.
    public static let maximumPayloadSize = 1500

    /// Where the frame goes.
    public var destination: MACAddress
    /// Who sent it.
    public var source: MACAddress
    /// What the payload is.
    public var etherType: EtherType

    /// Creates a header.
    public init(destination: MACAddress, source: MACAddress, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    /// Reads the header at the start of `frame`, or `nil` when the frame is shorter than 14 bytes.
    public init?(reading frame: ByteReader) {
        guard let destination = MACAddress(reading: frame, at: 0),
              let source = MACAddress(reading: frame, at: 6),
              let type = frame.bigEndianUInt16(at: 12)
        else { return nil }
        self.init(destination: destination, source: source, etherType: EtherType(rawValue: type))
    }

    /// Writes the 14 header bytes at the start of the buffer.
    func write(to writer: NetworkOrderWriter) {
        writer.store(destination, at: 0)
        writer.store(source, at: 6)
        writer.storeBigEndian(etherType.rawValue, at: 12)
    }

    /// Pads a frame of `length` bytes with zeros to the minimum frame size and returns its final
    /// length.
    static func finish(_ writer: NetworkOrderWriter, length: Int) -> Int {
        guard length < minimumFrameSize else { return length }
        writer.zero(from: length, to: minimumFrameSize)
        return minimumFrameSize
    }
}
