// The ELF-64 file header: its field offsets and the checks that make a file loadable here.
import RawBytes

/// The fields of the ELF-64 file header (`Elf64_Ehdr`) the loader needs — ELF-64 Object File
/// Format v1.5 §3 ("File header"); all multi-byte fields little-endian once EI_DATA says so.
///
///     offset  size  field
///     0       16    e_ident: magic 7F 'E' 'L' 'F', EI_CLASS (4), EI_DATA (5), EI_VERSION (6),
///                   EI_OSABI (7), EI_ABIVERSION (8), padding
///     16      2     e_type        18  2  e_machine    20  4  e_version   24  8  e_entry
///     32      8     e_phoff       40  8  e_shoff      48  4  e_flags     52  2  e_ehsize
///     54      2     e_phentsize   56  2  e_phnum      58  2  e_shentsize 60  2  e_shnum
///     62      2     e_shstrndx
struct FileHeader {
    /// `sizeof(Elf64_Ehdr)`.
    static let size = 64
    /// `sizeof(Elf64_Phdr)` — ELF-64 v1.5 §8.
    static let programHeaderEntrySize = 56
    /// `sizeof(Elf64_Shdr)` — ELF-64 v1.5 §4.
    static let sectionHeaderEntrySize = 64

    /// e_ident values — ELF-64 v1.5 §3.
    static let classELF64: UInt8 = 2
    static let dataLittleEndian: UInt8 = 1
    static let versionCurrent: UInt8 = 1
    static let operatingSystemABISystemV: UInt8 = 0
    /// ELFOSABI_GNU: ld.lld marks its output so when an input uses a GNU extension such as
    /// SHF_GNU_RETAIN, which Swift's objects do; the loader needs none of those extensions.
    static let operatingSystemABIGNU: UInt8 = 3
    /// e_type ET_EXEC; ET_DYN is 3.
    static let typeExecutable: UInt16 = 2
    /// e_machine EM_X86_64 — System V ABI AMD64 supplement §4.1.1.
    static let machineX86_64: UInt16 = 62

    var entryPoint: UInt64
    var programHeaderOffset: UInt64
    var programHeaderCount: Int

    /// Reads and checks the header of `bytes`, in the order a reader of the spec would: the
    /// identification first (so a 32-bit or big-endian file is named as such rather than
    /// failing on a later field read with the wrong layout), then the typed fields.
    init(_ bytes: ByteReader, maximumProgramHeaderCount: Int) throws(ELFError) {
        guard bytes.count >= FileHeader.size else { throw .truncatedFileHeader(byteCount: bytes.count) }
        // Every read below is inside the first 64 bytes, which were just checked: `?? 0` never applies.
        guard bytes.matches("\u{7F}ELF") else { throw .badMagic }
        let fileClass = bytes.u8(at: 4) ?? 0
        guard fileClass == FileHeader.classELF64 else { throw .unsupportedClass(fileClass) }
        let encoding = bytes.u8(at: 5) ?? 0
        guard encoding == FileHeader.dataLittleEndian else { throw .unsupportedDataEncoding(encoding) }
        let identificationVersion = bytes.u8(at: 6) ?? 0
        guard identificationVersion == FileHeader.versionCurrent else {
            throw .unsupportedVersion(UInt32(identificationVersion))
        }
        let operatingSystemABI = bytes.u8(at: 7) ?? 0
        guard operatingSystemABI == FileHeader.operatingSystemABISystemV
                || operatingSystemABI == FileHeader.operatingSystemABIGNU else {
            throw .unsupportedOperatingSystemABI(operatingSystemABI)
        }

        let type = bytes.u16(at: 16) ?? 0
        guard type == FileHeader.typeExecutable else { throw .unsupportedType(type) }
        let machine = bytes.u16(at: 18) ?? 0
        guard machine == FileHeader.machineX86_64 else { throw .unsupportedMachine(machine) }
        let version = bytes.u32(at: 20) ?? 0
        guard version == UInt32(FileHeader.versionCurrent) else { throw .unsupportedVersion(version) }
        let headerSize = bytes.u16(at: 52) ?? 0
        guard headerSize == UInt16(FileHeader.size) else { throw .badFileHeaderSize(headerSize) }
        let programHeaderEntrySize = bytes.u16(at: 54) ?? 0
        guard programHeaderEntrySize == UInt16(FileHeader.programHeaderEntrySize) else {
            throw .badProgramHeaderEntrySize(programHeaderEntrySize)
        }
        // Sections are never used by the loader, but a header that lies about their size is
        // not one a trustworthy linker wrote.
        let sectionHeaderEntrySize = bytes.u16(at: 58) ?? 0
        let sectionHeaderCount = bytes.u16(at: 60) ?? 0
        guard sectionHeaderCount == 0 || sectionHeaderEntrySize == UInt16(FileHeader.sectionHeaderEntrySize) else {
            throw .badSectionHeaderEntrySize(sectionHeaderEntrySize)
        }

        let programHeaderCount = Int(bytes.u16(at: 56) ?? 0)
        guard programHeaderCount > 0 else { throw .noProgramHeaders }
        guard programHeaderCount <= maximumProgramHeaderCount else { throw .tooManyProgramHeaders(programHeaderCount) }
        let programHeaderOffset = bytes.u64(at: 32) ?? 0
        // The table must lie in the file; the count is at most 0xFFFF so the product cannot
        // overflow, and the offset is compared before it is converted to Int.
        let tableBytes = programHeaderCount * FileHeader.programHeaderEntrySize
        guard programHeaderOffset <= UInt64(bytes.count),
              bytes.contains(offset: Int(programHeaderOffset), width: tableBytes) else {
            throw .programHeaderTableOutsideFile(offset: programHeaderOffset)
        }

        self.entryPoint = bytes.u64(at: 24) ?? 0
        self.programHeaderOffset = programHeaderOffset
        self.programHeaderCount = programHeaderCount
    }
}
