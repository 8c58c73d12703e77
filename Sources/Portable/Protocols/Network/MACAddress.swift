// Ethernet hardware (MAC) addresses: six bytes, compared and copied without allocating.

import RawBytes

/// A 48-bit IEEE 802 hardware address, as carried in Ethernet and ARP headers.
public struct MACAddress: Equatable, Sendable {
    /// The six bytes in transmission order.
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    /// The all-ones address every station on the segment receives.
    public static let broadcast = MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)

    /// The all-zero address: "unknown" in the target field of an ARP request (RFC 826).
    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)

    /// Creates an address from its six bytes in transmission order.
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    /// Reads six bytes at `offset`, or `nil` when they are not all inside `reader`.
    public init?(reading reader: ByteReader, at offset: Int) {
        guard reader.contains(offset: offset, width: 6),
              let b0 = reader.u8(at: offset), let b1 = reader.u8(at: offset + 1),
              let b2 = reader.u8(at: offset + 2), let b3 = reader.u8(at: offset + 3),
              let b4 = reader.u8(at: offset + 4), let b5 = reader.u8(at: offset + 5)
        else { return nil }
        self.init(b0, b1, b2, b3, b4, b5)
    }

    /// Whether this is a group (multicast or broadcast) address: the I/G bit, the least
    /// significant bit of the first byte (IEEE 802-2014 §8.2.2). Never a valid source.
    public var isGroup: Bool { bytes.0 & 1 != 0 }

    /// Whether two addresses have the same six bytes.
    public static func == (left: MACAddress, right: MACAddress) -> Bool {
        left.bytes.0 == right.bytes.0 && left.bytes.1 == right.bytes.1
            && left.bytes.2 == right.bytes.2 && left.bytes.3 == right.bytes.3
            && left.bytes.4 == right.bytes.4 && left.bytes.5 == right.bytes.5
    }
}
