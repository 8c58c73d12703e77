// Initial sequence numbers per RFC 6528: a 4 µs clock plus a keyed hash of the connection's four-tuple.
import InternetAddress

import RawBytes

/// Chooses initial sequence numbers — RFC 6528 §3: `ISN = M + F(localip, localport, remoteip,
/// remoteport, secretkey)`.
///
/// M is a timer that ticks every 4 microseconds (RFC 9293 §3.4.1), so numbers for one four-tuple
/// grow with time and a new incarnation of a connection starts ahead of the old one's segments.
/// F is SipHash-2-4 of the four-tuple under a secret key, so an off-path attacker who sees one
/// connection's ISN learns nothing about another's. The key must come from a good random
/// source at boot (RDRAND, or the hypervisor's entropy) and never leave the network core;
/// RFC 6528 §3 suggests changing it now and then, which a caller does by making a new generator.
public struct InitialSequenceNumberGenerator: Sendable {
    /// The secret key of F.
    private let secretKey: SipHashKey
    /// When set, every ISN is this number: a connection created from a SYN cookie must use
    /// the cookie it already sent as its ISS (RFC 4987 §3.6).
    private let fixedNumber: SequenceNumber?

    /// The period of M in nanoseconds: 4 µs (RFC 9293 §3.4.1).
    public static let clockPeriodNanoseconds: UInt64 = 4_000

    /// Creates a generator with a secret key.
    public init(secretKey: SipHashKey) {
        self.secretKey = secretKey
        self.fixedNumber = nil
    }

    /// A generator that always returns `number`: the connection table uses it to rebuild a
    /// connection from a SYN cookie, whose ISS the peer already acknowledged.
    public static func fixed(_ number: SequenceNumber) -> InitialSequenceNumberGenerator {
        InitialSequenceNumberGenerator(secretKey: SipHashKey(low: 0, high: 0), fixedNumber: number)
    }

    private init(secretKey: SipHashKey, fixedNumber: SequenceNumber?) {
        self.secretKey = secretKey
        self.fixedNumber = fixedNumber
    }

    /// The ISN for a connection from `local` to `remote` at monotonic time `nowNanoseconds`.
    public func initialSequenceNumber(local: TCPEndpoint, remote: TCPEndpoint, nowNanoseconds: UInt64) -> SequenceNumber {
        if let fixedNumber { return fixedNumber }
        let timer = UInt32(truncatingIfNeeded: nowNanoseconds / Self.clockPeriodNanoseconds)
        return SequenceNumber(timer &+ UInt32(truncatingIfNeeded: keyedHash(local: local, remote: remote)))
    }

    /// F: SipHash-2-4 over the 12 bytes local address, local port, remote address, remote port
    /// (laid out in two 64-bit words on the stack; no allocation).
    func keyedHash(local: TCPEndpoint, remote: TCPEndpoint) -> UInt64 {
        var words: (UInt64, UInt64) = (
            UInt64(local.address.rawValue) | UInt64(local.port) << 32 | UInt64(remote.port) << 48,
            UInt64(remote.address.rawValue)
        )
        return withUnsafeBytes(of: &words) { raw in
            SipHash24.hash(ByteReader(start: raw.baseAddress!, count: 12), key: secretKey)
        }
    }
}
