/// A half-open range of physical addresses, with the page rounding the allocators need.
import Paging

/// Physical addresses `start ..< end`. Ranges never wrap: an `end` past 2^64 saturates at
/// `UInt64.max`, which no RAM reaches.
public struct PhysicalRange: Equatable, Sendable {
    /// The first address in the range.
    public var start: UInt64
    /// One past the last address in the range.
    public var end: UInt64

    /// The number of bytes in the range; setting it moves `end`.
    public var length: UInt64 {
        get { end - start }
        set { end = PhysicalRange.saturatingAdd(start, newValue) }
    }

    /// The range `start ..< end`; `end` must not be below `start`.
    public init(start: UInt64, end: UInt64) {
        precondition(end >= start, "PhysicalRange end below start")
        self.start = start
        self.end = end
    }

    /// The range of `length` bytes from `start` (saturating at `UInt64.max`).
    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.end = PhysicalRange.saturatingAdd(start, length)
    }

    /// Whether the range holds no address.
    public var isEmpty: Bool { start == end }

    /// Whether `address` lies in the range.
    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// Whether the two ranges share at least one address.
    public func overlaps(_ other: PhysicalRange) -> Bool {
        start < other.end && other.start < end && !isEmpty && !other.isEmpty
    }

    /// The largest range inside this one whose ends are multiples of `alignment` (a power of
    /// two): what can be handed out as whole pages. Empty (at an aligned address) if none.
    public func alignedInward(to alignment: UInt64 = Page.size64) -> PhysicalRange {
        precondition(alignment != 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        let alignedEnd = end & ~(alignment - 1)
        guard let alignedStart = PhysicalRange.alignUp(start, to: alignment), alignedStart < alignedEnd else {
            return PhysicalRange(start: alignedEnd, end: alignedEnd)
        }
        return PhysicalRange(start: alignedStart, end: alignedEnd)
    }

    /// The smallest range holding this one whose ends are multiples of `alignment` (a power of
    /// two): every page this range touches. The end saturates at `UInt64.max`.
    public func alignedOutward(to alignment: UInt64 = Page.size64) -> PhysicalRange {
        precondition(alignment != 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        return PhysicalRange(start: start & ~(alignment - 1), end: PhysicalRange.alignUp(end, to: alignment) ?? .max)
    }

    /// `value` rounded up to a multiple of `alignment` (a power of two), or nil if that
    /// overflows 64 bits.
    public static func alignUp(_ value: UInt64, to alignment: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    private static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }
}
