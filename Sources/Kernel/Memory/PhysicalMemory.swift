/// Physical memory: the frame allocator, set up from the multiboot2 memory map.
import BootProtocol
import MemoryManagement
import Paging

/// A handful of ranges kept without the heap (it does not exist yet when these are needed).
struct RangeList: Sequence {
    private var storage = InlineArray<16, PhysicalRange>(repeating: PhysicalRange(start: 0, end: 0))
    private(set) var count = 0

    mutating func append(_ range: PhysicalRange) {
        precondition(count < 16, "too many reserved ranges")
        storage[count] = range
        count += 1
    }

    func makeIterator() -> Iterator { Iterator(list: self) }
    struct Iterator: IteratorProtocol {
        let list: RangeList
        var position = 0
        mutating func next() -> PhysicalRange? {
            guard position < list.count else { return nil }
            defer { position += 1 }
            return list.storage[position]
        }
    }
}

/// The kernel's one frame allocator, shared by all CPUs under a lock.
enum PhysicalMemory {
    private static let lock = SpinLock()
    nonisolated(unsafe) private static var frames: FrameAllocator? = nil
    /// Bytes of RAM the memory map calls available (minus nothing: the ready line reports it).
    nonisolated(unsafe) private(set) static var usableBytes: UInt64 = 0
    /// One past the highest available RAM address.
    nonisolated(unsafe) private(set) static var highestAddress: UInt64 = 0
    /// The lowest frame the allocator hands out: low memory holds firmware data and the AP
    /// trampoline, so it is never allocated.
    static let lowMemoryEnd: UInt64 = 0x10_0000

    /// Builds the frame allocator: every available region of the memory map is free except
    /// `reserved` (the kernel image, boot information, modules) and the bitmap itself.
    static func initialize(information: Multiboot2Information, reserved: RangeList) {
        var highest: UInt64 = 0
        var usable: UInt64 = 0
        for region in information.memoryRegions where region.kind == .available {
            highest = max(highest, region.base + region.length)
            usable += region.length
        }
        let bitmapBytes = FrameAllocator.bitmapByteCount(highestAddress: highest)
        let available = information.memoryRegions.lazy
            .filter { $0.kind == .available }
            .map { PhysicalRange(start: $0.base, length: $0.length) }
        guard let bitmapAddress = FrameAllocator.findPlacement(
            bytes: bitmapBytes, in: available, avoiding: reserved, above: lowMemoryEnd) else {
            Log.error("memory: no room for the frame bitmap (\(bitmapBytes) bytes)")
            Processor.stop()
        }
        var allocator = FrameAllocator(
            bitmap: UnsafeMutableRawPointer(bitPattern: UInt(bitmapAddress))!,
            bitmapByteCount: bitmapBytes, highestAddress: highest)
        for range in available { allocator.release(range) }
        allocator.reserve(PhysicalRange(start: 0, end: lowMemoryEnd))
        for range in reserved { allocator.reserve(range) }
        allocator.reserve(PhysicalRange(start: bitmapAddress, length: UInt64(bitmapBytes)))
        frames = allocator
        usableBytes = usable
        highestAddress = highest
    }

    /// Allocates `count` contiguous zero-filled frames below `limit`.
    static func allocate(count: Int = 1, below limit: UInt64 = .max) -> PhysicalAddress? {
        guard let address = lock.withLock({ frames?.allocate(count: count, alignment: FrameAllocator.frameSize, below: limit) })
        else { return nil }
        let allocated = PhysicalAddress(address)
        allocated.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count * Page.size)
        return allocated
    }

    /// Returns frames to the allocator; a bad free is reported, never silently ignored.
    static func free(_ address: PhysicalAddress, count: Int = 1) {
        let failed = lock.withLock { () -> Bool in
            do throws(FrameError) { try frames?.free(address.rawValue, count: count); return false } catch { return true }
        }
        if failed { Log.error("memory: bad free of \(count) frames at \(hex: address.rawValue)") }
    }

    static var freeFrameCount: Int { lock.withLock { frames?.freeFrameCount ?? 0 } }
}
