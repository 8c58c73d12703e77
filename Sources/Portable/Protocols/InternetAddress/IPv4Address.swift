// IPv4 addresses: a 32-bit value in host order, with parsing of dotted-decimal text.

import RawBytes

/// An IPv4 address (RFC 791 §2.3), held as a 32-bit number in host byte order so that masks
/// and comparisons are plain integer operations.
public struct IPv4Address: Equatable, Hashable, Sendable {
    /// The address as a number: `10.0.2.15` is `0x0A00_020F`.
    public var rawValue: UInt32

    /// Creates an address from its number.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Creates `a.b.c.d`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// `0.0.0.0`: "this host" as a source, never a valid destination (RFC 1122 §3.2.1.3).
    public static let any = IPv4Address(rawValue: 0)

    /// `255.255.255.255`: the limited broadcast address (RFC 1122 §3.2.1.3).
    public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    /// The four bytes in transmission order.
    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
         UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue))
    }

    /// Whether this is a class D (multicast) address, 224.0.0.0/4 (RFC 1112 §4).
    public var isMulticast: Bool { rawValue >> 28 == 0xE }

    /// Reads four bytes in network order at `offset`, or `nil` when they are not all inside `reader`.
    public init?(reading reader: ByteReader, at offset: Int) {
        guard let value = reader.bigEndianUInt32(at: offset) else { return nil }
        rawValue = value
    }

    /// Parses dotted-decimal text such as `10.0.2.15`: exactly four decimal numbers of one to
    /// three digits, each at most 255, separated by dots, and nothing else. `nil` otherwise.
    public init?(parsing text: UnsafeRawBufferPointer) {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits += 1
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard digits <= 3, octet <= 255 else { return nil }
            } else if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                dots += 1
                octet = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        rawValue = value << 8 | octet
    }
}
