// Derives a counter's frequency from ticks counted over a measured interval.

/// Frequency calibration: count a counter's ticks across an interval measured by a reference
/// clock of known frequency (PIT, HPET, PM timer) and derive ticks per second.
public enum Calibration {
    /// `floor(ticks * 1e9 / elapsedNanoseconds)`, computed without overflow (128-bit product,
    /// 64-bit long division) and saturating at `UInt64.max`; 0 when `elapsedNanoseconds` is 0.
    public static func ticksPerSecond(ticks: UInt64, elapsedNanoseconds: UInt64) -> UInt64 {
        guard elapsedNanoseconds > 0 else { return 0 }
        return WideArithmetic.multiplyDivide(ticks, TickConverter.nanosecondsPerSecond, elapsedNanoseconds)
    }

    /// Ticks of a counter running at `referenceTicksPerSecond` converted to nanoseconds, for
    /// calibrating against a reference counter (e.g. PM timer ticks at 3,579,545 Hz).
    public static func elapsedNanoseconds(referenceTicks: UInt64, referenceTicksPerSecond: UInt64) -> UInt64 {
        guard referenceTicksPerSecond > 0 else { return 0 }
        return WideArithmetic.multiplyDivide(referenceTicks, TickConverter.nanosecondsPerSecond, referenceTicksPerSecond)
    }

    /// Frequency of the ACPI power management timer — ACPI 6.5 §4.8.3.3.
    public static let powerManagementTimerFrequency: UInt64 = 3_579_545
}
