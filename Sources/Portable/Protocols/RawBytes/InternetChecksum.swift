// The Internet checksum (RFC 1071): the one's-complement sum used by IPv4, ICMP, UDP and TCP.


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
    ///
    /// The bytes are summed eight at a time in the machine's own byte order and the folded
    /// result is byte-swapped once at the end: the one's-complement sum is independent of byte
    /// order up to that swap (RFC 1071 §2 (B)), and wide native loads are what make checksums
    /// cheap on the network core (each frame is summed once on the way in and once out).
    public mutating func add(_ bytes: ByteReader) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        // Two 32-bit halves of each 64-bit load, in a 64-bit accumulator: it would take 2^32
        // loads to overflow, far beyond any frame.
        var native: UInt64 = 0
        var index = 0
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            native &+= (word & 0xFFFF_FFFF) &+ (word >> 32)
            index += 8
        }
        while index + 2 <= count {
            native &+= UInt64(base.loadUnaligned(fromByteOffset: index, as: UInt16.self))
            index += 2
        }
        if index < count {
            // The odd last byte, padded with a zero byte (§1 (4)): as a native load of the two
            // bytes [byte, 0] would read it.
            native &+= UInt64(UInt16(littleEndian: UInt16(base.load(fromByteOffset: index, as: UInt8.self))))
        }
        sum &+= UInt64(Self.fold(native).byteSwappedIfLittleEndian)
    }

    /// The 16-bit one's-complement sum of a wider one (end-around carries).
    @inline(__always)
    static func fold(_ value: UInt64) -> UInt16 {
        var folded = value
        while folded >> 16 != 0 {
            folded = (folded & 0xFFFF) &+ (folded >> 16)
        }
        return UInt16(truncatingIfNeeded: folded)
    }

    /// Adds one 16-bit word given in host order.
    public mutating func add(_ word: UInt16) {
        sum &+= UInt64(word)
    }

    /// Adds a 32-bit value (an IPv4 address of a pseudo-header) as its two 16-bit words.
    public mutating func add(_ value: UInt32) {
        add(UInt16(truncatingIfNeeded: value >> 16))
        add(UInt16(truncatingIfNeeded: value))
    }

    /// The checksum field value: the one's complement of the folded sum.
    public var value: UInt16 { ~Self.fold(sum) }

    /// The folded sum itself, not complemented: what a checksum field holds when a device is to
    /// finish it (checksum offload, virtio 1.2 §5.1.6.2). Started with a pseudo-header, it is
    /// the "sum of the TCP pseudo header" the device adds the segment's bytes to; the device
    /// then stores the complement of the whole, which equals `value` over header and data.
    public var partialValue: UInt16 { Self.fold(sum) }

    /// The checksum of `bytes` alone (0 when `bytes` holds a correct checksum).
    public static func of(_ bytes: ByteReader) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.value
    }
}

extension FixedWidthInteger {
    /// Big-endian to host order and back: a swap on little-endian machines, nothing otherwise.
    @inline(__always)
    var byteSwappedIfLittleEndian: Self { Self(bigEndian: self) }
}
