/// The kernel console (COM1) and leveled logging, safe to use from any CPU and from faults.

/// How much the console says, set by the `log=` boot option.
enum LogLevel: UInt8, Comparable {
    case debug = 0, info, warning, error
    static func < (left: LogLevel, right: LogLevel) -> Bool { left.rawValue < right.rawValue }
}

/// Serialised access to the serial console: whole lines from different CPUs never interleave.
enum Console {
    private static let lock = SpinLock()
    nonisolated(unsafe) static var minimumLevel = LogLevel.info

    /// Writes one line as it is (no prefix).
    static func write(line message: Message) {
        let interruptsWereEnabled = lock.lock()
        emit(message.text)
        lock.unlock(restoringInterrupts: interruptsWereEnabled)
    }

    /// Writes a line even if the console lock cannot be had (it may be held by this very CPU
    /// when it faulted). Used only for fault reports, where losing the report is worse.
    static func writeUrgent(line message: Message) {
        let (acquired, interruptsWereEnabled) = lock.lock(attempts: 2_000_000)
        emit(message.text)
        if acquired { lock.unlock(restoringInterrupts: interruptsWereEnabled) }
    }

    /// Writes bytes as they are, no line end (the shell's echo and prompt).
    static func write(raw bytes: [UInt8]) {
        let interruptsWereEnabled = lock.lock()
        for byte in bytes { SerialPort.com1.write(byte) }
        lock.unlock(restoringInterrupts: interruptsWereEnabled)
    }

    private static func emit(_ text: TextBuffer) {
        text.forEachByte { SerialPort.com1.write($0) }
        SerialPort.com1.write(UInt8(ascii: "\r"))
        SerialPort.com1.write(UInt8(ascii: "\n"))
    }
}

/// Leveled log lines, prefixed with the time since boot and the CPU: `[1.234] cpu0: ...`.
/// Before the clock is calibrated the time reads `[-.---]`.
enum Log {
    static func debug(_ message: Message) { emit(.debug, message) }
    static func info(_ message: Message) { emit(.info, message) }
    static func warning(_ message: Message) { emit(.warning, message) }
    static func error(_ message: Message) { emit(.error, message) }

    private static func emit(_ level: LogLevel, _ message: Message) {
        guard level >= Console.minimumLevel else { return }
        let label: StaticString = switch level {
            case .debug: "debug: "
            case .info: ""
            case .warning: "warning: "
            case .error: "error: "
        }
        if MonotonicClock.timestampFrequency == 0 {
            Console.write(line: "[-.---] cpu\(CPU.currentIndex): \(label)\(message.text)")
        } else {
            Console.write(line: "[\(seconds: MonotonicClock.nanosecondsSinceBoot)] cpu\(CPU.currentIndex): \(label)\(message.text)")
        }
    }
}
