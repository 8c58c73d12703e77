// A connection's send buffer: bytes copied into pool memory, and bytes lent by the owner until the peer acknowledges them.

import RawBytes

/// The data a connection has queued and the peer has not acknowledged, in stream order, as
/// bytes of two kinds:
/// - **owned**: copied at `append` into a `ByteRing` of pool memory;
/// - **lent**: a region of the owner's memory (a program's channel buffer) that TCP reads,
///   without copying it first, every time it sends or resends those bytes (`copy`).
///
/// **Ownership rules** (the network core's channel code depends on them):
/// 1. Lent bytes stay the owner's. TCP reads them, and only until one of three things hands
///    them back: the peer acknowledges them (`discard`) or `recall` copies them into owned
///    storage — both count them in `returnedCount` — or `clear` forgets them when the
///    connection ends (not counted: the connection's end says it).
/// 2. The owner learns how many lent bytes were handed back with `takeReturned()`, in stream
///    order, and may reuse that memory then and not before. Copied bytes never count there:
///    the owner's memory was read once, at `append`, and is free as soon as it returns.
/// 3. An owner that writes lent memory anyway changes only its own stream: every frame is
///    checksummed over its own copy in the NIC's buffer, so the wire stays well-formed.
///
/// **Layout.** While nothing is lent the store is just its ring, and no extent list exists.
/// Once bytes are lent, a list of extents in stream order says which runs are lent (a base
/// address) and which are owned (the next bytes of the ring, in order). The list is a ring of
/// 16-byte entries in a pool block, taken on demand and given back when the store empties;
/// adjacent runs of one kind merge, so a program lending whole 2 KiB buffers needs one entry
/// per buffer.
public final class SendStore {
    /// A run of bytes: lent (at `base`) or owned (`base` nil: the next `length` bytes of the ring).
    struct Extent {
        var base: UnsafeRawPointer?
        var length: Int
    }

    /// The owned bytes, in order.
    private var ring: ByteRing
    /// The extent list's storage (a pool block), empty while nothing is lent.
    private var extentStorage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var extentHead = 0
    private var extentCount = 0
    /// Queued bytes, owned and lent.
    public private(set) var count = 0
    /// Queued bytes that are lent.
    public private(set) var lentCount = 0
    /// Bytes handed back and not yet taken by `takeReturned()`.
    public private(set) var returnedCount = 0

    /// An empty store that may hold `capacity` bytes, growing up to `maximumCapacity`, its
    /// storage taken from `pool` on demand.
    public init(pool: BufferPool, capacity: Int, maximumCapacity: Int) {
        ring = ByteRing(pool: pool, capacity: capacity, maximumCapacity: maximumCapacity)
    }

    deinit { freeExtents() }

    /// Where storage comes from.
    public var pool: BufferPool { ring.pool }
    /// The most bytes the store may hold, lent and owned together (windows follow it); only grows.
    public var capacity: Int { ring.capacity }
    /// How far `raiseCapacity` may go.
    public var maximumCapacity: Int { ring.maximumCapacity }
    /// How many more bytes fit under `capacity`.
    public var freeSpace: Int { capacity - count }
    /// The pool memory held now: the ring's storage and the extent list's.
    public var storageBytes: Int { ring.storageBytes + extentStorage.count }

    /// Raises `capacity` (never lowers it).
    public func raiseCapacity(to newCapacity: Int) { ring.raiseCapacity(to: newCapacity) }

    private var extents: UnsafeMutablePointer<Extent> { extentStorage.baseAddress!.assumingMemoryBound(to: Extent.self) }
    private var extentCapacity: Int { extentStorage.count / MemoryLayout<Extent>.stride }

    @inline(__always)
    private func extentIndex(_ position: Int) -> Int { (extentHead + position) % extentCapacity }

    /// Makes room for `more` entries in the extent list; false (nothing changed) when the pool refused.
    private func reserveExtents(_ more: Int) -> Bool {
        let needed = extentCount + more
        if extentCapacity >= needed { return true }
        let bytes = powerOfTwo(atLeast: needed * MemoryLayout<Extent>.stride, floor: ring.pool.smallestBlock)
        guard let block = ring.pool.allocate(byteCount: bytes) else { return false }
        let destination = block.baseAddress!.bindMemory(to: Extent.self, capacity: block.count / MemoryLayout<Extent>.stride)
        for position in 0..<extentCount { destination[position] = extents[extentIndex(position)] }
        if extentStorage.baseAddress != nil { ring.pool.free(extentStorage) }
        extentStorage = block
        extentHead = 0
        return true
    }

    /// Appends a run, merging it into the last entry when it continues it. Room was reserved.
    private func pushExtent(_ extent: Extent) {
        if extentCount > 0 {
            let last = extentIndex(extentCount - 1)
            let previous = extents[last]
            let continues = extent.base == nil
                ? previous.base == nil
                : previous.base.map { $0 + previous.length == extent.base! } ?? false
            if continues {
                extents[last].length += extent.length
                return
            }
        }
        extents[extentIndex(extentCount)] = extent
        extentCount += 1
    }

    private func freeExtents() {
        if extentStorage.baseAddress != nil { ring.pool.free(extentStorage) }
        extentStorage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        extentHead = 0
        extentCount = 0
    }

    /// Copies as many of `bytes` as fit into owned storage; returns how many (the caller's
    /// memory is free again at once).
    @discardableResult
    public func append(_ bytes: ByteReader) -> Int {
        let wanted = min(bytes.count, freeSpace)
        guard wanted > 0, let base = bytes.baseAddress else { return 0 }
        // Behind lent bytes, owned bytes need an entry of their own.
        if extentCount > 0 && !reserveExtents(1) { return 0 }
        let taken = ring.append(ByteReader(start: base, count: wanted))
        guard taken > 0 else { return 0 }
        if extentCount > 0 { pushExtent(Extent(base: nil, length: taken)) }
        count += taken
        return taken
    }

    /// Lends as many of `bytes` as fit, without copying; returns how many. TCP reads them until
    /// they are handed back (rule 1): the caller keeps that memory valid and unchanged till then.
    @discardableResult
    public func lend(_ bytes: ByteReader) -> Int {
        let taken = min(bytes.count, freeSpace)
        guard taken > 0, let base = bytes.baseAddress else { return 0 }
        // The first lent run after owned bytes also needs an entry for those.
        let entries = extentCount == 0 && ring.count > 0 ? 2 : 1
        guard reserveExtents(entries) else { return 0 }
        if extentCount == 0 && ring.count > 0 { pushExtent(Extent(base: nil, length: ring.count)) }
        pushExtent(Extent(base: base, length: taken))
        count += taken
        lentCount += taken
        return taken
    }

    /// Copies `length` bytes starting `offset` bytes after the oldest into `destination`
    /// (the caller checked `offset + length <= count`).
    public func copy(offset: Int, length: Int, into destination: UnsafeMutableRawPointer) {
        guard length > 0 else { return }
        guard extentCount > 0 else { return copyOwned(offset: offset, length: length, into: destination) }
        var position = 0        // stream offset of the current extent's first byte
        var ringOffset = 0      // ring offset of the current owned extent's first byte
        var copied = 0
        for entry in 0..<extentCount {
            let extent = extents[extentIndex(entry)]
            let start = offset + copied
            if start < position + extent.length {
                let within = start - position
                let piece = min(extent.length - within, length - copied)
                if let base = extent.base {
                    (destination + copied).copyMemory(from: base + within, byteCount: piece)
                } else {
                    copyOwned(offset: ringOffset + within, length: piece, into: destination + copied)
                }
                copied += piece
                if copied == length { return }
            }
            position += extent.length
            if extent.base == nil { ringOffset += extent.length }
        }
    }

    private func copyOwned(offset: Int, length: Int, into destination: UnsafeMutableRawPointer) {
        let (first, second) = ring.peek(offset: offset, length: length)
        if let source = first.baseAddress { destination.copyMemory(from: source, byteCount: first.count) }
        if let source = second.baseAddress { (destination + first.count).copyMemory(from: source, byteCount: second.count) }
    }

    /// Drops up to `length` bytes from the front (the peer acknowledged them): lent ones are
    /// handed back. Storage goes back to the pool when the store empties.
    public func discard(_ length: Int) {
        var remaining = min(max(length, 0), count)
        count -= remaining
        guard extentCount > 0 else {
            ring.discard(remaining)
            return
        }
        while remaining > 0 && extentCount > 0 {
            let head = extentIndex(0)
            let piece = min(remaining, extents[head].length)
            if let base = extents[head].base {
                extents[head].base = base + piece
                lentCount -= piece
                returnedCount += piece
            } else {
                ring.discard(piece)
            }
            extents[head].length -= piece
            remaining -= piece
            if extents[head].length == 0 {
                extentHead = extentIndex(1)
                extentCount -= 1
            }
        }
        // Only owned bytes left: the ring alone says it all again.
        if lentCount == 0 { freeExtents() }
    }

    /// Gives the storage back to the pool when the store is empty.
    public func releaseStorage() {
        guard count == 0 else { return }
        ring.releaseStorage()
        freeExtents()
    }

    /// Copies every lent byte into owned storage, in place in the stream, and hands it back:
    /// afterwards TCP reads none of the owner's memory. False, with nothing changed, when the
    /// pool cannot hold all the bytes now.
    public func recall() -> Bool {
        guard lentCount > 0 else { return true }
        let owned = ByteRing(pool: ring.pool, capacity: ring.capacity, maximumCapacity: ring.maximumCapacity)
        guard owned.reserve(count) else { return false }
        var ringOffset = 0
        for entry in 0..<extentCount {
            let extent = extents[extentIndex(entry)]
            if let base = extent.base {
                owned.append(ByteReader(start: base, count: extent.length))
            } else {
                let (first, second) = ring.peek(offset: ringOffset, length: extent.length)
                owned.append(first)
                owned.append(second)
                ringOffset += extent.length
            }
        }
        ring.discard(ring.count)
        ring.releaseStorage()
        ring = owned
        returnedCount += lentCount
        lentCount = 0
        freeExtents()
        return true
    }

    /// Forgets everything (the connection ended) and frees the storage. Lent bytes are no
    /// longer read but not counted in `returnedCount` (they were not delivered): the
    /// connection's end tells the owner that all its memory is its own again.
    public func clear() {
        lentCount = 0
        count = 0
        ring.discard(ring.count)
        ring.releaseStorage()
        freeExtents()
    }

    /// The bytes handed back since the last call (rule 2), in stream order.
    public func takeReturned() -> Int {
        defer { returnedCount = 0 }
        return returnedCount
    }
}
