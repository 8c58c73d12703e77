// TCP sequence numbers: 32-bit values compared and advanced modulo 2^32 (RFC 9293 §3.4, RFC 1982).

/// A TCP sequence (or acknowledgement) number — RFC 9293 §3.4.
///
/// Sequence numbers live on a circle of 2^32 values: adding wraps, and `a < b` means "b is
/// ahead of a by less than half the circle" (serial number arithmetic, RFC 1982 §3.2). Two numbers
/// exactly 2^31 apart are not ordered either way (RFC 1982 leaves that case undefined; here
/// both `<` and `>` are false), which TCP never needs because windows are far smaller than 2^31.
/// Plain integer comparison would be wrong as soon as a connection's numbers wrap past 2^32 - 1.
public struct SequenceNumber: Equatable, Hashable, Sendable {
    /// The 32-bit value as carried on the wire.
    public var rawValue: UInt32

    /// Wraps a wire value.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// The number `count` octets further on, wrapping at 2^32.
    @inline(__always)
    public static func + (number: SequenceNumber, count: UInt32) -> SequenceNumber {
        SequenceNumber(number.rawValue &+ count)
    }

    /// Advances by `count` octets, wrapping at 2^32.
    @inline(__always)
    public static func += (number: inout SequenceNumber, count: UInt32) {
        number.rawValue &+= count
    }

    /// The number `count` octets earlier, wrapping at 0.
    @inline(__always)
    public static func - (number: SequenceNumber, count: UInt32) -> SequenceNumber {
        SequenceNumber(number.rawValue &- count)
    }

    /// The signed distance from `earlier` to `later` on the circle: positive when `later` is ahead.
    @inline(__always)
    public static func distance(from earlier: SequenceNumber, to later: SequenceNumber) -> Int32 {
        Int32(bitPattern: later.rawValue &- earlier.rawValue)
    }

    /// The number of octets from `earlier` forward to `later`, wrapping (0 when equal). Meant for
    /// `earlier <= later`; otherwise it is the long way round the circle.
    @inline(__always)
    public static func octets(from earlier: SequenceNumber, to later: SequenceNumber) -> UInt32 {
        later.rawValue &- earlier.rawValue
    }

    /// Whether `left` comes before `right` on the circle (RFC 1982 §3.2 "s1 < s2").
    @inline(__always)
    public static func < (left: SequenceNumber, right: SequenceNumber) -> Bool {
        let difference = right.rawValue &- left.rawValue
        return difference != 0 && difference < 0x8000_0000
    }

    /// Whether `left` comes after `right` on the circle.
    @inline(__always)
    public static func > (left: SequenceNumber, right: SequenceNumber) -> Bool { right < left }

    /// Whether `left` is `right` or comes before it.
    @inline(__always)
    public static func <= (left: SequenceNumber, right: SequenceNumber) -> Bool { left == right || left < right }

    /// Whether `left` is `right` or comes after it.
    @inline(__always)
    public static func >= (left: SequenceNumber, right: SequenceNumber) -> Bool { left == right || right < left }

    /// Whether `self` lies in `[start, start + length)` on the circle; always false when `length` is 0.
    /// This is the form RFC 9293 §3.10.7.4 uses for segment acceptability ("RCV.NXT =< SEG.SEQ <
    /// RCV.NXT+RCV.WND"), computed as one unsigned distance so it stays right across the wrap.
    @inline(__always)
    public func isInWindow(start: SequenceNumber, length: UInt32) -> Bool {
        rawValue &- start.rawValue < length
    }
}
