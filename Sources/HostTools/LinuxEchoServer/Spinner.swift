// The spinner of scripts/bench-intrusion.sh: Swiglet's spinner loop, its rate printed each second.

#if canImport(Glibc)
import Glibc
#endif

/// The spinner: the arithmetic loop of Sources/UserSpace/Programs/Spinner, with the time read from
/// CLOCK_MONOTONIC every 2^16 iterations; prints "spinner: N iterations/s" once a second.
func spin() -> Never {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    var accumulator: UInt64 = 0
    var iterations: UInt64 = 0
    var intervalStart = monotonicNanoseconds()
    while true {
        for _ in 0..<(1 << 16) {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            accumulator = accumulator &* 31 &+ state
        }
        iterations += 1 << 16
        let elapsed = monotonicNanoseconds() &- intervalStart
        if elapsed >= 1_000_000_000 {
            say("spinner: \(iterations * 1_000 / max(elapsed / 1_000_000, 1)) iterations/s (checksum \(accumulator & 0xFFFF))")
            iterations = 0
            intervalStart = monotonicNanoseconds()
        }
    }
}

/// Nanoseconds of CLOCK_MONOTONIC.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
