// Network byte order: bounds-checked big-endian reads over ByteReader and checked big-endian
// writes into outgoing buffers, shared by the network stack and TCP.

extension ByteReader {
    /// The big-endian (network order) 16-bit value at `offset`, or `nil` when outside the view.
    @inline(__always)
    public func bigEndianUInt16(at offset: Int) -> UInt16? {
        guard let value = u16(at: offset) else { return nil }
        return value.byteSwapped
    }

    /// The big-endian (network order) 32-bit value at `offset`, or `nil` when outside the view.
    @inline(__always)
    public func bigEndianUInt32(at offset: Int) -> UInt32? {
        guard let value = u32(at: offset) else { return nil }
        return value.byteSwapped
    }
}

/// Writes network-order fields into a frame or segment buffer. Every store is bounds-checked: a
/// builder that miscounted traps instead of writing past the driver's buffer.
public struct NetworkOrderWriter {
    /// The buffer being filled.
    public let buffer: UnsafeMutableRawBufferPointer

    public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    @inline(__always)
    private func check(_ offset: Int, _ width: Int) {
        precondition(offset >= 0 && width >= 0 && width <= buffer.count - offset && buffer.baseAddress != nil,
                     "NetworkOrderWriter: store outside the buffer")
    }

    public func storeByte(_ value: UInt8, at offset: Int) {
        check(offset, 1)
        buffer.baseAddress!.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    public func storeBigEndian(_ value: UInt16, at offset: Int) {
        check(offset, 2)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    public func storeBigEndian(_ value: UInt32, at offset: Int) {
        check(offset, 4)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Copies all of `bytes` to `offset`.
    public func copy(_ bytes: ByteReader, to offset: Int) {
        check(offset, bytes.count)
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
    }

    /// Zeroes the bytes in `start..<end`.
    public func zero(from start: Int, to end: Int) {
        guard end > start else { return }
        check(start, end - start)
        (buffer.baseAddress! + start).initializeMemory(as: UInt8.self, repeating: 0, count: end - start)
    }

    /// A read-only view of `count` written bytes at `offset` (to checksum them).
    public func reader(at offset: Int, count: Int) -> ByteReader {
        check(offset, count)
        return ByteReader(start: UnsafeRawPointer(buffer.baseAddress! + offset), count: count)
    }
}
