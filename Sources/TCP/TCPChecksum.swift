// The TCP checksum: the RFC 1071 one's-complement sum over the IPv4 pseudo-header, the header and the data (RFC 9293 §3.1).

import RawBytes

/// Accumulates the TCP checksum — RFC 9293 §3.1 "Checksum", RFC 1071.
///
/// A small one-pass version of the stack's `InternetChecksum`, kept here so the TCP module
/// depends on nothing but RawBytes. Each `add(_: ByteReader)` must start at an even offset of
/// the covered data; only the last chunk may have an odd length (padded with a zero byte).
/// It sums 16-bit words one at a time: simple and obviously right; the network core may later
/// hand TCP the wide-load sum it already computes for IPv4.
public struct TCPChecksum {
    /// The running sum; 64 bits cannot overflow for any segment size.
    private var sum: UInt64 = 0

    /// Starts an empty sum.
    public init() {}

    /// Starts a sum with the IPv4 pseudo-header of RFC 9293 §3.1: source address, destination
    /// address, a zero byte, protocol 6 and the TCP length (header plus data).
    public init(source: UInt32, destination: UInt32, tcpLength: Int) {
        add(word: UInt16(truncatingIfNeeded: source >> 16))
        add(word: UInt16(truncatingIfNeeded: source))
        add(word: UInt16(truncatingIfNeeded: destination >> 16))
        add(word: UInt16(truncatingIfNeeded: destination))
        add(word: 6)
        add(word: UInt16(truncatingIfNeeded: tcpLength))
    }

    /// Adds one 16-bit word given in host order.
    public mutating func add(word: UInt16) {
        sum &+= UInt64(word)
    }

    /// Adds every byte of `bytes` as big-endian 16-bit words.
    public mutating func add(_ bytes: ByteReader) {
        var offset = 0
        while let word = bytes.tcpBigEndianUInt16(at: offset) {
            sum &+= UInt64(word)
            offset += 2
        }
        if let last = bytes.u8(at: offset) {
            sum &+= UInt64(last) << 8
        }
    }

    /// The checksum field value: the one's complement of the folded sum (0 for data that
    /// already carries a correct checksum).
    public var value: UInt16 {
        var folded = sum
        while folded >> 16 != 0 {
            folded = (folded & 0xFFFF) &+ (folded >> 16)
        }
        return ~UInt16(truncatingIfNeeded: folded)
    }
}
