// The system calls of a Swiglet program, and `System`, the Swift face programs use.

// The stubs in boot/program-runtime.asm (one SYSCALL each; the ABI is described there).
@_extern(c, "system_exit") func system_exit(_ status: UInt64)   // never returns
@_extern(c, "system_write") func system_write(_ text: UnsafeRawPointer, _ length: UInt64) -> UInt64
@_extern(c, "system_wait") func system_wait(_ word: UnsafeRawPointer, _ expected: UInt64, _ timeout: UInt64) -> UInt64
@_extern(c, "system_yield") func system_yield()
@_extern(c, "system_clock") func system_clock() -> UInt64
@_extern(c, "system_call") func system_call(_ number: UInt64, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64) -> UInt64

/// What a program asks of the kernel: ending, console text, the clock, and sleeping. Console
/// text is collected into lines (the kernel logs each `write` as one line) and sent when a
/// line ends, when the buffer is full, or when the program exits.
public enum System {
    /// The system call numbers (RAX), as the kernel defines them.
    public enum CallNumber: UInt64 {
        /// exit(status): ends the program; never returns.
        case exit = 0
        /// write(pointer, length): console text from the program's memory.
        case write = 1
        /// wait(word address, expected, timeout ns): sleeps while the 32-bit word equals
        /// `expected`, until a wake-up or the timeout (the kernel caps one call at 1 s).
        case wait = 2
        /// yield(): gives the kernel a chance to run; returns at once today.
        case yield = 3
        /// clock(): nanoseconds since boot.
        case clock = 4
        /// name(pointer, capacity): the program's name (its module's command line).
        case name = 5
    }

    /// The name this program runs as (at most 31 bytes), into `buffer`; returns the length.
    public static func name(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let length = system_call(CallNumber.name.rawValue, UInt64(UInt(bitPattern: base)), UInt64(buffer.count), 0, 0)
        return length == UInt64.max ? 0 : Int(length)
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
        while true { system_exit(status) }
    }

    /// Nanoseconds since the machine booted (the kernel's monotonic clock, same on every CPU).
    public static func clock() -> UInt64 { system_clock() }

    /// Tells the kernel the program has nothing to do for now.
    public static func yield() { system_yield() }

    /// Sleeps while the 32-bit word at `word` still equals `expected`, at most `timeout`
    /// nanoseconds — the slow path of a program that polls shared memory.
    public static func wait(on word: UnsafeRawPointer, whileEqualTo expected: UInt32, timeout: UInt64) -> WaitResult {
        switch system_wait(word, UInt64(expected), timeout) {
        case 0: .woken
        case 1: .timedOut
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
