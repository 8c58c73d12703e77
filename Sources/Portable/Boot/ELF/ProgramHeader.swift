// One ELF-64 program header (Elf64_Phdr): its layout, segment types and permission flags.
import RawBytes

/// A program header table entry — ELF-64 Object File Format v1.5 §8 ("Program header table").
///
///     offset  size  field
///     0       4     p_type     4   4  p_flags
///     8       8     p_offset   16  8  p_vaddr   24  8  p_paddr (ignored)
///     32      8     p_filesz   40  8  p_memsz   48  8  p_align
struct ProgramHeader {
    /// Segment types (p_type) — ELF-64 v1.5 §8; PT_TLS from the System V gABI ("Program Header").
    static let typeNull: UInt32 = 0
    static let typeLoad: UInt32 = 1
    static let typeDynamic: UInt32 = 2
    static let typeInterpreter: UInt32 = 3
    static let typeNote: UInt32 = 4
    static let typeSharedLibrary: UInt32 = 5
    static let typeProgramHeaderTable: UInt32 = 6
    static let typeThreadLocalStorage: UInt32 = 7

    /// Segment attributes (p_flags) — ELF-64 v1.5 §8.
    static let flagExecute: UInt32 = 0x1
    static let flagWrite: UInt32 = 0x2
    static let flagRead: UInt32 = 0x4

    var type: UInt32
    var flags: UInt32
    var offset: UInt64
    var virtualAddress: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
    var alignment: UInt64

    /// Entry `index` of the table at `tableOffset`, or `nil` if any byte of it is outside
    /// `bytes` (never, once `FileHeader` has checked the table; the reads stay checked anyway).
    init?(_ bytes: ByteReader, tableOffset: Int, index: Int) {
        let base = tableOffset + index * FileHeader.programHeaderEntrySize
        guard bytes.contains(offset: base, width: FileHeader.programHeaderEntrySize),
              let type = bytes.u32(at: base), let flags = bytes.u32(at: base + 4),
              let offset = bytes.u64(at: base + 8), let virtualAddress = bytes.u64(at: base + 16),
              let fileSize = bytes.u64(at: base + 32), let memorySize = bytes.u64(at: base + 40),
              let alignment = bytes.u64(at: base + 48) else { return nil }
        self.type = type
        self.flags = flags
        self.offset = offset
        self.virtualAddress = virtualAddress
        self.fileSize = fileSize
        self.memorySize = memorySize
        self.alignment = alignment
    }

    /// Whether the loader must refuse an image with this segment type: dynamic linking
    /// (PT_DYNAMIC, PT_INTERP), the reserved PT_SHLIB, and thread-local storage (no TLS
    /// block is set up for programs). Other types (PT_NULL, PT_NOTE, PT_PHDR, PT_GNU_STACK,
    /// PT_GNU_RELRO, ...) carry nothing the loader needs and are ignored.
    var isUnsupported: Bool {
        type == ProgramHeader.typeDynamic || type == ProgramHeader.typeInterpreter
            || type == ProgramHeader.typeSharedLibrary || type == ProgramHeader.typeThreadLocalStorage
    }
}
