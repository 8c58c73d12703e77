// Builds small ELF-64 executables field by field, so each test can break exactly one rule.

import ELF
import TestSupport

/// One program header to write (fields as in `Elf64_Phdr`, ELF-64 v1.5 §8).
struct ProgramHeaderFields {
    var type: UInt32 = 1               // PT_LOAD
    var flags: UInt32 = 5              // PF_R | PF_X
    var offset: UInt64 = 0x1000
    var virtualAddress: UInt64 = ELFImageBuilder.base
    var fileSize: UInt64 = 0x100
    var memorySize: UInt64 = 0x100
    var alignment: UInt64 = 0x1000
}

/// A valid static x86-64 executable laid out like the project's programs (text, rodata,
/// data+bss, each on its own pages) unless a test changes a field.
struct ELFImageBuilder {
    /// Where the project links programs (linker/program.ld).
    static let base: UInt64 = 0x4000_0000_0000
    /// The loader's window for program images (Sources/Kernel/UserMode/ProgramLoader.swift).
    static let window: Range<UInt64> = 0x4000_0000_0000 ..< 0x4000_4000_0000

    var identification: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    var type: UInt16 = 2               // ET_EXEC
    var machine: UInt16 = 62           // EM_X86_64
    var version: UInt32 = 1
    var entryPoint: UInt64 = ELFImageBuilder.base + 0x10
    var programHeaderOffset: UInt64 = 64
    var headerSize: UInt16 = 64
    var programHeaderEntrySize: UInt16 = 56
    /// `nil`: the number of `programHeaders`.
    var programHeaderCount: UInt16? = nil
    var sectionHeaderEntrySize: UInt16 = 64
    var sectionHeaderCount: UInt16 = 0
    var programHeaders: [ProgramHeaderFields] = [
        ProgramHeaderFields(),
        ProgramHeaderFields(flags: 4, offset: 0x2000, virtualAddress: base + 0x1000, fileSize: 0x40, memorySize: 0x40),
        ProgramHeaderFields(flags: 6, offset: 0x3000, virtualAddress: base + 0x2000, fileSize: 0x80, memorySize: 0x5000),
    ]
    /// Total file size; the contents after the headers are a recognizable pattern.
    var fileSize = 0x3080

    func bytes() -> [UInt8] {
        var bytes: [UInt8] = identification
        bytes.appendLittleEndian(type)
        bytes.appendLittleEndian(machine)
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(entryPoint)
        bytes.appendLittleEndian(programHeaderOffset)
        bytes.appendLittleEndian(UInt64(0))                  // e_shoff
        bytes.appendLittleEndian(UInt32(0))                  // e_flags
        bytes.appendLittleEndian(headerSize)
        bytes.appendLittleEndian(programHeaderEntrySize)
        bytes.appendLittleEndian(programHeaderCount ?? UInt16(programHeaders.count))
        bytes.appendLittleEndian(sectionHeaderEntrySize)
        bytes.appendLittleEndian(sectionHeaderCount)
        bytes.appendLittleEndian(UInt16(0))                  // e_shstrndx
        var table: [UInt8] = []
        for header in programHeaders {
            table.appendLittleEndian(header.type)
            table.appendLittleEndian(header.flags)
            table.appendLittleEndian(header.offset)
            table.appendLittleEndian(header.virtualAddress)
            table.appendLittleEndian(header.virtualAddress)  // p_paddr
            table.appendLittleEndian(header.fileSize)
            table.appendLittleEndian(header.memorySize)
            table.appendLittleEndian(header.alignment)
        }
        var file = [UInt8](repeating: 0, count: max(fileSize, 0))
        for index in file.indices where index >= 64 { file[index] = UInt8(truncatingIfNeeded: index &* 7) }
        for (index, byte) in bytes.enumerated() where index < file.count { file[index] = byte }
        if programHeaderOffset < UInt64(file.count) {
            for (index, byte) in table.enumerated() where Int(programHeaderOffset) + index < file.count {
                file[Int(programHeaderOffset) + index] = byte
            }
        }
        return file
    }
}

/// Validates `bytes` inside a guarded buffer (so a stray read crashes the test) and returns
/// the error, or `nil` when the image is accepted.
func validationError(_ bytes: [UInt8], allowedRange: Range<UInt64> = ELFImageBuilder.window) -> ELFError? {
    let buffer = GuardedBuffer(bytes)
    defer { withExtendedLifetime(buffer) {} }
    do throws(ELFError) {
        _ = try ELFImage(buffer.reader, allowedRange: allowedRange)
        return nil
    } catch {
        return error
    }
}

/// The load segments of an accepted image, as an array (for comparisons).
func segments(of image: ELFImage) -> [LoadSegment] {
    var result: [LoadSegment] = []
    for segment in image.loadSegments { result.append(segment) }
    return result
}
