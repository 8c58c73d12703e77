// SipHash-2-4 (Aumasson and Bernstein, 2012): the keyed hash behind initial sequence numbers.

import RawBytes

/// A 128-bit SipHash key, as two little-endian 64-bit halves (k0 = key bytes 0-7, k1 = 8-15).
public struct SipHashKey: Equatable, Sendable {
    /// Key bytes 0-7, little-endian.
    public var low: UInt64
    /// Key bytes 8-15, little-endian.
    public var high: UInt64

    /// Creates a key from its two halves.
    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }
}

/// SipHash-2-4: a keyed pseudo-random function with 64-bit output — "SipHash: a fast
/// short-input PRF", §2. Two compression rounds per 8-byte block, four finalization rounds.
///
/// RFC 6528 §3 asks for F to be a cryptographic hash of the connection identifiers and a
/// secret; SipHash is a PRF built for exactly such short inputs and needs no allocation.
public enum SipHash24 {
    /// The hash of `bytes` under `key`.
    public static func hash(_ bytes: ByteReader, key: SipHashKey) -> UInt64 {
        var state = State(key: key)
        let count = bytes.count
        var offset = 0
        while let block = bytes.u64(at: offset) {
            state.compress(block)
            offset += 8
        }
        // The last block: the remaining 0-7 bytes, little-endian, with the length (mod 256) in
        // the top byte (§2 "Compression").
        var last = UInt64(truncatingIfNeeded: count) << 56
        var shift: UInt64 = 0
        while let byte = bytes.u8(at: offset) {
            last |= UInt64(byte) << shift
            shift += 8
            offset += 1
        }
        state.compress(last)
        return state.finalize()
    }

    /// The four 64-bit words v0-v3.
    private struct State {
        var v0: UInt64
        var v1: UInt64
        var v2: UInt64
        var v3: UInt64

        /// §2 "Initialization": the key XORed with "somepseudorandomlygeneratedbytes".
        init(key: SipHashKey) {
            v0 = key.low ^ 0x736f_6d65_7073_6575
            v1 = key.high ^ 0x646f_7261_6e64_6f6d
            v2 = key.low ^ 0x6c79_6765_6e65_7261
            v3 = key.high ^ 0x7465_6462_7974_6573
        }

        /// One SipRound (§2, Figure 2.1).
        @inline(__always)
        mutating func round() {
            v0 &+= v1; v1 = rotate(v1, 13); v1 ^= v0; v0 = rotate(v0, 32)
            v2 &+= v3; v3 = rotate(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotate(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotate(v1, 17); v1 ^= v2; v2 = rotate(v2, 32)
        }

        /// Absorbs one 8-byte message word with c = 2 rounds.
        mutating func compress(_ word: UInt64) {
            v3 ^= word
            round()
            round()
            v0 ^= word
        }

        /// §2 "Finalization": d = 4 rounds after XORing 0xff into v2.
        mutating func finalize() -> UInt64 {
            v2 ^= 0xFF
            round()
            round()
            round()
            round()
            return v0 ^ v1 ^ v2 ^ v3
        }

        @inline(__always)
        private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
            (value << count) | (value >> (64 - count))
        }
    }
}
