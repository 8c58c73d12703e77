// A short fixed-length ASCII identifier copied out of a firmware table (OEM ID, OEM table ID).

import RawBytes

/// A fixed-length (at most 8 bytes) space-padded ASCII field such as the 6-byte OEMID or the
/// 8-byte OEM Table ID — ACPI 6.5 §5.2.5.3, §5.2.6. It is copied by value, so it stays valid
/// after the table memory is reclaimed.
public struct ASCIIIdentifier: Equatable, Sendable {
    /// The bytes read as a little-endian value; bytes past `length` are zero.
    public let rawValue: UInt64
    /// Number of bytes in the field (0...8).
    public let length: Int

    /// Copies `length` bytes at `offset` of `bytes`; `nil` when out of range or longer than 8 bytes.
    public init?(_ bytes: ByteReader, at offset: Int, length: Int) {
        guard length >= 0, length <= 8, bytes.contains(offset: offset, width: length) else { return nil }
        var value: UInt64 = 0
        var index = 0
        while index < length, let byte = bytes.u8(at: offset + index) {
            value |= UInt64(byte) << UInt64(8 * index)
            index += 1
        }
        self.rawValue = value
        self.length = length
    }

    /// The byte at `index` (zero when `index` is outside the field).
    public func byte(at index: Int) -> UInt8 {
        guard index >= 0, index < length else { return 0 }
        return UInt8(truncatingIfNeeded: rawValue >> UInt64(8 * index))
    }

    /// Whether the field holds `text` followed only by spaces or zero bytes.
    public func matches(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard count <= length else { return false }
        var index = 0
        while index < length {
            let byte = byte(at: index)
            if index < count {
                guard byte == text.utf8Start[index] else { return false }
            } else {
                guard byte == 0x20 || byte == 0 else { return false }
            }
            index += 1
        }
        return true
    }
}

extension ASCIIIdentifier: CustomStringConvertible {
    /// The identifier as text, trailing spaces and zero bytes removed and non-printable bytes
    /// shown as "?". Allocates a String.
    public var description: String {
        var trimmedLength = length
        while trimmedLength > 0, byte(at: trimmedLength - 1) == 0x20 || byte(at: trimmedLength - 1) == 0 {
            trimmedLength -= 1
        }
        var value: UInt64 = 0
        var index = 0
        while index < trimmedLength {
            value |= UInt64(printable(byte(at: index))) << UInt64(8 * index)
            index += 1
        }
        var stored = value.littleEndian
        return withUnsafeBytes(of: &stored) { buffer in
            String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<trimmedLength]), as: UTF8.self)
        }
    }
}
