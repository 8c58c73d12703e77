/// Time since boot in nanoseconds, readable on every CPU: the TSC scaled by its calibrated rate.
import Timekeeping

/// The kernel's monotonic clock. It assumes an invariant TSC shared by all CPUs (true on
/// modern hardware and under QEMU, where every virtual CPU reads the same host-derived TSC);
/// the `clock` self test checks it against the CMOS clock and across CPUs.
enum MonotonicClock {
    nonisolated(unsafe) private static var converter: TickConverter? = nil
    nonisolated(unsafe) private static var bootTimestamp: UInt64 = 0

    /// TSC ticks per second, 0 before calibration.
    static var timestampFrequency: UInt64 { converter?.ticksPerSecond ?? 0 }

    /// Nanoseconds since calibration (0 before it).
    static var nanosecondsSinceBoot: UInt64 {
        guard let converter else { return 0 }
        let now = Processor.timestamp()
        return now > bootTimestamp ? converter.nanoseconds(fromTicks: now - bootTimestamp) : 0
    }

    /// Records the TSC at kernel entry: time 0 of the clock.
    static func markBoot() { bootTimestamp = Processor.timestamp() }

    /// Busy-waits `nanoseconds` (callers before the clock exists get no wait).
    static func spin(nanoseconds: UInt64) {
        let end = nanosecondsSinceBoot + nanoseconds
        while nanosecondsSinceBoot < end { Processor.relax() }
    }

    /// Measures the TSC and the local APIC timer against the PIT over 10 ms, three times, and
    /// keeps the median of each. Run once on the boot CPU with interrupts off.
    static func calibrate() {
        var timestampRates = InlineArray<3, UInt64>(repeating: 0)
        var apicRates = InlineArray<3, UInt64>(repeating: 0)
        let interval: UInt64 = 10_000_000
        for round in 0..<3 {
            var startTimestamp: UInt64 = 0
            var startCount: UInt32 = 0
            LocalAPIC.startFreeRunningCountdown()
            PITChannel2.wait(nanoseconds: interval) {
                startTimestamp = Processor.timestamp()
                startCount = LocalAPIC.read(.timerCurrentCount)
            }
            let endTimestamp = Processor.timestamp()
            let endCount = LocalAPIC.read(.timerCurrentCount)
            let elapsed = ProgrammableIntervalTimer.nanoseconds(
                forReloadValue: ProgrammableIntervalTimer.reloadValue(forNanoseconds: interval) ?? UInt16.max)
            timestampRates[round] = Calibration.ticksPerSecond(ticks: endTimestamp - startTimestamp, elapsedNanoseconds: elapsed)
            apicRates[round] = Calibration.ticksPerSecond(ticks: UInt64(startCount - endCount), elapsedNanoseconds: elapsed)
        }
        LocalAPIC.timerFrequency = median(apicRates)
        if bootTimestamp == 0 { markBoot() }
        converter = TickConverter(ticksPerSecond: median(timestampRates))
    }

    private static func median(_ values: InlineArray<3, UInt64>) -> UInt64 {
        let a = values[0], b = values[1], c = values[2]
        return max(min(a, b), min(max(a, b), c))
    }
}
