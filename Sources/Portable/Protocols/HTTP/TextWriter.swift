// Appends ASCII text and decimal numbers to a caller's fixed buffer, detecting overflow.

import RawBytes

/// Appends bytes to a fixed caller-owned buffer and never writes past its end: once something
/// does not fit, nothing more is written and `overflowed` stays true, so the caller learns
/// that the text is incomplete instead of sending a truncated message. Never allocates.
public struct TextWriter {
    /// The buffer being filled.
    public let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far (all of them complete appends).
    public private(set) var count: Int = 0
    /// Whether an append did not fit; the text ends before it.
    public private(set) var overflowed = false

    /// A writer that fills `buffer` from its start.
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    /// Bytes still free.
    public var remaining: Int { buffer.count - count }

    /// Reserves `length` bytes, or marks the overflow and returns nil when they do not fit
    /// (or an earlier append already overflowed: text never has holes).
    @inline(__always)
    private mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        guard !overflowed else { return nil }
        guard length <= remaining, let base = buffer.baseAddress else {
            overflowed = true
            return nil
        }
        let start = base + count
        count += length
        return start
    }

    /// Appends one byte.
    public mutating func append(byte: UInt8) {
        guard let target = reserve(1) else { return }
        target.storeBytes(of: byte, as: UInt8.self)
    }

    /// Appends the bytes of `bytes`.
    public mutating func append(bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, let source = bytes.baseAddress else { return }
        guard let target = reserve(bytes.count) else { return }
        target.copyMemory(from: source, byteCount: bytes.count)
    }

    /// Appends the bytes `reader` views.
    public mutating func append(_ reader: ByteReader) {
        guard let base = reader.baseAddress else { return }
        append(bytes: UnsafeRawBufferPointer(start: base, count: reader.count))
    }

    /// Appends the UTF-8 bytes of `text`.
    public mutating func append(_ text: StaticString) {
        append(bytes: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends `value` in decimal.
    public mutating func append(decimal value: UInt64) {
        // 20 digits hold UInt64.max; built from the end of a local buffer.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var remainingValue = value
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") + UInt8(remainingValue % 10)
                remainingValue /= 10
            } while remainingValue != 0
            append(bytes: UnsafeRawBufferPointer(rebasing: scratch[start...]))
        }
    }

    /// Appends `value` in decimal, with a minus sign when negative.
    public mutating func append(decimal value: Int64) {
        if value < 0 { append(byte: UInt8(ascii: "-")) }
        append(decimal: value.magnitude)
    }
}
