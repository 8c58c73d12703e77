// Network byte order for TCP: bounds-checked big-endian reads over ByteReader and checked big-endian stores into a segment buffer.

import RawBytes

extension ByteReader {
    /// The big-endian (network order) 16-bit value at `offset`, or `nil` when outside the view.
    @inline(__always)
    func tcpBigEndianUInt16(at offset: Int) -> UInt16? {
        guard let value = u16(at: offset) else { return nil }
        return UInt16(bigEndian: value.littleEndian)
    }

    /// The big-endian (network order) 32-bit value at `offset`, or `nil` when outside the view.
    @inline(__always)
    func tcpBigEndianUInt32(at offset: Int) -> UInt32? {
        guard let value = u32(at: offset) else { return nil }
        return UInt32(bigEndian: value.littleEndian)
    }
}

/// Stores network-order fields into an outgoing segment buffer. Every store is bounds-checked
/// by the caller having checked the whole length first (`SegmentWriter.init` takes the buffer
/// only after the builder verified the segment fits); the precondition here catches a builder
/// that miscounted instead of letting it write past the buffer.
struct SegmentWriter {
    /// The buffer being filled.
    let buffer: UnsafeMutableRawBufferPointer

    @inline(__always)
    private func check(_ offset: Int, _ width: Int) {
        precondition(offset >= 0 && width >= 0 && width <= buffer.count - offset && buffer.baseAddress != nil,
                     "SegmentWriter: store outside the buffer")
    }

    /// Stores one byte at `offset`.
    func storeByte(_ value: UInt8, at offset: Int) {
        check(offset, 1)
        buffer.baseAddress!.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    /// Stores `value` big-endian at `offset`.
    func storeBigEndian(_ value: UInt16, at offset: Int) {
        check(offset, 2)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Stores `value` big-endian at `offset`.
    func storeBigEndian(_ value: UInt32, at offset: Int) {
        check(offset, 4)
        buffer.baseAddress!.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Copies every byte of `bytes` to `offset`.
    func copy(_ bytes: ByteReader, to offset: Int) {
        check(offset, bytes.count)
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
    }
}
