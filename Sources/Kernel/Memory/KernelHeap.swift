/// The kernel heap behind posix_memalign and free, grown from the frame allocator on demand.
import MemoryManagement
import Paging

/// One heap for all CPUs under a lock. It starts with `initialBytes` and grows by at least
/// `growthBytes` whenever an allocation does not fit, so memory is reused through the heap's
/// free lists first and new frames are taken only when the free lists cannot serve.
enum KernelHeap {
    private static let lock = SpinLock()
    nonisolated(unsafe) private static var heap: Heap? = nil
    static let initialBytes = 4 << 20
    static let growthBytes = 2 << 20

    static func initialize() {
        guard let start = PhysicalMemory.allocate(count: Page.count(covering: initialBytes)) else {
            Log.error("heap: no memory for the initial \(bytes: UInt64(initialBytes))")
            Processor.stop()
        }
        var newHeap = Heap()
        newHeap.addRegion(start: start.pointer, byteCount: initialBytes)
        lock.withLock { heap = newHeap }
    }

    static func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        let interruptsWereEnabled = lock.lock()
        defer { lock.unlock(restoringInterrupts: interruptsWereEnabled) }
        guard heap != nil else { return nil }
        if let pointer = heap!.allocate(byteCount: byteCount, alignment: alignment) { return pointer }
        // Grow: enough for this request with its worst-case alignment gap and block overhead.
        let needed = max(growthBytes, byteCount + alignment + Page.size)
        let frames = Page.count(covering: needed)
        guard let region = PhysicalMemory.allocate(count: frames) else { return nil }
        heap!.addRegion(start: region.pointer, byteCount: frames * Page.size)
        return heap!.allocate(byteCount: byteCount, alignment: alignment)
    }

    /// Frees; a pointer the heap never gave out, or a double free, is reported and ignored.
    static func free(_ pointer: UnsafeMutableRawPointer) {
        let failed = lock.withLock { () -> Bool in
            do throws(HeapError) { try heap?.free(pointer); return false } catch { return true }
        }
        if failed { Log.error("heap: bad free of \(hex: UInt(bitPattern: pointer)) (double free or not from the heap)") }
    }

    static var statistics: HeapStatistics? { lock.withLock { heap?.statistics } }
    static func validate() -> Bool { lock.withLock { heap?.validate() ?? false } }
}

/// The allocator of the Embedded Swift runtime (classes, arrays, `allocate`): boot/memory.asm
/// exports posix_memalign and free as jumps to these two, since Swift reserves those names.
@_cdecl("kernel_posix_memalign")
func kernelPosixMemalign(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ byteCount: Int) -> Int32 {
    guard alignment > 0, alignment & (alignment - 1) == 0 else { return 22 }   // EINVAL
    guard let pointer = KernelHeap.allocate(byteCount: byteCount, alignment: max(alignment, 16)) else { return 12 }  // ENOMEM
    result.pointee = pointer
    return 0
}

@_cdecl("kernel_free")
func kernelFree(_ pointer: UnsafeMutableRawPointer?) {
    if let pointer { KernelHeap.free(pointer) }
}
