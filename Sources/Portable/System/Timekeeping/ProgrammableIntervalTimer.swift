// Intel 8254 PIT arithmetic: reload values for a duration and durations for a reload value.

/// Intel 8254 Programmable Interval Timer arithmetic — Intel 8254 datasheet (order 231164).
///
/// A reload (initial count) value of 0 stands for 65,536. Counts of 1 are illegal in modes 2
/// and 3, so `reloadValue(forNanoseconds:)` only produces counts 2...65,536.
public enum ProgrammableIntervalTimer {
    /// The PIT input clock in Hz (the true value is 1,193,181.666...).
    public static let inputFrequency: UInt64 = 1_193_182

    /// The largest count the 16-bit reload register can express (written as 0).
    public static let maximumCount: UInt64 = 65_536

    /// The smallest count this API produces (1 is illegal in modes 2 and 3).
    public static let minimumCount: UInt64 = 2

    /// The reload value whose period is nearest to `nanoseconds` (65,536 is returned as 0), or
    /// `nil` when the nearest count is outside 2...65,536 (about 1.7 µs to 54.9 ms).
    public static func reloadValue(forNanoseconds nanoseconds: UInt64) -> UInt16? {
        // Anything above one second is far beyond 65,536 counts; this also keeps the product small.
        guard nanoseconds <= TickConverter.nanosecondsPerSecond else { return nil }
        let count = (nanoseconds * inputFrequency + TickConverter.nanosecondsPerSecond / 2)
            / TickConverter.nanosecondsPerSecond
        guard count >= minimumCount, count <= maximumCount else { return nil }
        return UInt16(truncatingIfNeeded: count)
    }

    /// The period of `reloadValue` counts in nanoseconds, rounded to nearest (0 means 65,536).
    public static func nanoseconds(forReloadValue reloadValue: UInt16) -> UInt64 {
        let count = reloadValue == 0 ? maximumCount : UInt64(reloadValue)
        return (count * TickConverter.nanosecondsPerSecond + inputFrequency / 2) / inputFrequency
    }
}
