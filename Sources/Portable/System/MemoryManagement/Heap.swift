/// The kernel heap: boundary-tagged blocks in segregated free lists, over regions it is given.

/// A general-purpose allocator over raw memory regions (see `HeapBlock` for the layout).
///
/// - Free blocks sit in doubly linked lists by size class (`HeapSizeClass`), with a bitmap of
///   non-empty classes; a request takes the first fitting block of its own class, else the
///   head of the next non-empty larger class, which always fits ("good fit" in O(1) for the
///   common case).
/// - Blocks split on allocation (the unused tail becomes a free block), and a free merges
///   with free neighbours at once through boundary tags, so memory is really reused.
/// - Alignments above 16 split off the leading gap as a free block.
/// - Regions need not be contiguous; a region that starts where an earlier one ends extends it.
///
/// The heap never allocates: its own state is this struct (free-list heads inline) and the
/// headers inside the regions. It is not thread-safe (the kernel wraps it in a lock), and it
/// is a view of its regions: a copy must not be used once the original has changed.
public struct Heap {
    /// Head block address of each size class's free list (0 for empty); the literal counts
    /// must equal `HeapSizeClass.count` and `.bitmapWords` (generic arguments take literals only).
    private var freeLists = InlineArray<172, UInt>(repeating: 0)
    /// Bit `c` set when class `c`'s list is non-empty.
    private var nonEmptyClasses = InlineArray<3, UInt64>(repeating: 0)
    /// Address of the most recently added region's header (0 for none).
    private var firstRegion: UInt = 0
    private var regionBytes = 0
    private var bytesInUse = 0
    private var bytesFree = 0
    private var allocationCount = 0
    private var freeCount = 0

    /// The largest request accepted; larger ones fail at once (and cannot overflow the math).
    public static let maximumByteCount = 1 << 46
    /// The largest alignment accepted.
    public static let maximumAlignment = 1 << 30

    /// An empty heap: every allocation fails until a region is added.
    public init() {}

    // MARK: Regions

    /// Gives the heap `byteCount` bytes at `start` (rounded inward to 16 bytes) for good.
    /// Returns false, using nothing, if less than 80 bytes remain. The memory must not overlap
    /// a region the heap already has; one that begins exactly where a region ends extends it.
    @discardableResult
    public mutating func addRegion(start: UnsafeMutableRawPointer, byteCount: Int) -> Bool {
        let granularity = UInt(HeapBlock.granularity)
        let rawStart = UInt(bitPattern: start)
        guard byteCount > 0, rawStart <= UInt.max - UInt(byteCount) - granularity else { return false }
        let begin = (rawStart + granularity - 1) & ~(granularity - 1)
        let end = (rawStart + UInt(byteCount)) & ~(granularity - 1)
        let minimum = UInt(HeapRegion.headerSize + HeapBlock.minimumSize + HeapRegion.sentinelSize)
        guard end > begin, end - begin >= minimum else { return false }

        var regionAddress = firstRegion
        while regionAddress != 0 {
            let region = HeapRegion(address: regionAddress)
            precondition(end <= region.address || begin >= region.end, "heap regions overlap")
            regionAddress = region.next
        }
        regionBytes += Int(end - begin)

        if let region = region(endingAt: begin) {
            // Extend: the old sentinel becomes the header of a free block up to the new sentinel.
            let oldSentinel = region.sentinel
            let previousFree = oldSentinel.isPreviousFree
            region.end = end
            region.sentinel.markSentinel(previousFree: false)
            releaseBlock(oldSentinel, size: Int(end - begin), previousFree: previousFree)
            return true
        }

        let region = HeapRegion(address: begin)
        region.next = firstRegion
        region.end = end
        firstRegion = begin
        region.sentinel.markSentinel(previousFree: false)
        let block = region.firstBlock
        let size = Int(region.sentinel.address - block.address)
        block.markFree(size: size)
        region.sentinel.setPreviousFree(true)
        insertFree(block)
        return true
    }

    /// The region whose end is exactly `address`, if any.
    private func region(endingAt address: UInt) -> HeapRegion? {
        var regionAddress = firstRegion
        while regionAddress != 0 {
            let region = HeapRegion(address: regionAddress)
            if region.end == address { return region }
            regionAddress = region.next
        }
        return nil
    }

    /// The region whose blocks may hold `payload`, if any.
    private func region(holding payload: UInt) -> HeapRegion? {
        var regionAddress = firstRegion
        while regionAddress != 0 {
            let region = HeapRegion(address: regionAddress)
            if region.containsPayload(payload) { return region }
            regionAddress = region.next
        }
        return nil
    }

    /// Whether `pointer` lies inside one of the heap's regions where payloads can be (it says
    /// nothing about whether it is currently allocated).
    public func owns(_ pointer: UnsafeRawPointer) -> Bool {
        region(holding: UInt(bitPattern: pointer)) != nil
    }

    // MARK: Allocation

    /// Allocates `byteCount` bytes (0 allowed: a unique pointer) aligned to `alignment`, a
    /// power of two (at least 16 is always given). Returns nil when no free block fits or the
    /// arguments are invalid; the caller may then add a region and retry.
    public mutating func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard byteCount >= 0, byteCount <= Heap.maximumByteCount,
              alignment > 0, alignment & (alignment - 1) == 0, alignment <= Heap.maximumAlignment else { return nil }
        let alignment = max(alignment, HeapBlock.granularity)
        let payloadBytes = (byteCount + HeapBlock.granularity - 1) & ~(HeapBlock.granularity - 1)
        let needed = max(HeapBlock.minimumSize, payloadBytes + HeapBlock.headerSize)
        guard let block = findFreeBlock(needed: needed, alignment: alignment) else { return nil }
        let allocated = carve(block, needed: needed, alignment: alignment)
        allocationCount += 1
        return UnsafeMutableRawPointer(bitPattern: allocated.payload)
    }

    /// Bytes to skip at the start of `block` so that the payload is aligned and the skipped
    /// part is either nothing or big enough to stand as a free block of its own.
    private static func leadingGap(_ block: HeapBlock, alignment: Int) -> Int {
        let payload = Int(block.payload)
        var gap = ((payload + alignment - 1) & ~(alignment - 1)) - payload
        while gap != 0 && gap < HeapBlock.minimumSize { gap += alignment }
        return gap
    }

    /// The free block to allocate from: first fit within the classes that may hold blocks too
    /// small, else the head of the smallest class whose every block fits.
    private func findFreeBlock(needed: Int, alignment: Int) -> HeapBlock? {
        // The worst leading gap is below alignment + minimumSize (see leadingGap).
        let worstCase = alignment == HeapBlock.granularity ? needed : needed + alignment + HeapBlock.minimumSize
        let firstClass = HeapSizeClass.of(size: needed)
        let alwaysFitsClass = HeapSizeClass.of(size: worstCase) + 1
        var sizeClass = firstNonEmptyClass(from: firstClass)
        while let current = sizeClass, current < alwaysFitsClass {
            var address = freeLists[current]
            while address != 0 {
                let block = HeapBlock(address: address)
                if Heap.leadingGap(block, alignment: alignment) + needed <= block.size { return block }
                address = block.nextFree
            }
            sizeClass = firstNonEmptyClass(from: current + 1)
        }
        guard let current = sizeClass else { return nil }
        return HeapBlock(address: freeLists[current])
    }

    /// Takes `block` off its free list and turns the right part of it into an allocated block
    /// of `needed` bytes; the leading gap and a large enough tail go back as free blocks.
    private mutating func carve(_ block: HeapBlock, needed: Int, alignment: Int) -> HeapBlock {
        removeFree(block)
        let gap = Heap.leadingGap(block, alignment: alignment)
        var size = block.size
        if gap > 0 {
            // A free block's predecessor is in use, so the gap block needs no merging.
            block.markFree(size: gap)
            insertFree(block)
            size -= gap
        }
        let allocated = HeapBlock(address: block.address + UInt(gap))
        if size - needed >= HeapBlock.minimumSize {
            let tail = HeapBlock(address: allocated.address + UInt(needed))
            tail.markFree(size: size - needed)
            insertFree(tail)   // the block after the tail already says "previous is free"
            size = needed
        } else {
            HeapBlock(address: allocated.address + UInt(size)).setPreviousFree(false)
        }
        allocated.markInUse(size: size, previousFree: gap > 0)
        bytesInUse += size
        return allocated
    }

    // MARK: Freeing

    /// Frees a pointer `allocate` returned, merging the block with free neighbours. Throws,
    /// changing nothing, for a pointer outside the heap, one that is not an allocated block's
    /// payload, or a block already free.
    public mutating func free(_ pointer: UnsafeMutableRawPointer) throws(HeapError) {
        let payload = UInt(bitPattern: pointer)
        guard payload % UInt(HeapBlock.granularity) == 0, let region = region(holding: payload) else {
            throw .foreignPointer(payload)
        }
        let block = HeapBlock(payload: payload)
        if block.hasFreeCheck { throw .doubleFree(payload) }
        let size = block.size
        guard block.hasInUseCheck, block.isInUse, size >= HeapBlock.minimumSize,
              size <= Int(region.sentinel.address - block.address) else {
            throw .invalidPointer(payload)
        }
        bytesInUse -= size
        freeCount += 1
        releaseBlock(block, size: size, previousFree: block.isPreviousFree)
    }

    /// Makes `size` bytes at `block` (counted in use) free, merged with free neighbours.
    private mutating func releaseBlock(_ block: HeapBlock, size: Int, previousFree: Bool) {
        var start = block
        var total = size
        let next = HeapBlock(address: block.address + UInt(size))
        if !next.isInUse {
            removeFree(next)
            next.markSwallowed()
            total += next.size
        }
        if previousFree {
            let previous = block.previousByFooter
            removeFree(previous)
            block.markSwallowed()
            start = previous
            total += previous.size
        }
        start.markFree(size: total)
        insertFree(start)
        HeapBlock(address: start.address + UInt(total)).setPreviousFree(true)
    }

    // MARK: Free lists

    private mutating func insertFree(_ block: HeapBlock) {
        let sizeClass = HeapSizeClass.of(size: block.size)
        let head = freeLists[sizeClass]
        block.previousFree = 0
        block.nextFree = head
        if head != 0 { HeapBlock(address: head).previousFree = block.address }
        freeLists[sizeClass] = block.address
        nonEmptyClasses[sizeClass / 64] |= 1 << UInt64(sizeClass % 64)
        bytesFree += block.size
    }

    private mutating func removeFree(_ block: HeapBlock) {
        let sizeClass = HeapSizeClass.of(size: block.size)
        let next = block.nextFree
        let previous = block.previousFree
        if previous != 0 { HeapBlock(address: previous).nextFree = next } else { freeLists[sizeClass] = next }
        if next != 0 { HeapBlock(address: next).previousFree = previous }
        if freeLists[sizeClass] == 0 { nonEmptyClasses[sizeClass / 64] &= ~(1 << UInt64(sizeClass % 64)) }
        bytesFree -= block.size
    }

    /// The smallest non-empty class at or above `sizeClass`.
    private func firstNonEmptyClass(from sizeClass: Int) -> Int? {
        guard sizeClass < HeapSizeClass.count else { return nil }
        var word = sizeClass / 64
        var bits = nonEmptyClasses[word] & (~0 << UInt64(sizeClass % 64))
        while true {
            if bits != 0 { return word * 64 + bits.trailingZeroBitCount }
            word += 1
            guard word < HeapSizeClass.bitmapWords else { return nil }
            bits = nonEmptyClasses[word]
        }
    }

    // MARK: Inspection

    /// The heap's counters, and the largest request it can serve now.
    public var statistics: HeapStatistics {
        var largest = 0
        var sizeClass = firstNonEmptyClass(from: 0)
        var highest: Int? = nil
        while let current = sizeClass { highest = current; sizeClass = firstNonEmptyClass(from: current + 1) }
        if let highest {
            var address = freeLists[highest]
            while address != 0 {
                let block = HeapBlock(address: address)
                largest = max(largest, block.size - HeapBlock.headerSize)
                address = block.nextFree
            }
        }
        return HeapStatistics(regionBytes: regionBytes, bytesInUse: bytesInUse, bytesFree: bytesFree,
                              allocationCount: allocationCount, freeCount: freeCount,
                              liveAllocations: allocationCount - freeCount, largestFreeBlock: largest)
    }

    /// Checks every invariant: walks each region's blocks (sizes, check words, footers,
    /// "previous is free" flags, no two free neighbours, the sentinel) and each free list
    /// (links both ways, right class, blocks free), and that the lists hold exactly the free
    /// blocks and the counters match. For tests and the in-kernel stress test.
    public func validate() -> Bool {
        guard freeLists.count == HeapSizeClass.count, nonEmptyClasses.count == HeapSizeClass.bitmapWords else { return false }
        var freeBlocks = 0
        var freeBytes = 0
        var usedBytes = 0
        var allBytes = 0
        var regionAddress = firstRegion
        while regionAddress != 0 {
            let region = HeapRegion(address: regionAddress)
            guard region.end > region.address, region.sentinel.hasSentinelCheck, region.sentinel.isInUse,
                  region.sentinel.size == 0 else { return false }
            allBytes += Int(region.end - region.address)
            usedBytes += HeapRegion.headerSize + HeapRegion.sentinelSize
            var block = region.firstBlock
            var previousWasFree = false
            while block.address != region.sentinel.address {
                let size = block.size
                guard size >= HeapBlock.minimumSize, size % HeapBlock.granularity == 0,
                      size <= Int(region.sentinel.address - block.address),
                      block.isPreviousFree == previousWasFree else { return false }
                if block.isInUse {
                    guard block.hasInUseCheck else { return false }
                    usedBytes += size
                    previousWasFree = false
                } else {
                    guard block.hasFreeCheck, !previousWasFree, block.footer == size else { return false }
                    freeBlocks += 1
                    freeBytes += size
                    previousWasFree = true
                }
                block = block.next
            }
            guard region.sentinel.isPreviousFree == previousWasFree else { return false }
            regionAddress = region.next
        }

        var listedBlocks = 0
        for sizeClass in 0..<HeapSizeClass.count {
            let listed = nonEmptyClasses[sizeClass / 64] & (1 << UInt64(sizeClass % 64)) != 0
            guard listed == (freeLists[sizeClass] != 0) else { return false }
            var previous: UInt = 0
            var address = freeLists[sizeClass]
            while address != 0 {
                let block = HeapBlock(address: address)
                guard listedBlocks < freeBlocks, region(holding: block.payload) != nil, !block.isInUse,
                      block.hasFreeCheck, block.previousFree == previous,
                      HeapSizeClass.of(size: block.size) == sizeClass else { return false }
                listedBlocks += 1
                previous = address
                address = block.nextFree
            }
        }
        return listedBlocks == freeBlocks && freeBytes == bytesFree && allBytes == regionBytes
            && usedBytes == bytesInUse + HeapRegion.headerSize * regionCount + HeapRegion.sentinelSize * regionCount
    }

    /// The number of separate regions (an extended region counts once).
    private var regionCount: Int {
        var count = 0
        var regionAddress = firstRegion
        while regionAddress != 0 { count += 1; regionAddress = HeapRegion(address: regionAddress).next }
        return count
    }
}
