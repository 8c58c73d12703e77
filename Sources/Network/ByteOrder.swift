// Network byte order: bounds-checked big-endian reads over ByteReader and big-endian writes into frame buffers.

import RawBytes

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

/// Writes network-order fields into a transmit buffer. Every store is bounds-checked: a frame
/// builder that miscounted traps instead of writing past the driver's buffer.
struct FrameWriter {
    /// The buffer being filled.
    let buffer: UnsafeMutableRawBufferPointer

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    @inline(__always)
    private func check(_ offset: Int, _ width: Int) {
        precondition(offset >= 0 && width >= 0 && width <= buffer.count - offset && buffer.baseAddress != nil,
                     "FrameWriter: store outside the buffer")
    }

    func storeByte(_ value: UInt8, at offset: Int) {
        check(offset, 1)
        buffer.baseAddress!.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    func storeBigEndian(_ value: UInt16, at offset: Int) {
        check(offset, 2)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    func storeBigEndian(_ value: UInt32, at offset: Int) {
        check(offset, 4)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    func store(_ address: MACAddress, at offset: Int) {
        check(offset, 6)
        let base = buffer.baseAddress! + offset
        base.storeBytes(of: address.bytes.0, toByteOffset: 0, as: UInt8.self)
        base.storeBytes(of: address.bytes.1, toByteOffset: 1, as: UInt8.self)
        base.storeBytes(of: address.bytes.2, toByteOffset: 2, as: UInt8.self)
        base.storeBytes(of: address.bytes.3, toByteOffset: 3, as: UInt8.self)
        base.storeBytes(of: address.bytes.4, toByteOffset: 4, as: UInt8.self)
        base.storeBytes(of: address.bytes.5, toByteOffset: 5, as: UInt8.self)
    }

    func store(_ address: IPv4Address, at offset: Int) {
        storeBigEndian(address.rawValue, at: offset)
    }

    /// Copies all of `bytes` to `offset`.
    func copy(_ bytes: ByteReader, to offset: Int) {
        check(offset, bytes.count)
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
    }

    /// Zeroes the bytes in `start..<end`.
    func zero(from start: Int, to end: Int) {
        guard end > start else { return }
        check(start, end - start)
        (buffer.baseAddress! + start).initializeMemory(as: UInt8.self, repeating: 0, count: end - start)
    }

    /// A read-only view of `count` written bytes at `offset` (to checksum them).
    func reader(at offset: Int, count: Int) -> ByteReader {
        check(offset, count)
        return ByteReader(start: UnsafeRawPointer(buffer.baseAddress! + offset), count: count)
    }
}
