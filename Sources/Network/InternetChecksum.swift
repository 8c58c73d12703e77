// The Internet checksum (RFC 1071): the one's-complement sum used by IPv4, ICMP and UDP.

import RawBytes

/// Accumulates 16-bit big-endian words into a one's-complement sum — RFC 1071 §1.
///
/// Add the covered bytes (and, for UDP, the pseudo-header fields) in any order — the sum is
/// commutative — then read `value` for the checksum field. Data that carries a correct checksum
/// sums to `value == 0`. Each `add(_: ByteReader)` must start at an even offset of the covered
/// data; only the last chunk may have an odd length (it is padded with a zero byte, §1 (4)).
public struct InternetChecksum {
    /// The running sum, folded only at the end: 64 bits cannot overflow for any frame size.
    private var sum: UInt64 = 0

    /// Starts an empty sum.
    public init() {}

    /// Adds every byte of `bytes` as big-endian 16-bit words.
    public mutating func add(_ bytes: ByteReader) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var total = sum
        var index = 0
        while index + 1 < count {
            total &+= UInt64(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: index, as: UInt16.self)))
            index += 2
        }
        if index < count {
            total &+= UInt64(base.load(fromByteOffset: index, as: UInt8.self)) << 8
        }
        sum = total
    }

    /// Adds one 16-bit word given in host order.
    public mutating func add(_ word: UInt16) {
        sum &+= UInt64(word)
    }

    /// Adds an address as its two 16-bit words.
    public mutating func add(_ address: IPv4Address) {
        add(UInt16(truncatingIfNeeded: address.rawValue >> 16))
        add(UInt16(truncatingIfNeeded: address.rawValue))
    }

    /// The checksum field value: the one's complement of the folded sum.
    public var value: UInt16 {
        var folded = sum
        while folded >> 16 != 0 {
            folded = (folded & 0xFFFF) + (folded >> 16)
        }
        return ~UInt16(truncatingIfNeeded: folded)
    }

    /// The checksum of `bytes` alone (0 when `bytes` holds a correct checksum).
    public static func of(_ bytes: ByteReader) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.value
    }
}
