// A bounds-checked, read-only, little-endian view over raw memory that never reads outside its range.

/// A bounds-checked little-endian view over `count` bytes of raw memory.
///
/// Every read takes an offset relative to the start of the view and returns `nil` when any byte
/// of the value would lie outside the view, so malformed firmware data can never cause a read
/// outside the memory the view was built over. A `ByteReader` does not own its memory: the
/// memory must stay mapped and unchanged while the reader (or any slice of it) is in use.
/// It never allocates, so it is usable before the kernel heap exists.
public struct ByteReader {
    /// The first byte of the view, or `nil` for an empty view built from an empty buffer.
    public let baseAddress: UnsafeRawPointer?

    /// The number of readable bytes; never negative.
    public let count: Int

    /// Creates a view over the bytes of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.baseAddress = bytes.baseAddress
        self.count = bytes.baseAddress == nil ? 0 : bytes.count
    }

    /// Creates a view over `count` bytes starting at `start`; a negative `count` gives an empty view.
    public init(start: UnsafeRawPointer, count: Int) {
        self.baseAddress = start
        self.count = count > 0 ? count : 0
    }

    /// Creates an empty view.
    public init() {
        self.baseAddress = nil
        self.count = 0
    }

    /// Whether the view has no bytes.
    public var isEmpty: Bool { count == 0 }

    /// Whether `width` bytes starting at `offset` lie inside the view (overflow-safe).
    @inline(__always)
    public func contains(offset: Int, width: Int) -> Bool {
        offset >= 0 && width >= 0 && offset <= count && width <= count - offset
    }

    /// The byte at `offset`, or `nil` when `offset` is outside the view.
    public func u8(at offset: Int) -> UInt8? {
        guard contains(offset: offset, width: 1), let base = baseAddress else { return nil }
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// The little-endian 16-bit value at `offset`, or `nil` when any byte is outside the view.
    public func u16(at offset: Int) -> UInt16? {
        guard contains(offset: offset, width: 2), let base = baseAddress else { return nil }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The little-endian 32-bit value at `offset`, or `nil` when any byte is outside the view.
    public func u32(at offset: Int) -> UInt32? {
        guard contains(offset: offset, width: 4), let base = baseAddress else { return nil }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The little-endian 64-bit value at `offset`, or `nil` when any byte is outside the view.
    public func u64(at offset: Int) -> UInt64? {
        guard contains(offset: offset, width: 8), let base = baseAddress else { return nil }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A view over `count` bytes starting at `offset`, or `nil` when that range is not entirely
    /// inside this view (negative or overflowing arguments give `nil`).
    public func slice(at offset: Int, count: Int) -> ByteReader? {
        guard contains(offset: offset, width: count) else { return nil }
        guard let base = baseAddress else { return ByteReader() }
        return ByteReader(start: base + offset, count: count)
    }

    /// The bytes from `offset` to the end of the view, or `nil` when `offset` is outside it.
    public func suffix(from offset: Int) -> ByteReader? {
        guard offset >= 0, offset <= count else { return nil }
        return slice(at: offset, count: count - offset)
    }

    /// The wrapping sum of all bytes; ACPI checksums are valid when this is zero.
    public func byteSum() -> UInt8 {
        guard let base = baseAddress else { return 0 }
        var sum: UInt8 = 0
        var offset = 0
        while offset < count {
            sum &+= base.load(fromByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        return sum
    }

    /// The bytes before the first zero byte (all bytes when there is none): a NUL-terminated string
    /// without its terminator.
    public func prefixBeforeFirstZeroByte() -> ByteReader {
        var length = 0
        while let byte = u8(at: length), byte != 0 {
            length += 1
        }
        return slice(at: 0, count: length) ?? ByteReader()
    }

    /// Whether the bytes at `offset` equal the UTF-8 bytes of `text` (`false` when out of range).
    public func matches(_ text: StaticString, at offset: Int = 0) -> Bool {
        let length = text.utf8CodeUnitCount
        guard contains(offset: offset, width: length) else { return false }
        let expected = text.utf8Start
        var index = 0
        while index < length {
            guard u8(at: offset + index) == expected[index] else { return false }
            index += 1
        }
        return true
    }

    /// Whether this view holds exactly the UTF-8 bytes of `text`.
    public func equals(_ text: StaticString) -> Bool {
        count == text.utf8CodeUnitCount && matches(text)
    }
}
