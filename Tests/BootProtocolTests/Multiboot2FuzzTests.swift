// Seeded fuzzing of the Multiboot2 boot information parser and the program name table against a plain reference parser, in guarded buffers.

import BootProtocol
import RawBytes
import TestSupport
import XCTest

/// Mutated boot information (bytes, tag headers, whole tags, total_size, magic, alignment) fed to
/// `Multiboot2Information` in a guarded buffer, so a read outside it crashes the test. A reference
/// parser written the plain way over the byte array (`ReferenceBootInformation`) must agree on
/// every input: the same error, or the same tags, memory regions, modules, strings, root pointer,
/// basic memory and load base — each reader inside the buffer. The module command lines then go
/// through `ProgramNameTable`, checked against a plain reference too. Inputs: 10,000 in `swift
/// test`, SWIGLET_FUZZ_ITERATIONS under `make fuzz` (see `FuzzRun`).
final class Multiboot2FuzzTests: XCTestCase {
    /// The seeds, as tag lists (type, payload) so that mutations can move whole tags.
    static let seeds: [[(type: UInt32, payload: [UInt8])]] = [
        tagList(sampleInformation()),
        tagList(sampleInformation(newRootPointer: false)),
        tagList(swigletLikeInformation()),
    ]

    func testMutatedBootInformationMatchesTheReference() {
        let fuzz = FuzzRun("multiboot2 boot information", defaultIterations: 10_000, defaultSeed: 0x3B00_7002)
        var outcomes: [String: Int] = [:]
        var namesSeen = 0
        let inputs = fuzz.run(in: self) { iteration, random in
            let seed = Self.seeds[iteration % Self.seeds.count]
            let blob = Self.mutate(seed, using: &random)
            let magic = Int.random(in: 0..<64, using: &random) == 0
                ? UInt32.random(in: 0...UInt32.max, using: &random) : Multiboot2.bootloaderMagic
            // Multiboot2 requires 8-byte alignment (the last up to 7 bytes after the end are then
            // unguarded); now and then the structure starts 4 bytes off it.
            let misaligned = Int.random(in: 0..<64, using: &random) == 0
            let buffer = GuardedBuffer(misaligned ? [0, 0, 0, 0] + blob : blob, alignment: 8)
            defer { withExtendedLifetime(buffer) {} }
            let reader = misaligned ? buffer.reader.suffix(from: 4)! : buffer.reader
            let expected = ReferenceBootInformation.parse(blob, magic: magic, aligned: !misaligned)
            let information: Multiboot2Information
            do throws(Multiboot2Error) {
                information = try Multiboot2Information(magic: magic, bytes: reader)
            } catch {
                outcomes[String(describing: error).prefix(while: { $0 != "(" }).description, default: 0] += 1
                let expectedError: Multiboot2Error? = if case .failure(let reason) = expected {
                    reason == .misaligned(address: 0) ? .misaligned(address: UInt(bitPattern: reader.baseAddress)) : reason
                } else { nil }
                return XCTAssertEqual(error, expectedError, "blob \(blob)")
            }
            outcomes["accepted", default: 0] += 1
            guard case .success(let reference) = expected else {
                return XCTFail("accepted what the reference refuses (\(expected)): \(blob)")
            }
            XCTAssertEqual(information.totalSize, reference.totalSize)
            XCTAssertTrue(buffer.encloses(information.bytes))
            let tags = Array(information.tags)
            XCTAssertEqual(tags.map(\.type.rawValue), reference.tags.map(\.type))
            XCTAssertEqual(tags.map(\.offset), reference.tags.map(\.offset))
            XCTAssertEqual(tags.map { bytesOf($0.payload) }, reference.tags.map(\.payload))
            for tag in tags { XCTAssertTrue(buffer.encloses(tag.payload)) }
            XCTAssertEqual(information.memoryRegions.map { [$0.base, $0.length, UInt64($0.kind.rawValue)] },
                           reference.memoryRegions)
            let modules = Array(information.modules)
            XCTAssertEqual(modules.map { [$0.start, $0.end] }, reference.modules.map { [$0.start, $0.end] })
            XCTAssertEqual(modules.map { bytesOf($0.commandLine) }, reference.modules.map(\.commandLine))
            for module in modules { XCTAssertTrue(buffer.encloses(module.commandLine)) }
            XCTAssertEqual(information.commandLine.map(bytesOf), reference.commandLine)
            XCTAssertEqual(information.bootloaderName.map(bytesOf), reference.bootloaderName)
            XCTAssertEqual(information.acpiRootPointer.map(bytesOf), reference.acpiRootPointer)
            for reader in [information.commandLine, information.bootloaderName, information.acpiRootPointer] {
                if let reader { XCTAssertTrue(buffer.encloses(reader)) }
            }
            XCTAssertEqual(information.basicMemoryInformation.map { [$0.lowerKilobytes, $0.upperKilobytes] },
                           reference.basicMemory)
            XCTAssertEqual(information.imageLoadBasePhysicalAddress, reference.imageLoadBase)

            // The kernel's program table from the module command lines.
            var table = ProgramNameTable()
            for module in modules { table.addModule(commandLine: module.commandLine) }
            let names = ReferenceProgramNames(commandLines: reference.modules.map(\.commandLine))
            XCTAssertEqual(table.moduleCount, modules.count)
            XCTAssertEqual(table.entries.map { [$0.name, [UInt8($0.module)]] }, names.entries.map { [$0.name, [UInt8($0.module)]] })
            XCTAssertEqual(table.rejections.map { "\($0.module) \($0.word) \($0.cut) \($0.problem)" },
                           names.rejections.map { "\($0.module) \($0.word) \($0.cut) \($0.problem)" })
            for entry in table.entries {
                XCTAssertEqual(entry.name.withUnsafeBytes { table.module(named: $0) }, entry.module)
            }
            namesSeen += table.entries.count
        }
        print("multiboot2 fuzz outcomes: \(outcomes.sorted { $0.key < $1.key }); program names taken: \(namesSeen)")
        guard inputs == fuzz.iterations else { return }   // stopped at a failure, reported above
        // Every rule was reached, and many inputs got through to the accessors.
        for outcome in ["accepted", "badMagic", "misaligned", "truncated", "badTotalSize", "badTag", "badMemoryMapEntrySize",
                        "missingEndTag"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 0, "\(outcome) never happened: \(outcomes)")
        }
        XCTAssertGreaterThan(namesSeen, 0)
    }

    /// Boot information as Swiglet's GRUB passes it: the command line, GRUB's name, one module
    /// per program with every name it runs under (the Makefile's grub-boot.cfg), basic memory, a
    /// memory map with 24-byte entries and one with 32-byte entries, both RSDPs, the load base, and
    /// tags the kernel does not read (framebuffer, ELF sections).
    static func swigletLikeInformation() -> [UInt8] {
        var builder = Multiboot2Builder()
        builder.addString(type: 1, "console=serial smp=4 run=http@1 run=udp-echo@2")
        builder.addString(type: 2, "GRUB 2.06-13+deb12u1")
        let programs = ["udp-echo", "tcp-echo", "http", "tcp-client tcp-client-crash", "spinner yielder",
                        "faulty faulty-ud faulty-gp faulty-de", "bad-channel bad-channel-exit", "flood"]
        for (index, names) in programs.enumerated() {
            let start = UInt32(0x20_0000 + index * 0x10_0000)
            builder.addModule(start: start, end: start + 0xA_0000, commandLine: names)
        }
        var basic: [UInt8] = []
        basic.appendLittleEndian(UInt32(639))
        basic.appendLittleEndian(UInt32(261_120))
        builder.add(type: 4, payload: basic)
        builder.addMemoryMap(qemuMemoryMap)
        builder.addMemoryMap(Array(qemuMemoryMap.prefix(3)), entrySize: 32)
        builder.add(type: 8, payload: [UInt8](repeating: 0x11, count: 30))
        builder.add(type: 9, payload: [UInt8](repeating: 0x22, count: 12))
        builder.add(type: 14, payload: sampleOldRootPointer())
        builder.add(type: 15, payload: sampleNewRootPointer())
        var loadBase: [UInt8] = []
        loadBase.appendLittleEndian(UInt32(0x10_0000))
        builder.add(type: 21, payload: loadBase)
        return builder.build()
    }

    /// The tags of a well-formed blob, end tag excluded.
    static func tagList(_ blob: [UInt8]) -> [(type: UInt32, payload: [UInt8])] {
        guard case .success(let information) = ReferenceBootInformation.parse(blob, magic: Multiboot2.bootloaderMagic, aligned: true)
        else { preconditionFailure("a seed is not well-formed") }
        return information.tags.map { ($0.type, $0.payload) }
    }

    /// Tag-level changes (drop, duplicate, swap, insert a tag of an interesting type with random
    /// bytes, cut a payload, insert a memory map with an entry size that is wrong or unusual), the
    /// blob built with or without the end tag, then one to four byte-level
    /// changes (a byte, a tag header field or total_size set to an interesting value, a cut, an
    /// extension), and half the time total_size set to the blob's length again.
    static func mutate(_ seed: [(type: UInt32, payload: [UInt8])], using random: inout SplitMix64) -> [UInt8] {
        var tags = seed
        let interestingTypes: [UInt32] = [0, 1, 2, 3, 4, 6, 14, 15, 21, 99, 0xFFFF_FFFF]
        for _ in 0..<Int.random(in: 0...2, using: &random) {
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !tags.isEmpty:
                tags.remove(at: Int.random(in: 0..<tags.count, using: &random))
            case 1 where !tags.isEmpty:
                let tag = tags[Int.random(in: 0..<tags.count, using: &random)]
                tags.insert(tag, at: Int.random(in: 0...tags.count, using: &random))
            case 2 where tags.count >= 2:
                tags.swapAt(Int.random(in: 0..<tags.count, using: &random), Int.random(in: 0..<tags.count, using: &random))
            case 3:
                let payload = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                tags.insert((interestingTypes.randomElement(using: &random)!, payload), at: Int.random(in: 0...tags.count, using: &random))
            case 4 where !tags.isEmpty:
                let index = Int.random(in: 0..<tags.count, using: &random)
                tags[index].payload = Array(tags[index].payload.prefix(Int.random(in: 0...tags[index].payload.count, using: &random)))
            default:
                // A memory map with an entry size that is wrong, or right but unusual.
                var payload: [UInt8] = []
                payload.appendLittleEndian([UInt32(0), 8, 16, 20, 23, 24, 25, 28, 32, 40, 0xFFFF_FFF8].randomElement(using: &random)!)
                payload.appendLittleEndian(UInt32(0))
                payload += (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                tags.insert((6, payload), at: Int.random(in: 0...tags.count, using: &random))
            }
        }
        var builder = Multiboot2Builder()
        for tag in tags { builder.add(type: tag.type, payload: tag.payload) }
        var blob = builder.build(endTag: Int.random(in: 0..<16, using: &random) != 0)

        let interesting: [UInt32] = [0, 1, 7, 8, 9, 12, 16, 23, 24, 32, 0x7FFF_FFFF, 0xFFFF_FFF8, 0xFFFF_FFFF]
        var tagOffsets: [Int] = []
        var offset = 8
        for tag in tags {
            tagOffsets.append(offset)
            offset = (offset + 8 + tag.payload.count + 7) & ~7
        }
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<8, using: &random) {
            case 0...1 where !blob.isEmpty:
                blob[Int.random(in: 0..<blob.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 2...3 where !tagOffsets.isEmpty:
                // A tag's type or size field.
                let field = tagOffsets.randomElement(using: &random)! + (Bool.random(using: &random) ? 4 : 0)
                if field + 4 <= blob.count { blob.storeLittleEndian(interesting.randomElement(using: &random)!, at: field) }
            case 4 where blob.count >= 4:
                blob.storeLittleEndian(interesting.randomElement(using: &random)!, at: 0)
            case 5:
                blob.removeLast(Int.random(in: 0...min(blob.count, 24), using: &random))
            case 6:
                blob += (0..<Int.random(in: 1...24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default:
                break
            }
        }
        if blob.count >= 4 && Bool.random(using: &random) { blob.storeLittleEndian(UInt32(blob.count), at: 0) }
        return blob
    }
}

/// Boot information parsed the plain way from a byte array (Multiboot2 spec §3.6), written apart
/// from `Multiboot2Information` so that the two can be compared. `parse` applies the rules in the
/// order `Multiboot2Information.init` documents; `.misaligned` carries address 0 (the caller
/// knows the real one).
struct ReferenceBootInformation {
    struct Tag {
        var type: UInt32
        var offset: Int
        var payload: [UInt8]
    }

    struct Module {
        var start: UInt32
        var end: UInt32
        var commandLine: [UInt8]
    }

    var totalSize = 0
    var tags: [Tag] = []
    var memoryRegions: [[UInt64]] = []
    var modules: [Module] = []
    var commandLine: [UInt8]?
    var bootloaderName: [UInt8]?
    var acpiRootPointer: [UInt8]?
    var basicMemory: [UInt32]?
    var imageLoadBase: UInt32?

    static func parse(_ bytes: [UInt8], magic: UInt32, aligned: Bool) -> Result<ReferenceBootInformation, Multiboot2Error> {
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        func beforeZero(_ bytes: [UInt8]) -> [UInt8] { Array(bytes.prefix(while: { $0 != 0 })) }
        guard magic == Multiboot2.bootloaderMagic else { return .failure(.badMagic(magic)) }
        guard aligned else { return .failure(.misaligned(address: 0)) }
        guard bytes.count >= 8 else { return .failure(.truncated) }
        let total = Int(u32(0))
        guard total >= 8, total <= bytes.count else { return .failure(.badTotalSize(u32(0))) }
        var information = ReferenceBootInformation(totalSize: total)
        var offset = 8
        while true {
            guard offset < total else { return .failure(.missingEndTag) }
            guard offset + 8 <= total else { return .failure(.truncated) }
            let type = u32(offset), size = Int(u32(offset + 4))
            guard size >= 8, offset + size <= total else { return .failure(.badTag(type: type, offset: offset)) }
            if type == 0 {
                guard size == 8 else { return .failure(.badTag(type: type, offset: offset)) }
                break
            }
            let payload = Array(bytes[(offset + 8)..<(offset + size)])
            let minimum: [UInt32: Int] = [3: 8, 4: 8, 21: 4, 6: 8]
            guard payload.count >= minimum[type, default: 0] else { return .failure(.badTag(type: type, offset: offset)) }
            if type == 6 {
                let entrySize = u32(offset + 8)
                guard entrySize >= 24, entrySize % 8 == 0 else { return .failure(.badMemoryMapEntrySize(entrySize)) }
                var entry = offset + 16
                while entry + Int(entrySize) <= offset + size {
                    information.memoryRegions.append([u64(entry), u64(entry + 8), UInt64(u32(entry + 16))])
                    entry += Int(entrySize)
                }
            }
            if type == 3 {
                information.modules.append(Module(start: u32(offset + 8), end: u32(offset + 12),
                                                  commandLine: beforeZero(Array(payload[8...]))))
            }
            if type == 1 && information.commandLine == nil { information.commandLine = beforeZero(payload) }
            if type == 2 && information.bootloaderName == nil { information.bootloaderName = beforeZero(payload) }
            if type == 4 && information.basicMemory == nil { information.basicMemory = [u32(offset + 8), u32(offset + 12)] }
            if type == 21 && information.imageLoadBase == nil { information.imageLoadBase = u32(offset + 8) }
            information.tags.append(Tag(type: type, offset: offset, payload: payload))
            offset = (offset + size + 7) & ~7
        }
        information.acpiRootPointer = (information.tags.first { $0.type == 15 } ?? information.tags.first { $0.type == 14 })?.payload
        return .success(information)
    }
}

/// The program name table built the plain way: each space- or tab-separated word of a module's
/// command line is a name unless longer than 31 bytes, made of bytes outside a-z A-Z 0-9 - _ .,
/// or taken by an earlier name; a module without a word is rejected as nameless.
struct ReferenceProgramNames {
    var entries: [(name: [UInt8], module: Int)] = []
    var rejections: [(module: Int, word: [UInt8], cut: Bool, problem: ProgramNameProblem)] = []

    init(commandLines: [[UInt8]]) {
        let allowed = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8))
        for (module, line) in commandLines.enumerated() {
            let words = line.prefix(while: { $0 != 0 }).split(whereSeparator: { $0 == 32 || $0 == 9 }).map(Array.init)
            if words.isEmpty { rejections.append((module, [], false, .noName)) }
            for word in words {
                let kept = Array(word.prefix(40))
                let problem: ProgramNameProblem?
                if word.count > 31 {
                    problem = .tooLong
                } else if let bad = word.first(where: { !allowed.contains($0) }) {
                    problem = .badCharacter(bad)
                } else if entries.contains(where: { $0.name == word }) {
                    problem = .duplicate
                } else {
                    problem = nil
                }
                if let problem {
                    rejections.append((module, kept, word.count > kept.count, problem))
                } else {
                    entries.append((word, module))
                }
            }
        }
    }
}
