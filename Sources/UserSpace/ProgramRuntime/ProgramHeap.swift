// The program's heap and start-up: MemoryManagement's Heap over the zero pages the linker reserves after .bss.
import MemoryManagement

/// The allocator behind the Embedded Swift runtime (classes, arrays, `allocate`). A program
/// runs on one CPU with no threads and no signals, so the heap needs no lock. Its memory is
/// reserved by linker/program.ld (zero pages at the end of the data segment, sized per program
/// by the HEAP column of Sources/UserSpace/Programs/programs.list) and handed over by `_start`; it never grows.
enum ProgramHeap {
    nonisolated(unsafe) static var heap: Heap? = nil

    static func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        heap?.allocate(byteCount: byteCount, alignment: alignment)
    }

    static func free(_ pointer: UnsafeMutableRawPointer) {
        do throws(HeapError) {
            try heap?.free(pointer)
        } catch {
            // A double free or a foreign pointer is a bug in the program: say so and stop it
            // rather than go on with a corrupt heap.
            System.write("runtime: bad free of ")
            System.write(hex: UInt64(UInt(bitPattern: pointer)))
            System.write(" (double free or not from the heap)\n")
            System.exit(134)
        }
    }
}

/// The start argument the kernel passed in RDI (`ProgramStartArgument`: the channel's place and the wait policy).
nonisolated(unsafe) var programStartArgument: UInt64 = 0

extension System {
    /// What the kernel passed the program at entry (0 until the kernel defines a meaning).
    public static var startArgument: UInt64 { programStartArgument }
}

/// Called by `_start` before `program_main`: sets up the heap over `heapBytes` at `heapStart`
/// and the console line.
@_cdecl("program_runtime_initialize")
func programRuntimeInitialize(_ heapStart: UnsafeMutableRawPointer, _ heapBytes: Int, _ startArgument: UInt64) {
    programStartArgument = startArgument
    var newHeap = Heap()
    newHeap.addRegion(start: heapStart, byteCount: heapBytes)
    ProgramHeap.heap = newHeap
    Console.initialize()
}

/// Called by `_start` when `program_main` returns: sends the last console text and exits
/// with the status `program_main` returned.
@_cdecl("program_runtime_finish")
func programRuntimeFinish(_ status: Int32) {
    System.exit(UInt64(UInt32(bitPattern: status)))
}

/// posix_memalign for the Embedded Swift runtime (exported under that name by the assembly).
@_cdecl("program_posix_memalign")
func programPosixMemalign(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ byteCount: Int) -> Int32 {
    guard alignment > 0, alignment & (alignment - 1) == 0 else { return 22 }   // EINVAL
    guard let pointer = ProgramHeap.allocate(byteCount: byteCount, alignment: max(alignment, 16)) else { return 12 }  // ENOMEM
    result.pointee = pointer
    return 0
}

/// free for the Embedded Swift runtime (exported under that name by the assembly).
@_cdecl("program_free")
func programFree(_ pointer: UnsafeMutableRawPointer?) {
    if let pointer { ProgramHeap.free(pointer) }
}
