// Seeded mutation fuzzing of the ELF validator over the fixture, a builder image and every built program: no crash, no read outside the file, only valid images accepted.

import ELF
import Foundation
import TestSupport
import XCTest

/// Mutated images against guard pages: the validator must never crash or read outside the file,
/// and every image it accepts must really satisfy its rules (`check`, plain arithmetic from
/// outside). Seeds: the checked-in fixture, a builder image, and every program
/// Sources/UserSpace/Programs/programs.list names, as `make programs` built it. Inputs per test: 10,000 in `swift test`,
/// SWIGLET_FUZZ_ITERATIONS under `make fuzz` (see `FuzzRun`).
final class FuzzTests: XCTestCase {
    /// Offsets of the fields worth aiming at: the file header and three program headers.
    static let headerBytes = 64 + 3 * 56

    func testMutatedFixtureNeverCrashesAndAcceptsOnlyValidImages() throws {
        try fuzz(FuzzRun("ELF fixture", defaultIterations: 10_000, defaultSeed: 0x5EED_E1F0),
                 seeds: [("faulty fixture", try FixtureTests.fixtureBytes())])
    }

    func testMutatedBuilderImageNeverCrashesAndAcceptsOnlyValidImages() throws {
        try fuzz(FuzzRun("ELF builder image", defaultIterations: 10_000, defaultSeed: 0xB111_DE25),
                 seeds: [("builder image", ELFImageBuilder().bytes())])
    }

    /// Every program of the image (programs.list), from
    /// images/programs/NAME.elf. Missing ones fail under SWIGLET_REQUIRE_QEMU (`make test`,
    /// `make fuzz`) and are skipped otherwise. Each is first validated whole; the fuzz then works
    /// on its loaded part (headers and segments, cut where the debug sections begin): the
    /// validator never reads past the segments, the ISO carries the programs stripped, and copying
    /// a whole 1 MiB file into a guarded buffer per input would make the run ten times slower.
    func testMutatedBuiltProgramsNeverCrashAndAcceptOnlyValidImages() throws {
        let names = try BuiltPrograms.names()
        XCTAssertGreaterThanOrEqual(names.count, 8, "the Makefile lists \(names)")
        var seeds: [(String, [UInt8])] = []
        var missing: [String] = []
        for name in names {
            let url = BuiltPrograms.path(of: name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                missing.append(name)
                continue
            }
            let whole = [UInt8](data)
            XCTAssertNil(validationError(whole), "\(name).elf as built")
            let loaded = Array(whole.prefix(Self.loadedPartLength(whole)))
            XCTAssertNil(validationError(loaded), "\(name).elf cut to its loaded part")
            seeds.append((name, loaded))
        }
        if !missing.isEmpty {
            let message = "no images/programs/\(missing.joined(separator: ", ")).elf: run make programs"
            if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil { XCTFail(message) }
            try XCTSkipIf(seeds.isEmpty, message)
            print("ELF fuzz: \(message); fuzzing the other \(seeds.count)")
        }
        try fuzz(FuzzRun("ELF built programs", defaultIterations: 10_000, defaultSeed: 0xE1F0_9406), seeds: seeds)
    }

    /// The bytes up to the end of the program header table or of the last PT_LOAD's file
    /// contents, whichever is later (read the plain way, little-endian).
    static func loadedPartLength(_ bytes: [UInt8]) -> Int {
        func value(_ offset: Int, _ width: Int) -> Int {
            (0..<width).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        let tableOffset = value(32, 8), count = value(56, 2)
        var end = tableOffset + count * 56
        for index in 0..<count where value(tableOffset + index * 56, 4) == 1 {
            let header = tableOffset + index * 56
            end = max(end, value(header + 8, 8) + value(header + 32, 8))
        }
        return min(end, bytes.count)
    }

    /// Fuzzes the validator with mutations of `seeds`, input `i` starting from seed `i % count`.
    /// The mutations must reach deep rules (at least 12 different errors) and leave every seed
    /// valid now and then.
    private func fuzz(_ run: FuzzRun, seeds: [(name: String, bytes: [UInt8])]) throws {
        var accepted = [Int](repeating: 0, count: seeds.count)
        var errors = Set<String>()
        let inputs = run.run(in: self) { iteration, random in
            let seed = iteration % seeds.count
            var bytes = seeds[seed].bytes
            mutate(&bytes, using: &random)
            let buffer = GuardedBuffer(bytes)
            defer { withExtendedLifetime(buffer) {} }
            do throws(ELFError) {
                let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
                accepted[seed] += 1
                check(image, in: buffer, seed: seeds[seed].name)
            } catch {
                errors.insert(String(describing: error).prefix(while: { $0 != "(" }).description)
            }
        }
        guard inputs == run.iterations else { return }   // stopped at a failure, reported above
        for (index, seed) in seeds.enumerated() where inputs >= 1_000 * seeds.count {
            XCTAssertGreaterThan(accepted[index], 0, "no mutation of \(seed.name) stayed valid")
        }
        XCTAssertGreaterThanOrEqual(errors.count, 12, "rules reached: \(errors.sorted())")
    }

    /// One to four of: a random byte, a random bit, an interesting 64-bit value at a field, a
    /// truncation — aimed at the headers three times in four.
    private func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        let interesting: [UInt64] = [0, 1, 0xFFF, 0x1000, 0x4000_0000_0000, 0x4000_4000_0000, 1 << 47,
                                     UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max, UInt64.max - 0xFFF]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !bytes.isEmpty else { return }
            let limit = Bool.random(using: &random) || Bool.random(using: &random) ? min(Self.headerBytes, bytes.count) : bytes.count
            let offset = Int.random(in: 0..<limit, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0, 1, 2:
                bytes[offset] = UInt8.random(in: 0...255, using: &random)
            case 3, 4:
                bytes[offset] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 5, 6:
                let aligned = offset & ~7
                if aligned + 8 <= bytes.count {
                    bytes.storeLittleEndian(interesting.randomElement(using: &random)!, at: aligned)
                }
            default:
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &random))
            }
        }
    }

    /// Re-checks every rule on an accepted image from outside, with plain arithmetic.
    private func check(_ image: ELFImage, in buffer: GuardedBuffer, seed: String) {
        let loads = segments(of: image)
        XCTAssertEqual(loads.count, image.loadSegmentCount)
        XCTAssertFalse(loads.isEmpty)
        var entryFound = false
        for (position, segment) in loads.enumerated() {
            XCTAssertFalse(segment.permissions.writable && segment.permissions.executable)
            XCTAssertGreaterThan(segment.memorySize, 0)
            XCTAssertLessThanOrEqual(segment.fileSize, segment.memorySize)
            XCTAssertLessThanOrEqual(segment.fileOffset, UInt64(buffer.count))
            XCTAssertLessThanOrEqual(segment.fileSize, UInt64(buffer.count) - segment.fileOffset)
            XCTAssertTrue(buffer.encloses(image.contents(of: segment)))
            XCTAssertEqual(image.contents(of: segment).count, Int(segment.fileSize))
            XCTAssertEqual(segment.virtualAddress % 4096, segment.fileOffset % 4096)
            let pages = segment.pageRange
            XCTAssertGreaterThanOrEqual(pages.lowerBound, ELFImageBuilder.window.lowerBound)
            XCTAssertLessThanOrEqual(pages.upperBound, ELFImageBuilder.window.upperBound)
            XCTAssertTrue(pages.contains(segment.virtualAddress))
            XCTAssertTrue(pages.contains(segment.virtualAddress + segment.memorySize - 1))
            for other in loads[..<position] { XCTAssertFalse(other.pageRange.overlaps(pages)) }
            if segment.permissions.executable, image.entryPoint >= segment.virtualAddress,
               image.entryPoint - segment.virtualAddress < segment.fileSize {
                entryFound = true
            }
        }
        XCTAssertTrue(entryFound, "accepted a mutation of \(seed) whose entry is not in an executable segment")
    }
}
