// A ring of bytes whose storage comes from a BufferPool on demand: the send and receive buffers of a connection.

import RawBytes

/// A first-in first-out ring of bytes that holds memory only while it holds bytes.
///
/// Bytes are appended at the tail, read (peeked) from any offset without copying as at most
/// two `ByteReader` pieces (the ring may wrap), and discarded from the head.
///
/// **Two sizes.** `capacity` is the most bytes the ring may hold: what TCP's windows are
/// computed from. It starts small and only grows (`raiseCapacity`), up to `maximumCapacity`,
/// as auto-tuning finds the connection needs more (so the right edge of an advertised window
/// never moves back). The *storage* is the block of the shared `BufferPool` the bytes sit in:
/// none while the ring is empty, then the smallest power of two that holds what is there,
/// doubled (one copy of the held bytes) when more must fit. An idle connection therefore
/// holds no buffer memory at all, and a connection with a 300-byte request holds 2 KiB.
///
/// **When the pool is exhausted** a growth is refused: `append` and `write` take only what
/// fits the storage they have, and `reserve` says false, so the caller can count and drop.
/// Nothing already held is lost.
public final class ByteRing {
    /// Where the storage comes from (and goes back to).
    public let pool: BufferPool
    /// The storage: empty (no base address) while the ring holds nothing.
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The index of the oldest byte in `storage`.
    private var head = 0
    /// How many bytes are held.
    public private(set) var count = 0
    /// The most bytes the ring may hold (windows are computed from it); only grows.
    public private(set) var capacity: Int
    /// How far `raiseCapacity` may go.
    public let maximumCapacity: Int
    /// The storage size given back last time the ring emptied: the next storage starts there,
    /// so a connection that drains and refills (bulk transfer, request after request) takes one
    /// block of the size it needs instead of growing from 2 KiB with a copy at every doubling.
    private var lastStorageSize = 0

    /// An empty ring that may hold `capacity` bytes, growing up to `maximumCapacity`, its
    /// storage taken from `pool` on demand.
    public init(pool: BufferPool, capacity: Int, maximumCapacity: Int) {
        self.pool = pool
        self.maximumCapacity = max(maximumCapacity, 1)
        self.capacity = min(max(capacity, 1), self.maximumCapacity)
    }

    /// A ring of fixed `capacity` with a pool of its own (for tests and single uses).
    public convenience init(capacity: Int) {
        let block = powerOfTwo(atLeast: capacity, floor: 64)
        self.init(pool: BufferPool(byteCount: block, smallestBlock: 64, largestBlock: block),
                  capacity: capacity, maximumCapacity: capacity)
    }

    deinit { if storage.baseAddress != nil { pool.free(storage) } }

    /// How many more bytes fit under `capacity`.
    public var freeSpace: Int { capacity - count }
    /// The bytes of pool memory held now (0 while empty and released).
    public var storageBytes: Int { storage.count }

    /// Raises `capacity` to `newCapacity` (at most `maximumCapacity`); never lowers it.
    public func raiseCapacity(to newCapacity: Int) {
        capacity = max(capacity, min(newCapacity, maximumCapacity))
    }

    /// Makes the storage hold at least `byteCount` bytes counted from the head (held bytes and
    /// bytes staged past the tail), growing it from the pool — one copy of the old storage,
    /// unwrapped. False, with nothing changed, when the pool refused.
    @discardableResult
    public func reserve(_ byteCount: Int) -> Bool {
        let needed = min(byteCount, capacity)
        if storage.count >= needed { return true }
        // Refilling after an empty spell: the size last used, if the pool has it.
        let wanted = storage.baseAddress == nil ? max(needed, min(lastStorageSize, capacity)) : needed
        guard let block = pool.allocate(byteCount: wanted) ?? (wanted > needed ? pool.allocate(byteCount: needed) : nil),
              let destination = block.baseAddress else { return false }
        if let old = storage.baseAddress {
            // Everything from the head on, staged bytes past the tail included, keeps its offset.
            let first = storage.count - head
            destination.copyMemory(from: old + head, byteCount: first)
            if head > 0 { (destination + first).copyMemory(from: old, byteCount: head) }
            pool.free(storage)
        }
        storage = block
        head = 0
        return true
    }

    /// Gives the storage back to the pool when the ring is empty. The caller must know that no
    /// bytes are staged past the tail (`write(_:atTailOffset:)`): they would be lost.
    public func releaseStorage() {
        guard count == 0, storage.baseAddress != nil else { return }
        lastStorageSize = storage.count
        pool.free(storage)
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = 0
    }

    /// Appends as many bytes of `bytes` as fit; returns how many.
    @discardableResult
    public func append(_ bytes: ByteReader) -> Int {
        var accepted = min(bytes.count, freeSpace)
        if !reserve(count + accepted) { accepted = min(accepted, storage.count - count) }
        guard accepted > 0, let source = bytes.baseAddress else { return 0 }
        copy(from: source, count: accepted, to: (head + count) % storage.count)
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
        var accepted = min(bytes.count, freeSpace - offset)
        if !reserve(count + offset + accepted) { accepted = min(accepted, storage.count - count - offset) }
        guard accepted > 0, let source = bytes.baseAddress else { return 0 }
        copy(from: source, count: accepted, to: (head + count + offset) % storage.count)
        return accepted
    }

    /// Copies `length` bytes to storage index `start`, wrapping at the end of the storage.
    private func copy(from source: UnsafeRawPointer, count length: Int, to start: Int) {
        let first = min(length, storage.count - start)
        (storage.baseAddress! + start).copyMemory(from: source, byteCount: first)
        if length > first {
            storage.baseAddress!.copyMemory(from: source + first, byteCount: length - first)
        }
    }

    /// Makes `length` bytes already written past the tail (by `write(_:atTailOffset:)`) readable.
    public func commit(_ length: Int) {
        count += min(max(length, 0), min(freeSpace, storage.count - count))
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
        guard dropped > 0 else { return }
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
