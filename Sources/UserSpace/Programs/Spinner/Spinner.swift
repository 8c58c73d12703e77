// Spinner: a compute-bound ring-3 program that reports its work rate once a second; as `yielder`, it gives its CPU away in a loop and reports its yields per second.
import ProgramRuntime

/// Iterations between clock reads: a system call costs far more than an iteration, so the
/// clock is read rarely enough not to distort the rate it measures.
let iterationsPerClockRead: UInt64 = 1 << 16
let nanosecondsPerReport: UInt64 = 1_000_000_000

/// Runs a fixed arithmetic loop (a xorshift step and a multiply-add per iteration) forever and,
/// every second of the kernel's clock, prints how many iterations the last interval ran. The
/// kernel starts every console line with the program's name, so lines here do not repeat it:
/// the console shows "spinner: N iterations/s".
@_cdecl("program_main")
func programMain() -> Int32 {
    System.write("started\n")
    if System.runs(as: "yielder") { yieldForever() }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    var accumulator: UInt64 = 0
    var iterations: UInt64 = 0
    var intervalStart = System.clock()
    while true {
        for _ in 0..<iterationsPerClockRead {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            accumulator = accumulator &* 31 &+ state
        }
        iterations += iterationsPerClockRead
        let now = System.clock()
        let elapsed = now &- intervalStart
        if elapsed >= nanosecondsPerReport {
            // Iterations per second in milliseconds' resolution; the product stays far below
            // 2^64 for any rate a CPU can reach in one interval.
            let rate = iterations * 1_000 / max(elapsed / 1_000_000, 1)
            System.write(rate)
            System.write(" iterations/s (checksum ")
            // Printing the accumulator keeps the loop's work observable, so it is not optimized away.
            System.write(hex: accumulator & 0xFFFF)
            System.write(")\n")
            iterations = 0
            intervalStart = now
        }
    }
}

/// `yielder`: calls `yield` in a loop and prints, once a second, how many calls returned. Two
/// yielders on one CPU switch to each other at every call: the rate measures the round trip
/// of a context switch (the kernel's `swiglet_program_switches_total` counts the switches).
func yieldForever() -> Never {
    var yields: UInt64 = 0
    var intervalStart = System.clock()
    while true {
        System.yield()
        yields += 1
        if yields & 1023 == 0 {
            let now = System.clock()
            let elapsed = now &- intervalStart
            if elapsed >= nanosecondsPerReport {
                System.write(yields * 1_000 / max(elapsed / 1_000_000, 1))
                System.write(" yields/s\n")
                yields = 0
                intervalStart = now
            }
        }
    }
}
