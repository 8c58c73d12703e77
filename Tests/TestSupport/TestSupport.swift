/// Helpers shared by the host test targets: little-endian byte building, memory fenced by
/// inaccessible guard pages, and a seeded random generator.

import Glibc
import RawBytes

public extension Array where Element == UInt8 {
    /// Appends `value` in little-endian byte order.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var little = value.littleEndian
        Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
    }

    /// Overwrites `T.bitWidth / 8` bytes at `offset` with `value` in little-endian order.
    mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        var little = value.littleEndian
        Swift.withUnsafeBytes(of: &little) { bytes in
            for (index, byte) in bytes.enumerated() { self[offset + index] = byte }
        }
    }

    /// Appends zero bytes until the count is a multiple of `alignment`.
    mutating func pad(toMultipleOf alignment: Int) {
        while count % alignment != 0 { append(0) }
    }
}

/// Bytes placed so that they end exactly at an inaccessible guard page (and start after another
/// one): any read past them crashes the test process instead of passing silently.
public final class GuardedBuffer {
    public let mapping: UnsafeMutableRawPointer
    public let mappingSize: Int
    public let start: UnsafeMutableRawPointer
    public let count: Int

    /// `bytes` ending at the guard page; with `alignment` above 1 the start is rounded down to
    /// it (for parsers that require aligned input, like multiboot2's 8), which leaves up to
    /// `alignment - 1` bytes after the end unguarded — ask for it only where the format says so.
    public init(_ bytes: [UInt8], alignment: Int = 1) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = (bytes.count + page - 1) / page + 1
        mappingSize = (dataPages + 2) * page
        let raw = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != MAP_FAILED, "mmap failed")
        mapping = raw!
        let dataStart = mapping + page
        let dataEnd = dataStart + dataPages * page
        precondition(mprotect(mapping, page, PROT_NONE) == 0)
        precondition(mprotect(dataEnd, page, PROT_NONE) == 0)
        // The last byte touches the guard page, whatever the length: one byte read past the
        // end crashes. The start is therefore as unaligned as the length makes it, as frames
        // are in the kernel (a 12-byte virtio header before each), so an aligned-load
        // assumption fails here too.
        start = UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: dataEnd - bytes.count) & ~UInt(alignment - 1))!
        count = bytes.count
        bytes.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    deinit { munmap(mapping, mappingSize) }

    /// A reader over exactly the stored bytes.
    public var reader: ByteReader { ByteReader(start: UnsafeRawPointer(start), count: count) }

    /// Whether `reader` lies entirely inside the stored bytes.
    public func encloses(_ reader: ByteReader) -> Bool {
        guard reader.count > 0 else { return true }
        guard let base = reader.baseAddress else { return false }
        let low = UInt(bitPattern: UnsafeRawPointer(start)), high = low + UInt(count)
        let readerLow = UInt(bitPattern: base)
        return readerLow >= low && readerLow + UInt(reader.count) <= high
    }
}

/// A small deterministic pseudo-random generator (SplitMix64) so that failures reproduce.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public init(seed: UInt64) { self.state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The bytes of a reader as an array.
public func bytesOf(_ reader: ByteReader) -> [UInt8] { Array(reader) }

/// The bytes of an ASCII string.
public func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }
