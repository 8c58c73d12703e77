// The shared pool TCP buffers grow from: a buddy allocator of power-of-two blocks over one arena.

/// Power-of-two blocks, from `smallestBlock` to `largestBlock` bytes, carved from one arena
/// that is allocated once, at creation: the memory every connection's send and receive bytes
/// of one network context come from.
///
/// **Why a buddy allocator.** A connection's buffer grows by doubling (2 KiB for a request,
/// up to its bandwidth-delay product for a bulk transfer) and is given back whole when it
/// empties. Blocks of power-of-two sizes fit that exactly; splitting a larger block in two
/// "buddies" serves a smaller request, and a freed block merges with its buddy when that is
/// free too, so memory freed by small buffers becomes a large buffer again (Knuth, TAOCP
/// vol. 1 §2.5; the page allocator of Linux works the same way). Every operation costs at most
/// one step per size class, takes no lock (one network context owns the pool) and never calls
/// the heap: it is fit for the packet path.
///
/// **Book-keeping** lives beside the arena, not in it: one state byte and two free-list links
/// per smallest block. A block's state sits at its first smallest block: free at order k,
/// allocated at order k, or inside a larger block. Free lists are doubly linked so that a
/// buddy can be taken out of the middle of its list when it merges.
///
/// **Exhaustion** is a refusal (`allocate` returns nil, counted in `refusals`), never a
/// corruption: the caller keeps what it had and tries again when memory is freed.
public final class BufferPool {
    /// The smallest block in bytes (a power of two).
    public let smallestBlock: Int
    /// The largest block in bytes (a power of two, at least `smallestBlock`).
    public let largestBlock: Int
    /// The arena's size: a whole number of largest blocks.
    public let byteCount: Int
    /// Bytes in blocks handed out.
    public private(set) var bytesInUse = 0
    /// Blocks handed out.
    public private(set) var blocksInUse = 0
    /// The most bytes ever in use at once.
    public private(set) var peakBytesInUse = 0
    /// Requests refused because no block of the size was free.
    public private(set) var refusals: UInt64 = 0

    private let arena: UnsafeMutableRawPointer
    /// log2(smallestBlock).
    private let smallestShift: Int
    /// The largest order: `largestBlock == smallestBlock << topOrder`.
    private let topOrder: Int
    /// Per smallest block: `freeFlag | order` at the head of a free block, `order` at the head
    /// of an allocated one, `interior` elsewhere.
    private let states: UnsafeMutablePointer<UInt8>
    /// Free-list links per smallest block (meaningful at the head of a free block).
    private let next: UnsafeMutablePointer<UInt32>
    private let previous: UnsafeMutablePointer<UInt32>
    /// Each order's free-list head (a smallest-block index, `none` when empty).
    private let heads: UnsafeMutablePointer<UInt32>

    private static let freeFlag: UInt8 = 0x80
    private static let interior: UInt8 = 0xFF
    private static let none = UInt32.max

    /// A pool of at least `byteCount` bytes (rounded up to whole largest blocks, at least one),
    /// handing out blocks of `smallestBlock` to `largestBlock` bytes (powers of two).
    public init(byteCount: Int, smallestBlock: Int = 2048, largestBlock: Int = 1 << 20) {
        precondition(smallestBlock >= 64 && smallestBlock & (smallestBlock - 1) == 0, "smallest block: a power of two ≥ 64")
        precondition(largestBlock >= smallestBlock && largestBlock & (largestBlock - 1) == 0,
                     "largest block: a power of two ≥ the smallest")
        self.smallestBlock = smallestBlock
        self.largestBlock = largestBlock
        smallestShift = smallestBlock.trailingZeroBitCount
        topOrder = largestBlock.trailingZeroBitCount - smallestShift
        let topBlocks = max(1, (byteCount + largestBlock - 1) / largestBlock)
        self.byteCount = topBlocks * largestBlock
        precondition(self.byteCount / smallestBlock < Int(UInt32.max), "arena too large for 32-bit block indices")
        arena = UnsafeMutableRawPointer.allocate(byteCount: self.byteCount, alignment: 64)
        let units = self.byteCount >> smallestShift
        states = .allocate(capacity: units)
        states.initialize(repeating: Self.interior, count: units)
        next = .allocate(capacity: units)
        next.initialize(repeating: Self.none, count: units)
        previous = .allocate(capacity: units)
        previous.initialize(repeating: Self.none, count: units)
        heads = .allocate(capacity: topOrder + 1)
        heads.initialize(repeating: Self.none, count: topOrder + 1)
        let unitsPerTop = 1 << topOrder
        for top in stride(from: topBlocks - 1, through: 0, by: -1) {
            pushFree(UInt32(top * unitsPerTop), order: topOrder)
        }
    }

    deinit {
        arena.deallocate()
        states.deallocate()
        next.deallocate()
        previous.deallocate()
        heads.deallocate()
    }

    /// The block size `allocate(byteCount:)` would hand out for `byteCount` bytes (nil above
    /// `largestBlock`).
    public func blockSize(for byteCount: Int) -> Int? {
        byteCount <= largestBlock ? powerOfTwo(atLeast: byteCount, floor: smallestBlock) : nil
    }

    /// Bytes not handed out (possibly split into blocks too small for a given request).
    public var bytesFree: Int { byteCount - bytesInUse }

    /// A block of at least `byteCount` bytes (the next power of two, at least `smallestBlock`),
    /// or nil — counted in `refusals` — when none is free or the size exceeds `largestBlock`.
    public func allocate(byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        guard let size = blockSize(for: max(byteCount, 1)) else { refusals &+= 1; return nil }
        let order = (size >> smallestShift).trailingZeroBitCount
        // The smallest free block at least this large…
        var found = order
        while found <= topOrder && heads[found] == Self.none { found += 1 }
        guard found <= topOrder else { refusals &+= 1; return nil }
        let unit = heads[found]
        removeFree(unit, order: found)
        // …split down to the size asked, the upper halves going back as free buddies.
        while found > order {
            found -= 1
            pushFree(unit + UInt32(1 << found), order: found)
        }
        states[Int(unit)] = UInt8(order)
        bytesInUse += size
        blocksInUse += 1
        peakBytesInUse = max(peakBytesInUse, bytesInUse)
        return UnsafeMutableRawBufferPointer(start: arena + (Int(unit) << smallestShift), count: size)
    }

    /// Gives `block` (exactly as `allocate` returned it) back, merging it with its free buddies.
    /// A block the pool did not hand out, or one freed twice, stops the kernel: it would
    /// otherwise be handed to two connections at once.
    public func free(_ block: UnsafeMutableRawBufferPointer) {
        guard let start = block.baseAddress, start >= arena, start < arena + byteCount else {
            preconditionFailure("BufferPool.free: not a block of this pool")
        }
        var unit = UInt32((start - arena) >> smallestShift)
        var order = Int(states[Int(unit)])
        precondition(order <= topOrder && (smallestBlock << order) == block.count,
                     "BufferPool.free: not an allocated block (double free?)")
        bytesInUse -= block.count
        blocksInUse -= 1
        while order < topOrder {
            let buddy = unit ^ UInt32(1 << order)
            guard states[Int(buddy)] == Self.freeFlag | UInt8(order) else { break }
            removeFree(buddy, order: order)
            states[Int(max(unit, buddy))] = Self.interior
            unit = min(unit, buddy)
            order += 1
        }
        pushFree(unit, order: order)
    }

    private func pushFree(_ unit: UInt32, order: Int) {
        states[Int(unit)] = Self.freeFlag | UInt8(order)
        previous[Int(unit)] = Self.none
        next[Int(unit)] = heads[order]
        if heads[order] != Self.none { previous[Int(heads[order])] = unit }
        heads[order] = unit
    }

    private func removeFree(_ unit: UInt32, order: Int) {
        let before = previous[Int(unit)], after = next[Int(unit)]
        if before == Self.none { heads[order] = after } else { next[Int(before)] = after }
        if after != Self.none { previous[Int(after)] = before }
        states[Int(unit)] = Self.interior
    }

    /// How many free blocks of each order there are, smallest first (for tests and metrics).
    public func freeBlockCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: topOrder + 1)
        for order in 0...topOrder {
            var unit = heads[order]
            while unit != Self.none { counts[order] += 1; unit = next[Int(unit)] }
        }
        return counts
    }
}

/// The smallest power of two that is at least `value` and at least `floor` (a power of two):
/// the sizes buffers and pool blocks come in.
func powerOfTwo(atLeast value: Int, floor: Int = 1) -> Int {
    var result = floor
    while result < value { result <<= 1 }
    return result
}
