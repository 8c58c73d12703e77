// Every reason an ELF image is refused, one case per rule of the validator.

/// Why `ELFImage` refused an image. Each case names the rule that failed and, where it helps a
/// report, the offending value or the index of the program header (0-based, in file order).
public enum ELFError: Error, Equatable {
    /// The file is shorter than the 64-byte ELF-64 file header (ELF-64 v1.5 §3).
    case truncatedFileHeader(byteCount: Int)
    /// `e_ident[EI_MAG0..3]` is not 0x7F 'E' 'L' 'F' (ELF-64 v1.5 §3).
    case badMagic
    /// `e_ident[EI_CLASS]` is not ELFCLASS64 (2): a 32-bit or unknown class (ELF-64 v1.5 §3).
    case unsupportedClass(UInt8)
    /// `e_ident[EI_DATA]` is not ELFDATA2LSB (1) (ELF-64 v1.5 §3).
    case unsupportedDataEncoding(UInt8)
    /// `e_ident[EI_VERSION]` or `e_version` is not EV_CURRENT (1) (ELF-64 v1.5 §3).
    case unsupportedVersion(UInt32)
    /// `e_ident[EI_OSABI]` is neither ELFOSABI_SYSV (0) nor ELFOSABI_GNU (3, which ld.lld writes
    /// for Swift's objects) (ELF-64 v1.5 §3; System V gABI "ELF Header").
    case unsupportedOperatingSystemABI(UInt8)
    /// `e_type` is not ET_EXEC (2). ET_DYN (3), which a position-independent executable uses,
    /// is refused: the loader does not relocate (ELF-64 v1.5 §3).
    case unsupportedType(UInt16)
    /// `e_machine` is not EM_X86_64 (62) (System V ABI AMD64 supplement §4.1.1).
    case unsupportedMachine(UInt16)
    /// `e_ehsize` is not 64 (ELF-64 v1.5 §3).
    case badFileHeaderSize(UInt16)
    /// `e_phentsize` is not 56, the size of `Elf64_Phdr` (ELF-64 v1.5 §8).
    case badProgramHeaderEntrySize(UInt16)
    /// `e_shnum` is non-zero but `e_shentsize` is not 64, the size of `Elf64_Shdr` (ELF-64 v1.5 §4).
    case badSectionHeaderEntrySize(UInt16)
    /// `e_phnum` is zero: an executable without program headers cannot be loaded.
    case noProgramHeaders
    /// More program headers than `ELFImage.maximumProgramHeaderCount` (this includes
    /// PN_XNUM, 0xFFFF, which would move the real count into section header 0).
    case tooManyProgramHeaders(Int)
    /// The program header table (`e_phoff`, `e_phnum` × 56 bytes) is not entirely inside the file.
    case programHeaderTableOutsideFile(offset: UInt64)
    /// More PT_LOAD segments than `ELFImage.maximumLoadSegmentCount`.
    case tooManyLoadSegments(Int)
    /// A segment type the loader cannot honour: PT_DYNAMIC, PT_INTERP, PT_SHLIB (dynamic
    /// linking) or PT_TLS (thread-local storage) (ELF-64 v1.5 §8).
    case unsupportedSegmentType(index: Int, type: UInt32)
    /// `p_flags` of a PT_LOAD has bits other than PF_R, PF_W, PF_X (ELF-64 v1.5 §8).
    case unknownSegmentFlags(index: Int, flags: UInt32)
    /// A PT_LOAD grants no access at all (`p_flags` is 0), which x86-64 paging cannot express.
    case inaccessibleSegment(index: Int)
    /// A PT_LOAD is both writable and executable: refused to keep W^X.
    case writableAndExecutableSegment(index: Int)
    /// A PT_LOAD occupies no memory (`p_memsz` is 0).
    case emptySegment(index: Int)
    /// `p_filesz` is greater than `p_memsz` (ELF-64 v1.5 §8: "p_filesz ... may not be larger").
    case fileSizeExceedsMemorySize(index: Int)
    /// `p_offset` + `p_filesz` overflows or ends beyond the file.
    case segmentOutsideFile(index: Int)
    /// `p_align` is neither 0, 1 nor a power of two (ELF-64 v1.5 §8).
    case badSegmentAlignment(index: Int, alignment: UInt64)
    /// `p_vaddr` and `p_offset` are not congruent modulo `p_align` (ELF-64 v1.5 §8) or modulo the
    /// 4 KiB page size (System V ABI AMD64 supplement §5.1, "Program Loading").
    case misalignedSegment(index: Int)
    /// `p_vaddr` + `p_memsz` overflows, or the pages it covers leave the caller's allowed
    /// window or the lower canonical half (below 2^47).
    case segmentOutsideAllowedRange(index: Int)
    /// Two PT_LOAD segments share a page (permissions are per page, so sharing would merge them).
    case overlappingSegments(index: Int, otherIndex: Int)
    /// `e_entry` is not inside the file-backed part of an executable PT_LOAD.
    case entryPointNotExecutable(UInt64)

    /// A short human-readable explanation, for logs that cannot format the associated values.
    public var summary: StaticString {
        switch self {
        case .truncatedFileHeader: "file shorter than the ELF-64 header"
        case .badMagic: "not an ELF file (bad magic)"
        case .unsupportedClass: "not a 64-bit ELF file"
        case .unsupportedDataEncoding: "not little-endian"
        case .unsupportedVersion: "unknown ELF version"
        case .unsupportedOperatingSystemABI: "unknown OS/ABI"
        case .unsupportedType: "not a static executable (ET_EXEC)"
        case .unsupportedMachine: "not an x86-64 executable"
        case .badFileHeaderSize: "bad ELF header size"
        case .badProgramHeaderEntrySize: "bad program header entry size"
        case .badSectionHeaderEntrySize: "bad section header entry size"
        case .noProgramHeaders: "no program headers"
        case .tooManyProgramHeaders: "too many program headers"
        case .programHeaderTableOutsideFile: "program header table outside the file"
        case .tooManyLoadSegments: "too many loadable segments"
        case .unsupportedSegmentType: "dynamic linking or TLS segment"
        case .unknownSegmentFlags: "unknown segment flags"
        case .inaccessibleSegment: "segment with no access"
        case .writableAndExecutableSegment: "segment both writable and executable"
        case .emptySegment: "empty loadable segment"
        case .fileSizeExceedsMemorySize: "segment file size exceeds its memory size"
        case .segmentOutsideFile: "segment contents outside the file"
        case .badSegmentAlignment: "segment alignment not a power of two"
        case .misalignedSegment: "segment address and offset not congruent"
        case .segmentOutsideAllowedRange: "segment outside the allowed address range"
        case .overlappingSegments: "segments share a page"
        case .entryPointNotExecutable: "entry point not in an executable segment"
        }
    }
}
