/// The physical frame allocator: a bitmap of 4 KiB frames in memory the caller provides.
import Paging

/// Hands out contiguous runs of 4 KiB physical frames.
///
/// The bitmap memory comes from the caller (see `bitmapByteCount(highestAddress:)` and
/// `findPlacement(bytes:in:avoiding:above:)`), so the allocator never allocates itself.
/// Every frame starts reserved; `release` makes the memory map's usable RAM free.
/// Searches start at a hint below which no frame is free, and skip full words of the bitmap.
/// Not thread-safe: the kernel wraps it in a lock. Copies share the bitmap: keep one.
public struct FrameAllocator {
    /// A frame is a page.
    public static var frameSize: UInt64 { Page.size64 }

    private let bitmap: FrameBitmap
    /// No frame below this index is free, so searches begin here.
    private var searchHint: Int = 0
    /// Free frames, kept in step with the bitmap by every operation.
    public private(set) var freeFrameCount: Int = 0

    /// The number of frames the bitmap describes: those below `highestAddress`, whether
    /// usable or not.
    public var totalFrameCount: Int { bitmap.frameCount }

    /// The number of frames that cover `0 ..< highestAddress` (a partial last frame counts).
    static func frameCount(highestAddress: UInt64) -> Int {
        Int(highestAddress / frameSize + (highestAddress % frameSize == 0 ? 0 : 1))
    }

    /// Bytes of bitmap needed to describe memory up to `highestAddress`, a multiple of 8.
    public static func bitmapByteCount(highestAddress: UInt64) -> Int {
        FrameBitmap.wordCount(frameCount: frameCount(highestAddress: highestAddress)) * 8
    }

    /// An allocator for frames below `highestAddress`, keeping its bitmap at `bitmap`
    /// (8-byte aligned, at least `bitmapByteCount(highestAddress:)` bytes). Every frame starts
    /// reserved.
    public init(bitmap: UnsafeMutableRawPointer, bitmapByteCount: Int, highestAddress: UInt64) {
        let frames = FrameAllocator.frameCount(highestAddress: highestAddress)
        precondition(bitmapByteCount >= FrameAllocator.bitmapByteCount(highestAddress: highestAddress),
                     "frame bitmap too small")
        precondition(UInt(bitPattern: bitmap) % 8 == 0, "frame bitmap must be 8-byte aligned")
        let words = bitmap.bindMemory(to: UInt64.self, capacity: FrameBitmap.wordCount(frameCount: frames))
        self.bitmap = FrameBitmap(words: words, frameCount: frames)
        self.bitmap.setAll()
        self.searchHint = frames
    }

    /// Marks the whole frames inside `range` free. Partial frames at either end stay as they
    /// were: a frame is usable only if all of it is RAM.
    public mutating func release(_ range: PhysicalRange) {
        let first = min(Int(range.start / Self.frameSize + (range.start % Self.frameSize == 0 ? 0 : 1)), totalFrameCount)
        let end = min(Int(range.end / Self.frameSize), totalFrameCount)
        guard first < end else { return }
        freeFrameCount += bitmap.clear(first, end)
        searchHint = min(searchHint, first)
    }

    /// Marks every frame `range` touches unavailable, even partly: a frame holding one
    /// reserved byte must not be handed out.
    public mutating func reserve(_ range: PhysicalRange) {
        guard !range.isEmpty else { return }
        let first = min(Int(range.start / Self.frameSize), totalFrameCount)
        let end = min(Self.frameCount(highestAddress: range.end), totalFrameCount)
        guard first < end else { return }
        freeFrameCount -= bitmap.set(first, end)
    }

    /// Allocates `count` contiguous frames starting at a multiple of `alignment` (a power of
    /// two; values below 4 KiB mean 4 KiB) and ending at or below `limit`. Returns the
    /// physical address of the first frame, or nil if no such run is free.
    public mutating func allocate(count: Int = 1, alignment: UInt64 = Page.size64, below limit: UInt64 = .max) -> UInt64? {
        precondition(alignment != 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        guard count >= 1 else { return nil }
        // Move the hint up past full words first: every later search profits.
        searchHint = bitmap.firstClear(from: searchHint, to: totalFrameCount) ?? totalFrameCount
        let alignmentFrames = Int(max(alignment / Self.frameSize, 1))
        let limitFrames = min(totalFrameCount, Int(min(limit / Self.frameSize, UInt64(Int.max))))
        guard count <= limitFrames else { return nil }
        var candidate = searchHint
        while true {
            guard let free = bitmap.firstClear(from: candidate, to: limitFrames) else { return nil }
            let (rounded, overflow) = free.addingReportingOverflow(alignmentFrames - 1)
            guard !overflow else { return nil }
            let start = rounded & ~(alignmentFrames - 1)
            guard start <= limitFrames - count else { return nil }
            if let used = bitmap.firstSet(from: start, to: start + count) {
                candidate = used + 1
                continue
            }
            freeFrameCount -= bitmap.set(start, start + count)
            if start == searchHint { searchHint = start + count }
            return UInt64(start) * Self.frameSize
        }
    }

    /// Returns `count` frames starting at `address` to the free pool. Throws (changing nothing)
    /// if the address is misaligned, the frames lie outside the bitmap, or any of them is
    /// already free.
    public mutating func free(_ address: UInt64, count: Int = 1) throws(FrameError) {
        guard address % Self.frameSize == 0 else { throw .misaligned(address) }
        let first = address / Self.frameSize
        guard count >= 1, first < UInt64(totalFrameCount), count <= totalFrameCount - Int(first) else {
            throw .outOfRange(address)
        }
        let start = Int(first)
        if let alreadyFree = bitmap.firstClear(from: start, to: start + count) {
            throw .notAllocated(UInt64(alreadyFree) * Self.frameSize)
        }
        freeFrameCount += bitmap.clear(start, start + count)
        searchHint = min(searchHint, start)
    }

    /// Whether the frame holding `address` is currently free (for tests and diagnostics).
    public func isFree(_ address: UInt64) -> Bool {
        let frame = address / Self.frameSize
        guard frame < UInt64(totalFrameCount) else { return false }
        return bitmap.firstClear(from: Int(frame), to: Int(frame) + 1) != nil
    }
}
