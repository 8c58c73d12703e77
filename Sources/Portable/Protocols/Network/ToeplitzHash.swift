// The Toeplitz hash that NICs use for receive-side scaling, over IPv4 2- and 4-tuples.

/// The Toeplitz hash of receive-side scaling (Microsoft, "RSS Hashing Functions", and
/// virtio 1.2 §5.1.6.4.3, which adopts it): for every set bit of the input, most significant
/// bit of the first byte first, XOR into the result the 32 key bits that start at that bit's
/// position.
///
/// The hash is linear: the hash of `a XOR b` is `hash(a) XOR hash(b)`. That lets a caller hash
/// the fixed part of a tuple once and add a varying field (a port) bit by bit, as
/// `ReceiveSideScaling` does when it searches for a source port.
public struct ToeplitzHash: Sendable {
    /// The key length the specifications define: 40 bytes (320 bits).
    public static let keyByteCount = 40
    /// The longest input a 40-byte key can hash: the last input bit still needs 32 key bits.
    /// 36 bytes, the IPv6 4-tuple.
    public static let maximumInputByteCount = keyByteCount - 4

    /// The secret key, first byte first. A NIC must be given the same key (virtio-net:
    /// `hash_key_data` of VIRTIO_NET_CTRL_MQ_RSS_CONFIG) for our hashes to match its own.
    public var key: InlineArray<40, UInt8>

    /// A hash over `key`; the default is the Microsoft verification key.
    public init(key: InlineArray<40, UInt8> = ToeplitzHash.microsoftKey) {
        self.key = key
    }

    /// The key of Microsoft's "Verifying the RSS Hash Calculation" (also the default key of
    /// many NICs and drivers): 6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c
    /// 6a42b73bbeac01fa. Computed rather than stored so that reading it never runs a lazy
    /// global initializer.
    public static var microsoftKey: InlineArray<40, UInt8> {
        [0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
         0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
         0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
         0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa]
    }

    /// The hash of `input` (at most `maximumInputByteCount` bytes), taken as a bit string in
    /// transmission order: fields must already be in network byte order.
    public func hash(_ input: UnsafeRawBufferPointer) -> UInt32 {
        precondition(input.count <= Self.maximumInputByteCount, "Toeplitz input longer than 36 bytes")
        var result: UInt32 = 0
        for index in 0..<input.count {
            result ^= fold(input[index], atBit: 8 * index)
        }
        return result
    }

    /// The IPv4 2-tuple hash (VIRTIO_NET_HASH_TYPE_IPv4, NDIS_HASH_IPV4): source address then
    /// destination address, each in network byte order, as they appear in the IPv4 header.
    public func hash(source: IPv4Address, destination: IPv4Address) -> UInt32 {
        fold(source.rawValue, atBit: 0) ^ fold(destination.rawValue, atBit: 32)
    }

    /// The TCP- or UDP-over-IPv4 4-tuple hash (VIRTIO_NET_HASH_TYPE_TCPv4/UDPv4,
    /// NDIS_HASH_TCP_IPV4): source address, destination address, source port, destination
    /// port, each in network byte order — the order of the headers, not of a socket's
    /// (local, remote) view.
    public func hash(source: IPv4Address, destination: IPv4Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> UInt32 {
        hash(source: source, destination: destination)
            ^ fold(sourcePort, atBit: 64) ^ fold(destinationPort, atBit: 80)
    }

    /// The 32 key bits that start at key bit `offset` (0 is the most significant bit of the
    /// first key byte); bits past the key's end read as zero.
    func window(atBit offset: Int) -> UInt32 {
        let first = offset >> 3
        var bits: UInt64 = 0
        for index in first..<first + 5 {
            bits = bits << 8 | UInt64(index < Self.keyByteCount ? key[index] : 0)
        }
        // 40 bits loaded, the wanted 32 start `offset & 7` bits below the top.
        return UInt32(truncatingIfNeeded: bits >> (8 - UInt64(offset & 7)))
    }

    /// The hash contribution of `value` placed at input bit `firstBit`, most significant bit
    /// first (so an integer in host order is hashed as its network-order bytes). Only set bits
    /// cost work.
    @inline(__always)
    func fold<Word: FixedWidthInteger & UnsignedInteger>(_ value: Word, atBit firstBit: Int) -> UInt32 {
        var result: UInt32 = 0
        var remaining = value
        while remaining != 0 {
            let bitFromBottom = remaining.trailingZeroBitCount
            result ^= window(atBit: firstBit + Word.bitWidth - 1 - bitFromBottom)
            remaining &= remaining &- 1
        }
        return result
    }
}
