// A validated static x86-64 ELF executable: the checks a kernel makes before loading one.
import Paging
import RawBytes

/// An ELF-64 executable that has passed every check needed to load it into a user address
/// space without trusting its producer (ELF-64 Object File Format v1.5; System V ABI AMD64
/// supplement for the machine and page size):
///
/// - the identification: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV or _GNU;
/// - the header: ET_EXEC (static, not position-independent), EM_X86_64, header and entry sizes,
///   the program header table inside the file and at most `maximumProgramHeaderCount` entries;
/// - no PT_DYNAMIC, PT_INTERP, PT_SHLIB or PT_TLS segment;
/// - each PT_LOAD: known flags, some access, never writable and executable at once, non-empty,
///   `p_filesz <= p_memsz`, file bytes inside the file, `p_align` a power of two with
///   `p_vaddr ≡ p_offset` modulo it and modulo the page size, every page it touches inside
///   `allowedRange` and below 2^47, and no page shared with another PT_LOAD;
/// - the entry point inside the file-backed part of an executable PT_LOAD.
///
/// Every sum is overflow-checked and every read bounds-checked by `ByteReader`. Nothing is
/// allocated: the segments are decoded again from the file by `loadSegments` (so the file's
/// bytes must stay unchanged while the image is in use — copy an untrusted buffer first if
/// anyone else can write it).
public struct ELFImage {
    /// Addresses at and above this are not in the lower canonical half (and Swift objects must
    /// stay below it: the runtime uses the upper pointer bits).
    public static let lowerHalfLimit: UInt64 = 1 << 47
    /// The most program headers accepted; linkers emit fewer than a dozen, and the bound keeps
    /// the pairwise overlap check cheap.
    public static let maximumProgramHeaderCount = 64
    /// The most PT_LOAD segments accepted.
    public static let maximumLoadSegmentCount = 16

    /// The file the image was validated in.
    public let bytes: ByteReader
    /// Where the program starts (`e_entry`): inside an executable segment.
    public let entryPoint: UInt64
    /// How many PT_LOAD segments `loadSegments` yields (at least 1).
    public let loadSegmentCount: Int
    /// The page-aligned addresses from the lowest segment page to the end of the highest one.
    public let pageRange: Range<UInt64>
    let programHeaderOffset: Int
    let programHeaderCount: Int

    /// Validates `bytes` as an executable whose segments must lie in `allowedRange` (which is
    /// further limited to the lower half, below 2^47). Throws the first rule that fails.
    public init(_ bytes: ByteReader, allowedRange: Range<UInt64>) throws(ELFError) {
        let header = try FileHeader(bytes, maximumProgramHeaderCount: ELFImage.maximumProgramHeaderCount)
        let tableOffset = Int(header.programHeaderOffset)   // checked against bytes.count
        let windowEnd = min(allowedRange.upperBound, ELFImage.lowerHalfLimit)
        let window = min(allowedRange.lowerBound, windowEnd) ..< windowEnd

        var loadCount = 0
        var lowest = UInt64.max, highest: UInt64 = 0
        var entryIsExecutable = false
        for index in 0..<header.programHeaderCount {
            guard let programHeader = ProgramHeader(bytes, tableOffset: tableOffset, index: index) else {
                throw .programHeaderTableOutsideFile(offset: header.programHeaderOffset)
            }
            if programHeader.isUnsupported {
                throw .unsupportedSegmentType(index: index, type: programHeader.type)
            }
            guard programHeader.type == ProgramHeader.typeLoad else { continue }
            loadCount += 1
            guard loadCount <= ELFImage.maximumLoadSegmentCount else { throw .tooManyLoadSegments(loadCount) }

            let pages = try ELFImage.validateLoad(programHeader, index: index, fileSize: bytes.count, window: window)
            // Permissions are per page: two segments on one page could not both keep theirs.
            for earlierIndex in 0..<index {
                guard let earlier = ProgramHeader(bytes, tableOffset: tableOffset, index: earlierIndex),
                      earlier.type == ProgramHeader.typeLoad,
                      let earlierPages = ELFImage.pageRange(of: earlier.virtualAddress, byteCount: earlier.memorySize)
                else { continue }
                if earlierPages.overlaps(pages) { throw .overlappingSegments(index: index, otherIndex: earlierIndex) }
            }
            lowest = min(lowest, pages.lowerBound)
            highest = max(highest, pages.upperBound)
            // `virtualAddress + fileSize` cannot overflow: it is at most the validated end.
            if programHeader.flags & ProgramHeader.flagExecute != 0,
               header.entryPoint >= programHeader.virtualAddress,
               header.entryPoint < programHeader.virtualAddress + programHeader.fileSize {
                entryIsExecutable = true
            }
        }
        guard entryIsExecutable else { throw .entryPointNotExecutable(header.entryPoint) }

        self.bytes = bytes
        self.entryPoint = header.entryPoint
        self.loadSegmentCount = loadCount
        self.pageRange = lowest ..< highest
        self.programHeaderOffset = tableOffset
        self.programHeaderCount = header.programHeaderCount
    }

    /// The PT_LOAD segments, in program header order.
    public var loadSegments: LoadSegmentSequence {
        LoadSegmentSequence(bytes: bytes, tableOffset: programHeaderOffset, programHeaderCount: programHeaderCount)
    }

    /// The initialized bytes of `segment` in the file (`fileSize` bytes at `fileOffset`).
    public func contents(of segment: LoadSegment) -> ByteReader {
        // Validated to lie inside the file, so the conversions and the slice cannot fail.
        bytes.slice(at: Int(segment.fileOffset), count: Int(segment.fileSize)) ?? ByteReader()
    }

    /// The page-aligned range covering `byteCount` bytes at `address`, or `nil` when the end,
    /// or its rounding up to a page, overflows.
    static func pageRange(of address: UInt64, byteCount: UInt64) -> Range<UInt64>? {
        let (end, overflow) = address.addingReportingOverflow(byteCount)
        guard !overflow, end <= UInt64.max - (Page.size64 - 1) else { return nil }
        // `end + (Page.size64 - 1)`, grouped: the guard allows exactly that much, and `end + Page.size64`
        // first would overflow for an end in the last page (found by the ELF fuzz).
        return (address & ~(Page.size64 - 1)) ..< ((end + (Page.size64 - 1)) & ~(Page.size64 - 1))
    }

    /// Checks one PT_LOAD on its own and returns the pages it covers.
    private static func validateLoad(_ header: ProgramHeader, index: Int, fileSize: Int,
                                     window: Range<UInt64>) throws(ELFError) -> Range<UInt64> {
        let known = ProgramHeader.flagRead | ProgramHeader.flagWrite | ProgramHeader.flagExecute
        guard header.flags & ~known == 0 else { throw .unknownSegmentFlags(index: index, flags: header.flags) }
        guard header.flags != 0 else { throw .inaccessibleSegment(index: index) }
        let writeAndExecute = ProgramHeader.flagWrite | ProgramHeader.flagExecute
        guard header.flags & writeAndExecute != writeAndExecute else { throw .writableAndExecutableSegment(index: index) }

        guard header.memorySize > 0 else { throw .emptySegment(index: index) }
        guard header.fileSize <= header.memorySize else { throw .fileSizeExceedsMemorySize(index: index) }
        let (fileEnd, fileOverflow) = header.offset.addingReportingOverflow(header.fileSize)
        guard !fileOverflow, fileEnd <= UInt64(fileSize) else { throw .segmentOutsideFile(index: index) }

        // ELF-64 v1.5 §8: 0 and 1 mean no alignment; otherwise a power of two with
        // p_vaddr ≡ p_offset (mod p_align). AMD64 supplement §5.1 asks the same modulo the page
        // size, so a loader that maps file pages directly would also work.
        let alignment = header.alignment
        guard alignment <= 1 || alignment & (alignment - 1) == 0 else {
            throw .badSegmentAlignment(index: index, alignment: alignment)
        }
        if alignment > 1, header.virtualAddress % alignment != header.offset % alignment {
            throw .misalignedSegment(index: index)
        }
        guard header.virtualAddress % Page.size64 == header.offset % Page.size64 else { throw .misalignedSegment(index: index) }

        guard let pages = pageRange(of: header.virtualAddress, byteCount: header.memorySize),
              pages.lowerBound >= window.lowerBound, pages.upperBound <= window.upperBound else {
            throw .segmentOutsideAllowedRange(index: index)
        }
        return pages
    }
}
