// Seeded mutation fuzzing of the ELF validator: no crash, no read outside the file, and every
// accepted image really satisfies the rules.

import ELF
import Foundation
import TestSupport
import XCTest

final class FuzzTests: XCTestCase {
    /// Iterations per seed image; `SWIGLET_FUZZ_ITERATIONS` raises it for long runs.
    static var iterations: Int {
        ProcessInfo.processInfo.environment["SWIGLET_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 10_000
    }

    /// Offsets of the fields worth aiming at: the file header and three program headers.
    static let headerBytes = 64 + 3 * 56

    func testMutatedFixtureNeverCrashesAndAcceptsOnlyValidImages() throws {
        try fuzz(seed: try FixtureTests.fixtureBytes(), randomSeed: 0x5EED_E1F0)
    }

    func testMutatedBuilderImageNeverCrashesAndAcceptsOnlyValidImages() throws {
        try fuzz(seed: ELFImageBuilder().bytes(), randomSeed: 0xB111_DE25)
    }

    private func fuzz(seed: [UInt8], randomSeed: UInt64) throws {
        var random = SplitMix64(seed: randomSeed)
        var accepted = 0
        var errors = Set<String>()
        for _ in 0..<Self.iterations {
            var bytes = seed
            mutate(&bytes, using: &random)
            let buffer = GuardedBuffer(bytes)
            defer { withExtendedLifetime(buffer) {} }
            do throws(ELFError) {
                let image = try ELFImage(buffer.reader, allowedRange: ELFImageBuilder.window)
                accepted += 1
                check(image, in: buffer)
            } catch {
                errors.insert(String(describing: error).prefix(while: { $0 != "(" }).description)
            }
        }
        // The mutations must reach deep rules, not only the magic.
        XCTAssertGreaterThan(accepted, 0)
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
    private func check(_ image: ELFImage, in buffer: GuardedBuffer) {
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
        XCTAssertTrue(entryFound)
    }
}
