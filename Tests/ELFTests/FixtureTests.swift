// The ELF validator against a program the project really built (Fixtures/faulty.elf).

import ELF
import Foundation
import TestSupport
import XCTest

/// Fixtures/faulty.elf is images/programs/faulty.elf (Sources/UserSpace/Programs/Faulty linked by
/// `make programs` with linker/program.ld) after `llvm-objcopy --strip-debug`, which leaves
/// the ELF header, program headers and segment contents as the linker wrote them. Rebuilding
/// the program changes the text bytes; the layout checked here changes only with program.ld.
final class FixtureTests: XCTestCase {
    static func fixtureBytes() throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent("faulty.elf")
        return [UInt8](try Data(contentsOf: url))
    }

    func testTheIdentificationIsWhatLLDWrites() throws {
        let bytes = try Self.fixtureBytes()
        // 7F 'E' 'L' 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_GNU (lld: Swift's
        // objects use SHF_GNU_RETAIN), ABI version 0, padding.
        XCTAssertEqual(Array(bytes[0..<16]), [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0])
        // e_type ET_EXEC, e_machine EM_X86_64, e_version 1, e_entry 0x4000_0000_0000, e_phoff 64.
        XCTAssertEqual(Array(bytes[16..<40]), [2, 0, 62, 0, 1, 0, 0, 0,
                                              0, 0, 0, 0, 0, 0x40, 0, 0,
                                              64, 0, 0, 0, 0, 0, 0, 0])
        // e_ehsize 64, e_phentsize 56, e_phnum 3, e_shentsize 64.
        XCTAssertEqual(Array(bytes[52..<60]), [64, 0, 56, 0, 3, 0, 64, 0])
    }

    func testTheProgramValidatesWithThreeSegmentsOnTheirOwnPages() throws {
        let buffer = GuardedBuffer(try Self.fixtureBytes())
        defer { withExtendedLifetime(buffer) {} }
        let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
        XCTAssertEqual(image.entryPoint, 0x4000_0000_0000)
        XCTAssertEqual(image.loadSegmentCount, 3)
        let loads = segments(of: image)
        XCTAssertEqual(loads.count, 3)
        guard loads.count == 3 else { return }

        // Text: R+X, at the link address, file offset one page in (-z max-page-size=4096).
        XCTAssertEqual(loads[0].virtualAddress, 0x4000_0000_0000)
        XCTAssertEqual(loads[0].fileOffset, 0x1000)
        XCTAssertEqual(loads[0].fileSize, loads[0].memorySize)
        XCTAssertEqual(loads[0].permissions, SegmentPermissions(readable: true, writable: false, executable: true))
        // Read-only data: R, on the first page after the text.
        XCTAssertEqual(loads[1].permissions, SegmentPermissions(readable: true, writable: false, executable: false))
        XCTAssertEqual(loads[1].virtualAddress, loads[0].pageRange.upperBound)
        // Data and bss: RW, with the runtime's 1 MiB heap in the zero-filled part.
        XCTAssertEqual(loads[2].permissions, SegmentPermissions(readable: true, writable: true, executable: false))
        XCTAssertEqual(loads[2].virtualAddress, loads[1].pageRange.upperBound)
        XCTAssertGreaterThan(loads[2].memorySize, 1 << 20)
        XCTAssertLessThan(loads[2].fileSize, 0x1000)
        for segment in loads {
            XCTAssertEqual(segment.virtualAddress % 4096, 0)
            XCTAssertEqual(segment.alignment, 0x1000)
            XCTAssertTrue(buffer.encloses(image.contents(of: segment)))
        }
        XCTAssertEqual(image.pageRange, 0x4000_0000_0000 ..< loads[2].pageRange.upperBound)

        // The entry is boot/program-runtime.asm's _start: xor ebp, ebp; and rsp, -16.
        let text = image.contents(of: loads[0])
        XCTAssertEqual(Array(bytesOf(text).prefix(6)), [0x31, 0xED, 0x48, 0x83, 0xE4, 0xF0])
    }

    func testAWindowThatDoesNotHoldTheDataSegmentRefusesIt() throws {
        let bytes = try Self.fixtureBytes()
        XCTAssertEqual(validationError(bytes, allowedRange: 0x4000_0000_0000 ..< 0x4000_0000_3000),
                       .segmentOutsideAllowedRange(index: 2))
        XCTAssertEqual(validationError(bytes, allowedRange: 0x4000_0000_1000 ..< 0x4000_4000_0000),
                       .segmentOutsideAllowedRange(index: 0))
        // The whole address space as a window is cut to the lower half, which holds the program.
        XCTAssertNil(validationError(bytes, allowedRange: 0 ..< UInt64.max))
        // A window entirely in the upper half is empty once cut.
        XCTAssertEqual(validationError(bytes, allowedRange: 0xFFFF_8000_0000_0000 ..< UInt64.max),
                       .segmentOutsideAllowedRange(index: 0))
    }

    func testEveryTruncationOfTheProgramIsRefused() throws {
        let bytes = try Self.fixtureBytes()
        let buffer = GuardedBuffer(bytes)
        defer { withExtendedLifetime(buffer) {} }
        let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
        let end = segments(of: image).map { Int($0.fileOffset + $0.fileSize) }.max() ?? 0
        // Anything shorter than the end of the last segment's file bytes loses some of them.
        for length in 0..<end {
            let error = validationError(Array(bytes.prefix(length)))
            if length < 64 {
                XCTAssertEqual(error, .truncatedFileHeader(byteCount: length))
            } else if length < 64 + 3 * 56 {
                XCTAssertEqual(error, .programHeaderTableOutsideFile(offset: 64))
            } else {
                guard case .segmentOutsideFile? = error else {
                    return XCTFail("prefix of \(length) bytes: \(String(describing: error))")
                }
            }
        }
        // The section headers past the segments are not needed to load the program.
        XCTAssertNil(validationError(Array(bytes.prefix(end))))
    }

    /// The programs `make programs` built last (with their debug sections), when present.
    func testEveryBuiltProgramValidates() throws {
        let names = try BuiltPrograms.names()
        XCTAssertGreaterThanOrEqual(names.count, 8, "the Makefile lists \(names)")
        let present = names.filter { FileManager.default.fileExists(atPath: BuiltPrograms.path(of: $0).path) }
        if present.count < names.count && ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil {
            XCTFail("programs not built: \(Set(names).subtracting(present).sorted()) (make programs)")
        }
        try XCTSkipIf(present.isEmpty, "no programs built (make programs)")
        for name in present {
            let buffer = GuardedBuffer([UInt8](try Data(contentsOf: BuiltPrograms.path(of: name))))
            defer { withExtendedLifetime(buffer) {} }
            let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
            XCTAssertEqual(image.entryPoint, 0x4000_0000_0000, name)
            XCTAssertEqual(segments(of: image).map(\.permissions), [
                SegmentPermissions(readable: true, writable: false, executable: true),
                SegmentPermissions(readable: true, writable: false, executable: false),
                SegmentPermissions(readable: true, writable: true, executable: false),
            ], name)
        }
    }
}
