/// Fixed-size text built by string interpolation without touching the heap, for console lines.
import ACPITables
import BootConfiguration
import InternetAddress
import RawBytes

/// One line of console text, at most `capacity` bytes; longer text is cut and marked with "...".
///
/// Kernel messages are written as interpolated literals — `"cpu \(index) at \(hex: rip)"` —
/// and this type is the interpolation: it formats integers itself into inline storage, so
/// logging works in interrupt handlers, on fault paths and before the heap exists.
struct TextBuffer: StringInterpolationProtocol {
    typealias StringLiteralType = StaticString
    static let capacity = 400
    private var storage = InlineArray<400, UInt8>(repeating: 0)
    private(set) var count = 0
    private(set) var truncated = false

    init() {}
    init(literalCapacity: Int, interpolationCount: Int) {}

    mutating func append(byte: UInt8) {
        guard count < Self.capacity else { truncated = true; return }
        storage[count] = byte
        count += 1
    }

    mutating func appendLiteral(_ literal: StaticString) {
        literal.withUTF8Buffer { for byte in $0 { append(byte: byte) } }
    }

    mutating func appendInterpolation(_ literal: StaticString) { appendLiteral(literal) }

    /// Decimal, with a minus sign for negative values.
    mutating func appendInterpolation<Value: BinaryInteger>(_ value: Value) {
        if Value.isSigned && value < 0 {
            append(byte: UInt8(ascii: "-"))
            appendDecimal(UInt64(truncatingIfNeeded: 0 &- Int64(truncatingIfNeeded: value)))
        } else {
            appendDecimal(UInt64(truncatingIfNeeded: value))
        }
    }

    /// Hexadecimal with a 0x prefix (unless `prefix` is false); `digits` pads with zeros.
    mutating func appendInterpolation<Value: BinaryInteger>(hex value: Value, digits: Int = 1, prefix: Bool = true) {
        let number = UInt64(truncatingIfNeeded: value)
        if prefix { appendLiteral("0x") }
        var significant = 16
        while significant > 1 && (number >> UInt64((significant - 1) * 4)) == 0 { significant -= 1 }
        var position = max(significant, min(digits, 16))
        while position > 0 {
            position -= 1
            let nibble = UInt8(truncatingIfNeeded: number >> UInt64(position * 4)) & 0xF
            append(byte: nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
        }
    }

    /// Byte counts in the largest binary unit that divides them evenly enough (KiB, MiB, GiB).
    mutating func appendInterpolation(bytes value: UInt64) {
        if value >= 1 << 30 && value % (1 << 30) == 0 { appendDecimal(value >> 30); appendLiteral(" GiB") }
        else if value >= 1 << 20 { appendDecimal(value >> 20); appendLiteral(" MiB") }
        else if value >= 1 << 10 { appendDecimal(value >> 10); appendLiteral(" KiB") }
        else { appendDecimal(value); appendLiteral(" B") }
    }

    mutating func appendInterpolation(_ value: Bool) { appendLiteral(value ? "yes" : "no") }

    /// Raw text bytes (a command line, an ACPI signature); unprintable bytes become '?'.
    mutating func appendInterpolation(text: ByteReader) {
        for offset in 0..<text.count {
            let byte = text.u8(at: offset) ?? 0
            append(byte: (0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?"))
        }
    }

    /// Nanoseconds as seconds with three decimals.
    mutating func appendInterpolation(seconds nanoseconds: UInt64) {
        appendDecimal(nanoseconds / 1_000_000_000)
        append(byte: UInt8(ascii: "."))
        let milliseconds = (nanoseconds / 1_000_000) % 1000
        if milliseconds < 100 { append(byte: UInt8(ascii: "0")) }
        if milliseconds < 10 { append(byte: UInt8(ascii: "0")) }
        appendDecimal(milliseconds)
    }

    /// A dotted-quad IPv4 address.
    mutating func appendInterpolation(ipv4 address: IPv4Address) {
        for part in 0..<4 {
            if part > 0 { append(byte: UInt8(ascii: ".")) }
            appendDecimal(UInt64((address.rawValue >> UInt32(24 - 8 * part)) & 0xFF))
        }
    }

    /// An ACPI table signature such as "APIC" ("????" when unknown).
    mutating func appendInterpolation(signature: TableSignature?) {
        guard let signature else { appendLiteral("????"); return }
        let bytes = signature.printableBytes
        append(byte: bytes.0); append(byte: bytes.1); append(byte: bytes.2); append(byte: bytes.3)
    }

    /// The offloads' `offload=` names joined by `+`, or "none".
    mutating func appendInterpolation(offloads: NetworkOffloads) {
        guard !offloads.isEmpty else { appendLiteral("none"); return }
        var first = true
        for entry in NetworkOffloads.named where offloads.contains(entry.offload) {
            if !first { append(byte: UInt8(ascii: "+")) }
            appendLiteral(entry.name)
            first = false
        }
    }

    mutating func appendInterpolation(_ other: TextBuffer) {
        other.forEachByte { append(byte: $0) }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        var digits = InlineArray<20, UInt8>(repeating: 0)
        var remaining = value
        var used = 0
        repeat {
            digits[used] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            used += 1
        } while remaining != 0
        while used > 0 { used -= 1; append(byte: digits[used]) }
    }

    /// Calls `body` with every byte, with "..." at the end if text was cut.
    func forEachByte(_ body: (UInt8) -> Void) {
        for index in 0..<count { body(storage[index]) }
        if truncated { for _ in 0..<3 { body(UInt8(ascii: ".")) } }
    }
}

/// A console message: a string literal, possibly with interpolations formatted by `TextBuffer`.
struct Message: ExpressibleByStringInterpolation {
    var text: TextBuffer
    init(stringLiteral literal: StaticString) {
        text = TextBuffer()
        text.appendLiteral(literal)
    }
    init(stringInterpolation: TextBuffer) { text = stringInterpolation }
}
