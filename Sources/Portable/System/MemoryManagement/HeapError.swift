/// Why the heap refused to free a pointer, and the numbers it reports about itself.

/// A rejected `Heap.free`; the heap is unchanged when one is thrown.
public enum HeapError: Error, Equatable, Sendable {
    /// The pointer is not inside any region of this heap, or not 16-byte aligned.
    case foreignPointer(UInt)
    /// The pointer's block is already free.
    case doubleFree(UInt)
    /// The pointer is inside the heap but is not the start of an allocated block (never
    /// returned by `allocate`, or its header was overwritten).
    case invalidPointer(UInt)
}

/// A snapshot of the heap's bookkeeping.
public struct HeapStatistics: Equatable, Sendable {
    /// Bytes of every region added (after rounding to 16 bytes), including heap overhead.
    public var regionBytes: Int
    /// Bytes of allocated blocks, their headers and padding included.
    public var bytesInUse: Int
    /// Bytes of free blocks, headers included.
    public var bytesFree: Int
    /// Successful allocations since the heap was made.
    public var allocationCount: Int
    /// Successful frees since the heap was made.
    public var freeCount: Int
    /// Allocations not yet freed.
    public var liveAllocations: Int
    /// The largest `byteCount` one `allocate(byteCount:alignment: 16)` can satisfy right now.
    public var largestFreeBlock: Int

    /// A statistics snapshot with every field given.
    public init(regionBytes: Int, bytesInUse: Int, bytesFree: Int, allocationCount: Int,
                freeCount: Int, liveAllocations: Int, largestFreeBlock: Int) {
        self.regionBytes = regionBytes
        self.bytesInUse = bytesInUse
        self.bytesFree = bytesFree
        self.allocationCount = allocationCount
        self.freeCount = freeCount
        self.liveAllocations = liveAllocations
        self.largestFreeBlock = largestFreeBlock
    }
}
