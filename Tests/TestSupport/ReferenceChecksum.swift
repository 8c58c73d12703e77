/// The Internet checksum computed the slow, obvious way, to check the real one against (RFC 1071).

/// RFC 1071 by the book: 16-bit big-endian words (an odd last byte padded with zero), summed,
/// folded, complemented. Over bytes that carry their own checksum it gives 0. Written apart
/// from `RawBytes`' checksum on purpose: a test that used the code under test as its
/// reference could not fail.
public func onesComplementChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var index = 0
    while index < bytes.count {
        sum += UInt32(bytes[index]) << 8 | (index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0)
        index += 2
    }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}
