/// Loading a program: validate its ELF image, copy its segments into fresh frames, and build
/// its address space — the kernel's mappings (supervisor-only) plus its own user pages.
///
/// A program's view of the lower half (all far below 2^47, where Swift objects must live):
///
///     0x0000_0000_0000 .. 512 GiB   the kernel's identity map: shared, supervisor-only
///     0x4000_0000_0000 .. +1 GiB    the program image (text R+X, rodata R, data+bss RW)
///     0x5000_0000_0000 - 64 KiB     the program stack (RW, no-execute), an unmapped guard below
///     0x6000_0000_0000              channel endpoints and packet buffers (mapped per program)
import ELF
import MemoryManagement
import Paging
import RawBytes

/// A program ready to enter.
struct LoadedProgram {
    /// The physical address of its PML4 (for CR3).
    var root: UInt64
    var entryPoint: UInt64
    var stackTop: UInt64
    /// Where its channel to the network core is mapped (0: none): passed to it in RDI.
    var channelAddress: UInt64 = 0
    /// The frames its segments and stack occupy (first frame, count): given back when it ends.
    var frames: [(start: PhysicalAddress, count: Int)] = []
}

/// Why an image was refused.
enum ProgramLoadError: Error {
    case badImage(ELFError)
    case outOfMemory
    case mappingFailed
}

enum ProgramLoader {
    static let imageWindow: Range<UInt64> = 0x4000_0000_0000 ..< 0x4000_4000_0000
    static let stackTop: UInt64 = 0x5000_0000_0000
    static let stackBytes: UInt64 = 64 * 1024
    static let channelBase: UInt64 = 0x6000_0000_0000

    static func load(_ bytes: ByteReader) throws(ProgramLoadError) -> LoadedProgram {
        let image: ELFImage
        do throws(ELFError) { image = try ELFImage(bytes, allowedRange: imageWindow) } catch { throw .badImage(error) }

        var space: AddressSpace<KernelPageTableMemory>
        do throws(PagingError) { space = try AddressSpace(memory: KernelPageTableMemory()) } catch { throw .outOfMemory }
        var owned: [(start: PhysicalAddress, count: Int)] = []
        // On failure, everything taken so far goes back.
        var loaded = false
        defer { if !loaded { release(LoadedProgram(root: space.rootPhysicalAddress, entryPoint: 0, stackTop: 0, frames: owned)) } }
        // Share the kernel's first 512 GiB (PML4 entry 0): its entries carry no user bit, so
        // the program cannot touch kernel memory, yet interrupts and system calls find the
        // kernel mapped without a CR3 switch.
        let kernelRoot = UnsafeMutablePointer<UInt64>(bitPattern: UInt(KernelAddressSpace.root))!
        let programRoot = UnsafeMutablePointer<UInt64>(bitPattern: UInt(space.rootPhysicalAddress))!
        programRoot[0] = kernelRoot[0]

        for segment in image.loadSegments {
            let start = segment.virtualAddress & ~(Page.size64 - 1)
            let end = (segment.virtualAddress + segment.memorySize + Page.size64 - 1) & ~(Page.size64 - 1)
            let pages = Int((end - start) / Page.size64)
            guard let frames = PhysicalMemory.allocate(count: pages) else { throw .outOfMemory }   // zeroed
            owned.append((frames, pages))
            let destination = (frames + Int(segment.virtualAddress - start)).pointer
            if segment.fileSize > 0, let source = bytes.slice(at: Int(segment.fileOffset), count: Int(segment.fileSize))?.baseAddress {
                destination.copyMemory(from: source, byteCount: Int(segment.fileSize))
            }
            var attributes: PageAttributes = .user
            if segment.permissions.writable { attributes.insert(.writable) }
            if !segment.permissions.executable { attributes.insert(.noExecute) }
            do throws(PagingError) {
                try space.map(virtual: start, physical: frames.rawValue, byteCount: end - start, attributes: attributes, largePages: false)
            } catch { throw .mappingFailed }
        }

        guard let stack = PhysicalMemory.allocate(count: Int(stackBytes / Page.size64)) else { throw .outOfMemory }
        owned.append((stack, Int(stackBytes / Page.size64)))
        do throws(PagingError) {
            try space.map(virtual: stackTop - stackBytes, physical: stack.rawValue, byteCount: stackBytes,
                          attributes: PageAttributes.user.union(.writable).union(.noExecute), largePages: false)
        } catch { throw .mappingFailed }
        loaded = true
        return LoadedProgram(root: space.rootPhysicalAddress, entryPoint: image.entryPoint, stackTop: stackTop - 16, frames: owned)
    }

    /// Gives back everything `program` holds: its segments' and stack's frames and its own page
    /// tables (not the kernel's, which PML4 entry 0 shares). Only once no CPU has its tables in
    /// CR3; its channel's memory is freed separately, once the network core released it.
    static func release(_ program: LoadedProgram) {
        // The idle loop may still run on these tables (a program killed while blocked).
        if read_cr3() == program.root { write_cr3(KernelAddressSpace.root) }
        for (start, count) in program.frames { PhysicalMemory.free(start, count: count) }
        let space = AddressSpace(root: program.root, memory: KernelPageTableMemory())
        for frame in space.ownTableFrames(sharing: [0]) { PhysicalMemory.free(PhysicalAddress(frame)) }
    }

    /// Maps shared memory (a channel) into the program at `channelBase`: user, read-write,
    /// no-execute. The kernel reaches the same frames through its identity map.
    static func mapChannel(_ program: inout LoadedProgram, physical: PhysicalAddress, byteCount: Int) throws(ProgramLoadError) {
        var space = AddressSpace(root: program.root, memory: KernelPageTableMemory())
        do throws(PagingError) {
            try space.map(virtual: channelBase, physical: physical.rawValue, byteCount: UInt64(byteCount),
                          attributes: PageAttributes.user.union(.writable).union(.noExecute), largePages: false)
        } catch { throw .mappingFailed }
        program.channelAddress = channelBase
    }

    /// Whether [address, address + length) lies in pages the program may read: mapped in its
    /// address space with the user bit (and writable, when the kernel is to write there). Walks
    /// its page tables, never trusts the pointer.
    static func isUserAccessible(_ program: LoadedProgram, address: UInt64, length: UInt64, writable: Bool = false) -> Bool {
        guard length > 0 else { return true }
        let (end, overflow) = address.addingReportingOverflow(length)
        guard !overflow, end <= 1 << 47 else { return false }
        let space = AddressSpace(root: program.root, memory: KernelPageTableMemory())
        var page = address & ~(Page.size64 - 1)
        while page < end {
            guard let mapping = space.translate(page), mapping.attributes.contains(.user),
                  !writable || mapping.attributes.contains(.writable) else { return false }
            page += Page.size64
        }
        return true
    }

    /// The physical address (in the kernel's identity map) behind `address` in `program`.
    static func physicalAddress(_ program: LoadedProgram, of address: UInt64) -> UInt64? {
        AddressSpace(root: program.root, memory: KernelPageTableMemory()).translate(address)?.physical
    }

    static func describe(_ error: ProgramLoadError) -> StaticString {
        switch error {
        case .badImage: "not a valid ELF program for this kernel"
        case .outOfMemory: "out of memory"
        case .mappingFailed: "its segments could not be mapped"
        }
    }
}
