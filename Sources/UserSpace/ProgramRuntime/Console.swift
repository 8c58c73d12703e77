// Console text of a program, collected into lines; `putchar` (Swift's `print`) lands here too.
import SystemCallABI

/// The console line being assembled. One `write` system call per line keeps each line whole
/// in the kernel's log (which prefixes the program's name and never interleaves lines).
enum Console {
    /// Bytes per line; a longer line is sent in pieces. The kernel accepts up to 4096.
    static let capacity = 200
    /// The line buffer, taken from the heap at start-up (a global of this size could need a
    /// lazy initializer; a nil pointer never does).
    nonisolated(unsafe) static var line: UnsafeMutablePointer<UInt8>? = nil
    nonisolated(unsafe) static var count = 0

    static func initialize() {
        line = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        count = 0
    }

    /// Appends one byte; a newline ends the line and sends it. Not inlined: every `write` of
    /// every program would otherwise carry its own copy.
    @inline(never)
    static func append(byte: UInt8) {
        guard let line else {
            // Before initialization (never in practice): send the byte on its own.
            var single = byte
            _ = withUnsafePointer(to: &single) { systemCall(.write, UInt64(UInt(bitPattern: $0)), 1) }
            return
        }
        line[count] = byte
        count += 1
        if byte == UInt8(ascii: "\n") || count == capacity { flush() }
    }

    static func append(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { append(byte: byte) }
    }

    /// Sends the pending bytes, if any, in one `write`.
    static func flush() {
        guard let line, count > 0 else { return }
        _ = systemCall(.write, UInt64(UInt(bitPattern: line)), UInt64(count))
        count = 0
    }
}

/// `print` writes here, one character at a time.
@_cdecl("putchar")
func putchar(_ character: Int32) -> Int32 {
    Console.append(byte: UInt8(truncatingIfNeeded: character))
    return character
}
