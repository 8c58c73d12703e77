// The console shell's line editing: bytes from a serial terminal in, the echo to send back and whole lines out.

/// What one input byte did.
public enum LineEditorEvent: Equatable, Sendable {
    /// Nothing to show (an ignored byte, or part of an escape sequence).
    case none
    /// Send these bytes back to the terminal (the echo, an erase, a bell).
    case echo([UInt8])
    /// A line is complete (Enter): show `LineEditor.lineEnd`.
    case line([UInt8])
    /// The line was abandoned (Ctrl-C): show `LineEditor.cancelEcho`.
    case cancelled
}

/// Minimal line editing that works in a real terminal (`make run`'s serial console) and with a
/// script writing bytes: printable ASCII is echoed and kept; Backspace or Delete erases the
/// last character ("\b \b"); Ctrl-U erases the line; Ctrl-C abandons it; CR, LF or CR LF end
/// it. Escape sequences (arrow keys: ESC [ X, or ESC O X) are swallowed rather than typed as
/// garbage. A full line rings the bell instead of growing. Nothing allocates per byte except
/// the completed line handed out.
public struct LineEditor {
    /// What ends a line on the terminal.
    public static let lineEnd: [UInt8] = [0x0D, 0x0A]
    /// What Ctrl-C shows.
    public static let cancelEcho: [UInt8] = [UInt8(ascii: "^"), UInt8(ascii: "C"), 0x0D, 0x0A]
    /// The longest line kept.
    public let capacity: Int
    private var bytes: [UInt8] = []
    /// Inside an escape sequence: 1 after ESC, 2 after ESC [ or ESC O (until its final byte).
    private var escape = 0
    /// The last byte was CR (so an LF right after it ends nothing more).
    private var afterCarriageReturn = false

    /// An empty line of at most `capacity` bytes.
    public init(capacity: Int = 120) {
        self.capacity = capacity
        bytes.reserveCapacity(capacity)
    }

    /// The line typed so far.
    public var current: [UInt8] { bytes }

    /// Takes one byte from the terminal.
    public mutating func take(_ byte: UInt8) -> LineEditorEvent {
        let wasCarriageReturn = afterCarriageReturn
        afterCarriageReturn = false
        if escape == 1 {
            escape = byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") ? 2 : 0
            return .none
        }
        if escape == 2 {
            // Parameters (digits, ';') continue the sequence; its final byte is 0x40...0x7E.
            if byte >= 0x40 && byte <= 0x7E { escape = 0 }
            return .none
        }
        switch byte {
        case 0x0D, 0x0A:
            if byte == 0x0A && wasCarriageReturn { return .none }
            afterCarriageReturn = byte == 0x0D
            let line = bytes
            bytes.removeAll(keepingCapacity: true)
            return .line(line)
        case 0x08, 0x7F:
            guard !bytes.isEmpty else { return .none }
            bytes.removeLast()
            return .echo([0x08, 0x20, 0x08])
        case 0x15:   // Ctrl-U
            let erase = [UInt8](repeating: 0, count: bytes.count).flatMap { _ in [UInt8]([0x08, 0x20, 0x08]) }
            bytes.removeAll(keepingCapacity: true)
            return erase.isEmpty ? .none : .echo(erase)
        case 0x03:   // Ctrl-C
            bytes.removeAll(keepingCapacity: true)
            return .cancelled
        case 0x1B:
            escape = 1
            return .none
        case 0x09:   // Tab: a space
            return take(0x20)
        case 0x20...0x7E:
            guard bytes.count < capacity else { return .echo([0x07]) }
            bytes.append(byte)
            return .echo([byte])
        default:
            return .none
        }
    }
}
