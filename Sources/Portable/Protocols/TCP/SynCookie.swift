// SYN cookies (RFC 4987 §3.6): a SYN-ACK's ISN that encodes what the listener needs, so a SYN flood keeps no state.
import InternetAddress

import RawBytes

/// What a valid SYN cookie gives back: the options of the peer's SYN that the listener kept
/// nowhere else.
public struct SynCookieContents: Equatable, Sendable {
    /// The MSS to use towards the peer: the table entry at or below the MSS its SYN announced.
    public var maximumSegmentSize: UInt16
    /// The peer's window shift count from its SYN, or `nil` when it sent no Window Scale option.
    public var windowScale: UInt8?

    /// Creates the contents.
    public init(maximumSegmentSize: UInt16, windowScale: UInt8?) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
    }
}

/// Makes and checks SYN cookies — RFC 4987 §3.6.
///
/// When a listener's half-open connections reach their bound, the SYN-ACK's sequence number
/// (our ISN) carries everything the connection needs and nothing is stored. The peer's ACK
/// acknowledges ISN + 1, so `acknowledgment - 1` gives the cookie back:
///
///     bit 31-30   time counter, low 2 bits (the counter ticks every 64 s)
///     bit 29-28   index into the MSS table (536, 1200, 1440, 1460)
///     bit 27-24   the peer's window shift (0-14), 15 = no Window Scale option
///     bit 23-0    the low 24 bits of SipHash-2-4 over the four-tuple, the peer's ISN, the
///                 full time counter, the MSS index and the shift code, under a key derived
///                 from the table's secret
///
/// The MAC covers the peer's ISN (so the cookie is bound to this SYN: the ACK's sequence number
/// minus one must match) and the whole counter, so a cookie is accepted only in the period it
/// was made and the next one (64 to 128 s), and an off-path attacker must guess 24 bits per
/// forged ACK. Options that do not fit (SACK-permitted, timestamps) are lost, as RFC 4987 §3.6
/// says; this TCP uses neither yet.
public struct SynCookieGenerator: Sendable {
    /// The period of the time counter: 64 s (Linux uses 60 s and the same two-period age).
    public static let counterPeriodNanoseconds: UInt64 = 64_000_000_000
    /// How many counter periods back a cookie may have been made: 1 (so it lives 64-128 s).
    public static let maximumAge: UInt32 = 1
    /// The window-shift code meaning "the SYN had no Window Scale option".
    static let noWindowScale: UInt32 = 15

    /// The MAC key, derived from the table's secret so that cookies and ISNs use different keys.
    private let key: SipHashKey

    /// Creates a generator whose key is derived from `secretKey`.
    public init(secretKey: SipHashKey) {
        key = secretKey.derived(label: 0x636F_6F6B_6965_7331)   // "cookies1"
    }

    /// The MSS table entry `index` (0-3): common path MSS values, smallest first — the
    /// default 536 (RFC 9293 §3.7.1), a tunnelled path, and Ethernet with and without options.
    public static func maximumSegmentSize(index: UInt32) -> UInt16 {
        switch index & 3 {
        case 0: return 536
        case 1: return 1200
        case 2: return 1440
        default: return 1460
        }
    }

    /// The index of the largest table entry not above `size` (a SYN without MSS, or below 536,
    /// gets 536: RFC 9293 §3.7.1's default).
    static func index(forMaximumSegmentSize size: UInt16?) -> UInt32 {
        guard let size else { return 0 }
        var index: UInt32 = 3
        while index > 0 && maximumSegmentSize(index: index) > size { index -= 1 }
        return index
    }

    /// The time counter at `now`.
    static func counter(at now: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: now / counterPeriodNanoseconds)
    }

    /// The cookie (our ISN) answering a SYN from `remote` to `local` with sequence number
    /// `peerInitialSequence` and the given options, at `now`.
    public func cookie(local: TCPEndpoint, remote: TCPEndpoint, peerInitialSequence: SequenceNumber,
                       maximumSegmentSize: UInt16?, windowScale: UInt8?, now: UInt64) -> SequenceNumber {
        let counter = Self.counter(at: now)
        let sizeIndex = Self.index(forMaximumSegmentSize: maximumSegmentSize)
        let scaleCode = windowScale.map { UInt32(min($0, TCPOptions.maximumWindowScale)) } ?? Self.noWindowScale
        let mac = authenticator(local: local, remote: remote, peerInitialSequence: peerInitialSequence,
                                counter: counter, sizeIndex: sizeIndex, scaleCode: scaleCode)
        return SequenceNumber((counter & 3) << 30 | sizeIndex << 28 | scaleCode << 24 | mac)
    }

    /// Checks `cookie` (an ACK's acknowledgement number minus one) for the four-tuple and the
    /// peer's ISN (the ACK's sequence number minus one) at `now`; returns what it encodes, or
    /// `nil` when it is forged, altered or older than `maximumAge` periods.
    public func validate(cookie: SequenceNumber, local: TCPEndpoint, remote: TCPEndpoint,
                         peerInitialSequence: SequenceNumber, now: UInt64) -> SynCookieContents? {
        let value = cookie.rawValue
        let current = Self.counter(at: now)
        // The cookie keeps the counter's low 2 bits; the age is their distance back from now.
        let age = (current &- (value >> 30)) & 3
        guard age <= Self.maximumAge else { return nil }
        let counter = current &- age
        let sizeIndex = (value >> 28) & 3
        let scaleCode = (value >> 24) & 0xF
        guard scaleCode == Self.noWindowScale || scaleCode <= UInt32(TCPOptions.maximumWindowScale) else { return nil }
        let mac = authenticator(local: local, remote: remote, peerInitialSequence: peerInitialSequence,
                                counter: counter, sizeIndex: sizeIndex, scaleCode: scaleCode)
        guard mac == value & 0xFF_FFFF else { return nil }
        return SynCookieContents(maximumSegmentSize: Self.maximumSegmentSize(index: sizeIndex),
                                 windowScale: scaleCode == Self.noWindowScale ? nil : UInt8(scaleCode))
    }

    /// The 24-bit MAC: SipHash-2-4 over 24 bytes laid out in three words on the stack.
    private func authenticator(local: TCPEndpoint, remote: TCPEndpoint, peerInitialSequence: SequenceNumber,
                               counter: UInt32, sizeIndex: UInt32, scaleCode: UInt32) -> UInt32 {
        var words: (UInt64, UInt64, UInt64) = (
            UInt64(local.address.rawValue) | UInt64(local.port) << 32 | UInt64(remote.port) << 48,
            UInt64(remote.address.rawValue) | UInt64(peerInitialSequence.rawValue) << 32,
            UInt64(counter) | UInt64(sizeIndex) << 32 | UInt64(scaleCode) << 40
        )
        let hash = withUnsafeBytes(of: &words) { raw in
            SipHash24.hash(ByteReader(start: raw.baseAddress!, count: 24), key: key)
        }
        return UInt32(truncatingIfNeeded: hash) & 0xFF_FFFF
    }
}

extension SipHashKey {
    /// A key for another purpose derived from this one: SipHash of `label` under it, twice.
    /// One boot secret then serves ISNs, cookies and the table's hash without the outputs of
    /// one revealing anything about another.
    func derived(label: UInt64) -> SipHashKey {
        var words: (UInt64, UInt64) = (label, ~label)
        return withUnsafeBytes(of: &words) { raw in
            SipHashKey(low: SipHash24.hash(ByteReader(start: raw.baseAddress!, count: 8), key: self),
                       high: SipHash24.hash(ByteReader(start: raw.baseAddress! + 8, count: 8), key: self))
        }
    }
}
