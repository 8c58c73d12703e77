// Converts counter ticks to nanoseconds and back with a precomputed fixed-point factor.

/// Converts between ticks of a counter of known frequency (TSC, HPET, PIT, PM timer) and
/// nanoseconds, without overflow and without 128-bit division.
///
/// A conversion splits the value into whole seconds (one 64-bit division) and a remainder that
/// is scaled by a fixed-point factor (`UInt64.multipliedFullWidth` and a shift). Results are the
/// exact floor for every frequency up to 9.2 GHz (where frequency × 10^9 ≤ 2^63); above that the
/// sub-second part can be one unit more than exact. Results are monotonic in the input and
/// saturate at `UInt64.max`.
public struct TickConverter: Equatable {
    /// The counter frequency.
    public let ticksPerSecond: UInt64
    /// Nanoseconds per tick as a fixed-point ratio (1e9 / ticksPerSecond).
    let nanosecondsPerTick: FixedPointRatio
    /// Ticks per nanosecond as a fixed-point ratio (ticksPerSecond / 1e9).
    let ticksPerNanosecond: FixedPointRatio

    /// Nanoseconds in one second.
    public static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// Prepares conversions for a counter running at `ticksPerSecond`, which must not be zero.
    public init(ticksPerSecond: UInt64) {
        precondition(ticksPerSecond > 0, "a tick counter needs a non-zero frequency")
        self.ticksPerSecond = ticksPerSecond
        self.nanosecondsPerTick = FixedPointRatio(numerator: Self.nanosecondsPerSecond, denominator: ticksPerSecond)
        self.ticksPerNanosecond = FixedPointRatio(numerator: ticksPerSecond, denominator: Self.nanosecondsPerSecond)
    }

    /// `floor(ticks * 1e9 / ticksPerSecond)`, saturating at `UInt64.max` (see the type's
    /// documentation for frequencies above 9.2 GHz).
    public func nanoseconds(fromTicks ticks: UInt64) -> UInt64 {
        let seconds = ticks / ticksPerSecond
        let remainder = ticks % ticksPerSecond
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: Self.nanosecondsPerSecond)
        guard !overflow else { return UInt64.max }
        let (total, carry) = whole.addingReportingOverflow(nanosecondsPerTick.apply(remainder))
        return carry ? UInt64.max : total
    }

    /// `floor(nanoseconds * ticksPerSecond / 1e9)`, saturating at `UInt64.max` (see the type's
    /// documentation for frequencies above 9.2 GHz).
    public func ticks(fromNanoseconds nanoseconds: UInt64) -> UInt64 {
        let seconds = nanoseconds / Self.nanosecondsPerSecond
        let remainder = nanoseconds % Self.nanosecondsPerSecond
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: ticksPerSecond)
        guard !overflow else { return UInt64.max }
        let (total, carry) = whole.addingReportingOverflow(ticksPerNanosecond.apply(remainder))
        return carry ? UInt64.max : total
    }
}
