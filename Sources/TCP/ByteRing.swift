// A fixed-capacity ring of bytes allocated once: the send and receive buffers of a connection.

import RawBytes

/// A first-in first-out ring of bytes whose storage is allocated once, at creation.
///
/// Bytes are appended at the tail, read (peeked) from any offset without copying as at most
/// two `ByteReader` pieces (the ring may wrap), and discarded from the head. Nothing on the
/// packet path allocates: a connection's buffers are the only allocation it makes.
public final class ByteRing {
    /// The storage.
    private let storage: UnsafeMutableRawBufferPointer
    /// The index of the oldest byte.
    private var head = 0
    /// How many bytes are held.
    public private(set) var count = 0

    /// Allocates a ring holding up to `capacity` bytes (at least 1).
    public init(capacity: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
    }

    deinit { storage.deallocate() }

    /// The most bytes the ring holds.
    public var capacity: Int { storage.count }
    /// How many more bytes fit.
    public var freeSpace: Int { storage.count - count }

    /// Appends as many bytes of `bytes` as fit; returns how many.
    @discardableResult
    public func append(_ bytes: ByteReader) -> Int {
        let accepted = min(bytes.count, freeSpace)
        guard accepted > 0, let source = bytes.baseAddress else { return 0 }
        let tail = (head + count) % storage.count
        let first = min(accepted, storage.count - tail)
        (storage.baseAddress! + tail).copyMemory(from: source, byteCount: first)
        if accepted > first {
            storage.baseAddress!.copyMemory(from: source + first, byteCount: accepted - first)
        }
        count += accepted
        return accepted
    }

    /// Copies as much of `bytes` as fits into the free space, `offset` bytes past the tail,
    /// without making it readable; returns how many bytes were written. Out-of-order data is
    /// kept this way at its place in the stream (RFC 9293 §3.10.7.4 "seventh": segments beyond
    /// RCV.NXT may be held), so filling the hole later needs no copy and no allocation.
    @discardableResult
    public func write(_ bytes: ByteReader, atTailOffset offset: Int) -> Int {
        guard offset >= 0, offset < freeSpace else { return 0 }
        let accepted = min(bytes.count, freeSpace - offset)
        guard accepted > 0, let source = bytes.baseAddress else { return 0 }
        let start = (head + count + offset) % storage.count
        let first = min(accepted, storage.count - start)
        (storage.baseAddress! + start).copyMemory(from: source, byteCount: first)
        if accepted > first {
            storage.baseAddress!.copyMemory(from: source + first, byteCount: accepted - first)
        }
        return accepted
    }

    /// Makes `length` bytes already written past the tail (by `write(_:atTailOffset:)`) readable.
    public func commit(_ length: Int) {
        count += min(max(length, 0), freeSpace)
    }

    /// Up to `length` bytes starting `offset` bytes after the head, as two pieces (the second
    /// empty unless the range wraps). Valid until the ring is next changed.
    public func peek(offset: Int, length: Int) -> (ByteReader, ByteReader) {
        guard offset >= 0, offset < count, length > 0 else { return (ByteReader(), ByteReader()) }
        let available = min(length, count - offset)
        let start = (head + offset) % storage.count
        let first = min(available, storage.count - start)
        let firstPiece = ByteReader(start: UnsafeRawPointer(storage.baseAddress! + start), count: first)
        let secondPiece = available > first
            ? ByteReader(start: UnsafeRawPointer(storage.baseAddress!), count: available - first) : ByteReader()
        return (firstPiece, secondPiece)
    }

    /// Drops up to `length` bytes from the head.
    public func discard(_ length: Int) {
        let dropped = min(max(length, 0), count)
        head = (head + dropped) % storage.count
        count -= dropped
    }

    /// Copies up to `buffer.count` bytes from the head into `buffer` and drops them; returns how many.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let (first, second) = peek(offset: 0, length: buffer.count)
        guard let destination = buffer.baseAddress else { return 0 }
        if let source = first.baseAddress { destination.copyMemory(from: source, byteCount: first.count) }
        if let source = second.baseAddress { (destination + first.count).copyMemory(from: source, byteCount: second.count) }
        let total = first.count + second.count
        discard(total)
        return total
    }
}
