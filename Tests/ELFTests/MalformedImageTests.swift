// The ELF validator against hand-made images that each break one rule.

import ELF
import TestSupport
import XCTest

final class MalformedImageTests: XCTestCase {
    let base = ELFImageBuilder.base

    func testTheBuilderImageIsValid() throws {
        let buffer = GuardedBuffer(ELFImageBuilder().bytes())
        defer { withExtendedLifetime(buffer) {} }
        let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
        XCTAssertEqual(image.entryPoint, base + 0x10)
        XCTAssertEqual(segments(of: image).map(\.virtualAddress), [base, base + 0x1000, base + 0x2000])
        XCTAssertEqual(segments(of: image).map(\.programHeaderIndex), [0, 1, 2])
        XCTAssertEqual(image.pageRange, base ..< base + 0x7000)
        let data = segments(of: image)[2]
        XCTAssertEqual(data.virtualRange, base + 0x2000 ..< base + 0x7000)
        XCTAssertEqual(data.pageRange, base + 0x2000 ..< base + 0x7000)
        XCTAssertEqual(bytesOf(image.contents(of: data)), Array(ELFImageBuilder().bytes()[0x3000..<0x3080]))
    }

    func testTruncatedHeader() {
        for length in [0, 1, 4, 16, 63] {
            XCTAssertEqual(validationError(Array(ELFImageBuilder().bytes().prefix(length))),
                           .truncatedFileHeader(byteCount: length))
        }
    }

    func testBadMagic() {
        for index in 0..<4 {
            var builder = ELFImageBuilder()
            builder.identification[index] ^= 0x20
            XCTAssertEqual(validationError(builder.bytes()), .badMagic)
        }
    }

    func testIdentification() {
        func withIdentification(_ index: Int, _ value: UInt8) -> ELFError? {
            var builder = ELFImageBuilder()
            builder.identification[index] = value
            return validationError(builder.bytes())
        }
        XCTAssertEqual(withIdentification(4, 1), .unsupportedClass(1))           // ELFCLASS32
        XCTAssertEqual(withIdentification(4, 0), .unsupportedClass(0))
        XCTAssertEqual(withIdentification(5, 2), .unsupportedDataEncoding(2))    // big-endian
        XCTAssertEqual(withIdentification(6, 0), .unsupportedVersion(0))
        XCTAssertEqual(withIdentification(7, 9), .unsupportedOperatingSystemABI(9))  // FreeBSD
        XCTAssertNil(withIdentification(7, 3))                                     // GNU, as lld writes
        XCTAssertNil(withIdentification(8, 7))                                     // ABI version: ignored
    }

    func testHeaderFields() {
        var builder = ELFImageBuilder()
        builder.type = 3                                                            // ET_DYN: PIE
        XCTAssertEqual(validationError(builder.bytes()), .unsupportedType(3))
        builder.type = 1                                                            // ET_REL
        XCTAssertEqual(validationError(builder.bytes()), .unsupportedType(1))

        builder = ELFImageBuilder()
        builder.machine = 3                                                         // EM_386
        XCTAssertEqual(validationError(builder.bytes()), .unsupportedMachine(3))
        builder.machine = 183                                                       // EM_AARCH64
        XCTAssertEqual(validationError(builder.bytes()), .unsupportedMachine(183))

        builder = ELFImageBuilder()
        builder.version = 2
        XCTAssertEqual(validationError(builder.bytes()), .unsupportedVersion(2))

        builder = ELFImageBuilder()
        builder.headerSize = 52                                                     // Elf32_Ehdr
        XCTAssertEqual(validationError(builder.bytes()), .badFileHeaderSize(52))

        builder = ELFImageBuilder()
        builder.programHeaderEntrySize = 32                                         // Elf32_Phdr
        XCTAssertEqual(validationError(builder.bytes()), .badProgramHeaderEntrySize(32))

        builder = ELFImageBuilder()
        builder.sectionHeaderCount = 1
        builder.sectionHeaderEntrySize = 40                                         // Elf32_Shdr
        XCTAssertEqual(validationError(builder.bytes()), .badSectionHeaderEntrySize(40))
        builder.sectionHeaderCount = 0                                              // no sections: size unused
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testProgramHeaderTableBounds() {
        var builder = ELFImageBuilder()
        builder.programHeaderCount = 0
        XCTAssertEqual(validationError(builder.bytes()), .noProgramHeaders)
        builder.programHeaderCount = 0xFFFF                                         // PN_XNUM
        XCTAssertEqual(validationError(builder.bytes()), .tooManyProgramHeaders(0xFFFF))
        builder.programHeaderCount = 65
        XCTAssertEqual(validationError(builder.bytes()), .tooManyProgramHeaders(65))
        builder.programHeaderCount = 60                                             // table longer than the file
        builder.programHeaderOffset = 0x2800
        XCTAssertEqual(validationError(builder.bytes()), .programHeaderTableOutsideFile(offset: 0x2800))

        for offset: UInt64 in [0x3080, 0x3080 - 56 * 3 + 1, UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max, UInt64.max - 55] {
            builder = ELFImageBuilder()
            builder.programHeaderOffset = offset
            XCTAssertEqual(validationError(builder.bytes()), .programHeaderTableOutsideFile(offset: offset), "\(offset)")
        }
        // The table may sit anywhere in the file, even unaligned at its end.
        builder = ELFImageBuilder()
        builder.programHeaderOffset = 0x3080 - 56 * 3
        XCTAssertNil(validationError(builder.bytes()))
        builder.programHeaderOffset = 0x1FF1
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testSegmentTypes() {
        for type: UInt32 in [2, 3, 5, 7] {                          // DYNAMIC, INTERP, SHLIB, TLS
            var builder = ELFImageBuilder()
            builder.programHeaders.append(ProgramHeaderFields(type: type, flags: 4))
            XCTAssertEqual(validationError(builder.bytes()), .unsupportedSegmentType(index: 3, type: type))
        }
        // NULL, NOTE, PHDR, GNU_EH_FRAME, GNU_STACK, GNU_RELRO: ignored, whatever their fields.
        var builder = ELFImageBuilder()
        for type: UInt32 in [0, 4, 6, 0x6474_E550, 0x6474_E551, 0x6474_E552] {
            builder.programHeaders.insert(ProgramHeaderFields(type: type, flags: 7, offset: UInt64.max, virtualAddress: UInt64.max,
                                                              fileSize: UInt64.max, memorySize: 0, alignment: 3), at: 1)
        }
        let buffer = GuardedBuffer(builder.bytes())
        defer { withExtendedLifetime(buffer) {} }
        let image = try? ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
        XCTAssertEqual(image?.loadSegmentCount, 3)
        XCTAssertEqual(image.map(segments(of:))?.map(\.programHeaderIndex), [0, 7, 8])
    }

    func testSegmentFlags() {
        func withTextFlags(_ flags: UInt32) -> ELFError? {
            var builder = ELFImageBuilder()
            builder.programHeaders[0].flags = flags
            return validationError(builder.bytes())
        }
        XCTAssertEqual(withTextFlags(7), .writableAndExecutableSegment(index: 0))
        XCTAssertEqual(withTextFlags(3), .writableAndExecutableSegment(index: 0))
        XCTAssertEqual(withTextFlags(0), .inaccessibleSegment(index: 0))
        XCTAssertEqual(withTextFlags(0x8), .unknownSegmentFlags(index: 0, flags: 0x8))
        XCTAssertEqual(withTextFlags(0x0010_0005), .unknownSegmentFlags(index: 0, flags: 0x0010_0005))   // PF_MASKOS
        XCTAssertEqual(withTextFlags(0x8000_0005), .unknownSegmentFlags(index: 0, flags: 0x8000_0005))   // PF_MASKPROC
        XCTAssertNil(withTextFlags(1))                              // execute-only: allowed (reads implied on x86)
        let buffer = GuardedBuffer(ELFImageBuilder().bytes())
        defer { withExtendedLifetime(buffer) {} }
        let image = try? ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
        XCTAssertEqual(image.map(segments(of:))?.map(\.permissions), [
            SegmentPermissions(readable: true, writable: false, executable: true),
            SegmentPermissions(readable: true, writable: false, executable: false),
            SegmentPermissions(readable: true, writable: true, executable: false),
        ])
    }

    func testSizes() {
        var builder = ELFImageBuilder()
        builder.programHeaders[1].memorySize = 0
        builder.programHeaders[1].fileSize = 0
        XCTAssertEqual(validationError(builder.bytes()), .emptySegment(index: 1))

        builder = ELFImageBuilder()
        builder.programHeaders[2].fileSize = 0x5001
        XCTAssertEqual(validationError(builder.bytes()), .fileSizeExceedsMemorySize(index: 2))

        builder = ELFImageBuilder()
        builder.programHeaders[2].fileSize = 0x81                  // one byte past the end of the file
        XCTAssertEqual(validationError(builder.bytes()), .segmentOutsideFile(index: 2))

        // Offset overflow: offset + filesz wraps around to a small number.
        for offset: UInt64 in [UInt64.max, UInt64.max - 0x7F, UInt64(Int.max) + 0x1000, 0x4000] {
            builder = ELFImageBuilder()
            builder.programHeaders[2].offset = offset
            builder.programHeaders[2].alignment = 0
            builder.programHeaders[2].virtualAddress = base + 0x2000 + (offset % 4096)
            XCTAssertEqual(validationError(builder.bytes()), .segmentOutsideFile(index: 2), "\(offset)")
        }
        // A bss-only segment needs no file bytes.
        builder = ELFImageBuilder()
        builder.programHeaders[2].fileSize = 0
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testAlignment() {
        var builder = ELFImageBuilder()
        builder.programHeaders[1].alignment = 0x1800
        XCTAssertEqual(validationError(builder.bytes()), .badSegmentAlignment(index: 1, alignment: 0x1800))

        builder = ELFImageBuilder()
        builder.programHeaders[1].offset = 0x2008                  // vaddr 0x...1000: not congruent
        XCTAssertEqual(validationError(builder.bytes()), .misalignedSegment(index: 1))

        builder = ELFImageBuilder()
        builder.programHeaders[1].alignment = 0x20_0000            // page-congruent, not 2 MiB-congruent
        XCTAssertEqual(validationError(builder.bytes()), .misalignedSegment(index: 1))

        builder = ELFImageBuilder()                                // no p_align: still page-congruent
        builder.programHeaders[1].alignment = 1
        builder.programHeaders[1].offset = 0x2010
        XCTAssertEqual(validationError(builder.bytes()), .misalignedSegment(index: 1))
        builder.programHeaders[1].virtualAddress = base + 0x1010
        XCTAssertNil(validationError(builder.bytes()))
        builder.programHeaders[1].alignment = 0
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testAddressWindow() {
        func withData(at address: UInt64, memorySize: UInt64 = 0x5000, window: Range<UInt64> = ELFImageBuilder.window) -> ELFError? {
            var builder = ELFImageBuilder()
            builder.programHeaders[2].virtualAddress = address
            builder.programHeaders[2].memorySize = memorySize
            return validationError(builder.bytes(), allowedRange: window)
        }
        XCTAssertEqual(withData(at: base - 0x1000), .segmentOutsideAllowedRange(index: 2))        // below
        XCTAssertEqual(withData(at: 0x4000_3FFF_F000, memorySize: 0x1001), .segmentOutsideAllowedRange(index: 2))  // past the end
        XCTAssertNil(withData(at: 0x4000_3FFF_F000, memorySize: 0x1000))                           // exactly to the end
        XCTAssertEqual(withData(at: 0x4000_3FFF_F000, memorySize: UInt64.max), .segmentOutsideAllowedRange(index: 2))  // overflow
        XCTAssertEqual(withData(at: UInt64.max - 0xFFF, memorySize: 0x100, window: 0 ..< UInt64.max),
                       .segmentOutsideAllowedRange(index: 2))                                      // page round-up overflow
        XCTAssertEqual(withData(at: 0xFFFF_8000_0000_0000, window: 0 ..< UInt64.max), .segmentOutsideAllowedRange(index: 2))  // upper half
        XCTAssertEqual(withData(at: (1 << 47) - 0x1000, memorySize: 0x1001, window: 0 ..< UInt64.max),
                       .segmentOutsideAllowedRange(index: 2))                                      // crosses 2^47
        XCTAssertNil(withData(at: (1 << 47) - 0x5000, window: 0 ..< UInt64.max))
        // Windows that do not begin or end on a page: every page a segment touches must be inside.
        XCTAssertEqual(withData(at: base + 0x2000, window: base ..< base + 0x6800), .segmentOutsideAllowedRange(index: 2))
        var builder = ELFImageBuilder()
        builder.programHeaders[0].virtualAddress = base + 0x10
        builder.programHeaders[0].offset = 0x1010
        builder.entryPoint = base + 0x20
        XCTAssertEqual(validationError(builder.bytes(), allowedRange: base + 0x10 ..< base + 0x1000_0000),
                       .segmentOutsideAllowedRange(index: 0))
    }

    func testOverlappingSegments() {
        var builder = ELFImageBuilder()
        builder.programHeaders[2].virtualAddress = base + 0x1000   // the rodata's page
        XCTAssertEqual(validationError(builder.bytes()), .overlappingSegments(index: 2, otherIndex: 1))

        builder = ELFImageBuilder()                                // same page, different bytes
        builder.programHeaders[1].virtualAddress = base + 0x800
        builder.programHeaders[1].offset = 0x2800
        XCTAssertEqual(validationError(builder.bytes()), .overlappingSegments(index: 1, otherIndex: 0))

        builder = ELFImageBuilder()                                // the data's bss reaches a later text
        builder.programHeaders.append(ProgramHeaderFields(offset: 0x1000, virtualAddress: base + 0x6000))
        XCTAssertEqual(validationError(builder.bytes()), .overlappingSegments(index: 3, otherIndex: 2))

        builder = ELFImageBuilder()                                // out of address order but apart: fine
        builder.programHeaders.swapAt(0, 2)
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testEntryPoint() {
        func withEntry(_ entry: UInt64, _ change: (inout ELFImageBuilder) -> Void = { _ in }) -> ELFError? {
            var builder = ELFImageBuilder()
            builder.entryPoint = entry
            change(&builder)
            return validationError(builder.bytes())
        }
        XCTAssertNil(withEntry(base))
        XCTAssertNil(withEntry(base + 0xFF))
        XCTAssertEqual(withEntry(base + 0x100), .entryPointNotExecutable(base + 0x100))              // just past the text
        XCTAssertEqual(withEntry(base + 0x1000), .entryPointNotExecutable(base + 0x1000))            // rodata
        XCTAssertEqual(withEntry(base + 0x2010), .entryPointNotExecutable(base + 0x2010))            // data
        XCTAssertEqual(withEntry(0), .entryPointNotExecutable(0))
        XCTAssertEqual(withEntry(UInt64.max), .entryPointNotExecutable(UInt64.max))
        // In the zero-filled tail of an executable segment: no code there.
        XCTAssertEqual(withEntry(base + 0x180) { $0.programHeaders[0].memorySize = 0x200 }, .entryPointNotExecutable(base + 0x180))
        // No executable segment at all.
        XCTAssertEqual(withEntry(base) { $0.programHeaders[0].flags = 4 }, .entryPointNotExecutable(base))
    }

    func testLoadSegmentLimit() {
        var builder = ELFImageBuilder()
        builder.programHeaders = (0..<17).map { index in
            ProgramHeaderFields(flags: 4, offset: 0x1000, virtualAddress: base + UInt64(index) * 0x1000, fileSize: 0x100, memorySize: 0x100)
        }
        builder.programHeaders[0].flags = 5
        XCTAssertEqual(validationError(builder.bytes()), .tooManyLoadSegments(17))
        builder.programHeaders.removeLast()
        XCTAssertNil(validationError(builder.bytes()))
    }

    func testEveryErrorHasASummary() {
        XCTAssertFalse(ELFError.badMagic.summary.description.isEmpty)
        XCTAssertFalse(ELFError.overlappingSegments(index: 1, otherIndex: 0).summary.description.isEmpty)
    }
}

extension MalformedImageTests {
    /// Found by the ELF fuzz: a PT_LOAD from 0 whose last page starts at 2^64 - 4096 (memsz
    /// 0xFFFF_FFFF_FFFF_F000) must be refused, not trap on the page arithmetic.
    func testASegmentEndingAtTheLastPageIsRefusedNotATrap() {
        var builder = ELFImageBuilder()
        builder.programHeaders[1].virtualAddress = 0
        builder.programHeaders[1].memorySize = 0xFFFF_FFFF_FFFF_F000
        XCTAssertEqual(validationError(builder.bytes()), .segmentOutsideAllowedRange(index: 1))
    }
}
