// The system calls of a Swiglet program, and `System`, the Swift face programs use.
import SystemCallABI

// The one stub in boot/program-runtime.asm: SYSCALL with `number` in RAX (the ABI is described
// there; the numbers and results are `SystemCallABI`'s, shared with the kernel).
@_extern(c, "system_call") func system_call(_ number: UInt64, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64) -> UInt64

/// A system call with up to four arguments.
@inline(__always)
func systemCall(_ number: SystemCallNumber, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) -> UInt64 {
    system_call(number.rawValue, a0, a1, a2, a3)
}

/// What a program asks of the kernel: ending, console text, the clock, and sleeping. Console
/// text is collected into lines (the kernel logs each `write` as one line) and sent when a
/// line ends, when the buffer is full, or when the program exits.
public enum System {
    /// The name this program runs as (at most 31 bytes), into `buffer`; returns the length.
    public static func name(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let length = systemCall(.name, UInt64(UInt(bitPattern: base)), UInt64(buffer.count))
        return length == SystemCallResult.refused ? 0 : Int(length)
    }

    /// Whether this program runs as `name` (one image can be loaded under several names and
    /// behave by the name it got).
    public static func runs(as name: StaticString) -> Bool {
        var storage = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &storage) { buffer in
            let length = System.name(into: buffer)
            return name.withUTF8Buffer { wanted in
                wanted.count == length && zip(wanted, buffer.prefix(length)).allSatisfy { $0 == $1 }
            }
        }
    }

    /// How a `wait` ended.
    public enum WaitResult: Equatable {
        /// The word no longer holds the expected value, or a wake-up arrived.
        case woken
        /// The timeout passed first.
        case timedOut
        /// The kernel refused the call (the address is misaligned or not the program's).
        case refused
    }

    /// Sends any pending console text, then ends the program with `status`.
    public static func exit(_ status: UInt64) -> Never {
        Console.flush()
        // A C declaration cannot say it never returns, so the loop says it to Swift.
        while true { _ = systemCall(.exit, status) }
    }

    /// Nanoseconds since the machine booted (the kernel's monotonic clock, same on every CPU).
    public static func clock() -> UInt64 { systemCall(.clock) }

    /// Wakes the network core if it halted while idle (`SystemCallNumber.kick`): after
    /// pushing requests, when `ConsumerSleepWatch` says so.
    public static func kick() { _ = systemCall(.kick) }

    /// Tells the kernel the program has nothing to do for now.
    public static func yield() { _ = systemCall(.yield) }

    /// Sleeps while the 32-bit word at `word` still equals `expected`, at most `timeout`
    /// nanoseconds — the slow path of a program that polls shared memory.
    public static func wait(on word: UnsafeRawPointer, whileEqualTo expected: UInt32, timeout: UInt64) -> WaitResult {
        switch systemCall(.wait, UInt64(UInt(bitPattern: word)), UInt64(expected), timeout) {
        case SystemCallResult.woken: .woken
        case SystemCallResult.timedOut: .timedOut
        default: .refused
        }
    }

    /// Appends `text` to the console line.
    public static func write(_ text: StaticString) {
        Console.append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends raw bytes (expected to be text) to the console line.
    public static func write(bytes: UnsafeRawBufferPointer) {
        Console.append(bytes)
    }

    /// Appends `value` in decimal, without allocating.
    public static func write(_ value: UInt64) {
        // 20 digits hold UInt64.max; filled from the end.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining != 0
            Console.append(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Appends `value` in decimal, with a minus sign when negative.
    public static func write(_ value: Int) {
        if value < 0 { write("-") }
        write(value.magnitude.toUInt64)
    }

    /// Appends `value` as `0x` and lower-case hexadecimal digits, without leading zeros.
    public static func write(hex value: UInt64) {
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var start = buffer.count
            repeat {
                start -= 1
                let digit = UInt8(remaining & 0xF)
                buffer[start] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                remaining >>= 4
            } while remaining != 0
            start -= 2
            buffer[start] = UInt8(ascii: "0")
            buffer[start + 1] = UInt8(ascii: "x")
            Console.append(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Sends the console line now, even if it has not ended.
    public static func flush() { Console.flush() }
}

extension UInt {
    /// The same value as `UInt64` (they are the same width on x86-64).
    fileprivate var toUInt64: UInt64 { UInt64(self) }
}
