// A validated PT_LOAD segment, its permissions, and an allocation-free sequence over them.
import RawBytes

/// What a segment's pages allow, from its `p_flags` (PF_R, PF_W, PF_X — ELF-64 v1.5 §8).
/// A validated segment is never both writable and executable.
public struct SegmentPermissions: Equatable {
    /// PF_R. On x86-64 every present page is readable, so the loader may ignore `false` here.
    public var readable: Bool
    /// PF_W.
    public var writable: Bool
    /// PF_X.
    public var executable: Bool

    /// Creates a permission set.
    public init(readable: Bool, writable: Bool, executable: Bool) {
        self.readable = readable
        self.writable = writable
        self.executable = executable
    }

    /// Decodes `p_flags` (whose unknown bits have already been refused).
    init(flags: UInt32) {
        readable = flags & ProgramHeader.flagRead != 0
        writable = flags & ProgramHeader.flagWrite != 0
        executable = flags & ProgramHeader.flagExecute != 0
    }
}

/// A loadable segment that passed every check of `ELFImage`: `fileSize` bytes at
/// `fileOffset` in the file are copied to `virtualAddress`, and the rest of `memorySize` up to
/// it is zero (ELF-64 v1.5 §8: the bytes past p_filesz are "defined to hold the value 0").
public struct LoadSegment: Equatable {
    /// Where the segment starts in the program's address space (`p_vaddr`).
    public var virtualAddress: UInt64
    /// Bytes the segment occupies in memory (`p_memsz`), at least `fileSize`, never 0.
    public var memorySize: UInt64
    /// Where its initialized bytes start in the file (`p_offset`).
    public var fileOffset: UInt64
    /// How many initialized bytes the file holds (`p_filesz`).
    public var fileSize: UInt64
    /// `p_align` (0 or 1: none; else a power of two to which address and offset are congruent).
    public var alignment: UInt64
    /// What the pages allow.
    public var permissions: SegmentPermissions
    /// The index of its program header, for reports.
    public var programHeaderIndex: Int

    /// The addresses the segment occupies: `virtualAddress ..< virtualAddress + memorySize`
    /// (validated not to overflow).
    public var virtualRange: Range<UInt64> { virtualAddress ..< virtualAddress + memorySize }

    /// The page-aligned addresses the segment's pages cover.
    public var pageRange: Range<UInt64> {
        ELFImage.pageRange(of: virtualAddress, byteCount: memorySize) ?? virtualAddress ..< virtualAddress
    }
}

/// The PT_LOAD segments of an `ELFImage` in program header order, decoded on the fly from the
/// file (no allocation). The file's bytes must not change after the image was validated.
public struct LoadSegmentSequence: Sequence {
    let bytes: ByteReader
    let tableOffset: Int
    let programHeaderCount: Int

    /// Walks the program header table, yielding PT_LOAD entries only.
    public struct Iterator: IteratorProtocol {
        let sequence: LoadSegmentSequence
        var index = 0

        /// The next loadable segment, or `nil` after the last.
        public mutating func next() -> LoadSegment? {
            while index < sequence.programHeaderCount {
                let current = index
                index += 1
                guard let header = ProgramHeader(sequence.bytes, tableOffset: sequence.tableOffset, index: current) else {
                    return nil
                }
                if header.type == ProgramHeader.typeLoad {
                    return LoadSegment(virtualAddress: header.virtualAddress, memorySize: header.memorySize,
                                       fileOffset: header.offset, fileSize: header.fileSize, alignment: header.alignment,
                                       permissions: SegmentPermissions(flags: header.flags), programHeaderIndex: current)
                }
            }
            return nil
        }
    }

    /// An iterator from the first program header.
    public func makeIterator() -> Iterator { Iterator(sequence: self) }
}
