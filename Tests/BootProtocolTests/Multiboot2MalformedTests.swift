// Malformed Multiboot2 boot information: every lie is rejected, nothing is read out of range.

import BootProtocol
import RawBytes
import TestSupport
import XCTest

final class Multiboot2MalformedTests: XCTestCase {
    func parse(_ blob: [UInt8], magic: UInt32 = Multiboot2.bootloaderMagic) -> Result<Int, Multiboot2Error> {
        let buffer = GuardedBuffer(blob, alignment: 8)
        return withExtendedLifetime(buffer) { () -> Result<Int, Multiboot2Error> in
            do throws(Multiboot2Error) {
                let information = try Multiboot2Information(magic: magic, bytes: buffer.reader)
                return .success(information.totalSize)
            } catch {
                return .failure(error)
            }
        }
    }

    func assertThrows(_ blob: [UInt8], _ expected: Multiboot2Error, file: StaticString = #filePath, line: UInt = #line) {
        switch parse(blob) {
        case .success: XCTFail("accepted malformed input", file: file, line: line)
        case .failure(let error): XCTAssertEqual(error, expected, file: file, line: line)
        }
    }

    func testBadMagic() {
        guard case .failure(let error) = parse(sampleInformation(), magic: 0x2BAD_B002) else { return XCTFail() }
        XCTAssertEqual(error, .badMagic(0x2BAD_B002))
    }

    func testBufferSmallerThanHeader() {
        assertThrows([16, 0, 0, 0], .truncated)
        assertThrows([], .truncated)
    }

    func testTotalSizeBeyondTheBuffer() {
        var blob = sampleInformation()
        blob.storeLittleEndian(UInt32(blob.count + 8), at: 0)
        assertThrows(blob, .badTotalSize(UInt32(blob.count + 8)))
        blob.storeLittleEndian(UInt32.max, at: 0)
        assertThrows(blob, .badTotalSize(UInt32.max))
    }

    func testTotalSizeBelowTheHeader() {
        var blob = sampleInformation()
        blob.storeLittleEndian(UInt32(4), at: 0)
        assertThrows(blob, .badTotalSize(4))
    }

    func testTotalSizeCuttingATagHeader() {
        var blob = Multiboot2Builder().build()  // header + end tag = 16 bytes
        blob.storeLittleEndian(UInt32(12), at: 0)
        assertThrows(blob, .truncated)
    }

    func testTagSizeBelowItsHeader() {
        var builder = Multiboot2Builder()
        builder.add(type: 1, size: 4, payload: [0, 0, 0, 0])
        assertThrows(builder.build(), .badTag(type: 1, offset: 8))
    }

    func testTagSizeRunningPastTotalSize() {
        var builder = Multiboot2Builder()
        builder.add(type: 1, size: 0x1000, payload: ascii("abc") + [0])
        assertThrows(builder.build(), .badTag(type: 1, offset: 8))
        var huge = Multiboot2Builder()
        huge.add(type: 6, size: UInt32.max, payload: [24, 0, 0, 0, 0, 0, 0, 0])
        assertThrows(huge.build(), .badTag(type: 6, offset: 8))
    }

    func testMissingEndTag() {
        var builder = Multiboot2Builder()
        builder.addString(type: 1, "console")
        assertThrows(builder.build(endTag: false), .missingEndTag)
    }

    func testEndTagWithAWrongSize() {
        var builder = Multiboot2Builder()
        builder.add(type: 0, size: 16, payload: [UInt8](repeating: 0, count: 8))
        assertThrows(builder.build(endTag: false), .badTag(type: 0, offset: 8))
    }

    func testMemoryMapEntrySizeTooSmall() {
        var builder = Multiboot2Builder()
        builder.addMemoryMap([(0, 0x1000, 1)], entrySize: 16)
        assertThrows(builder.build(), .badMemoryMapEntrySize(16))
        var zero = Multiboot2Builder()
        zero.addMemoryMap([], entrySize: 0)
        assertThrows(zero.build(), .badMemoryMapEntrySize(0))
    }

    func testMemoryMapEntrySizeNotAMultipleOfEight() {
        var builder = Multiboot2Builder()
        builder.addMemoryMap([(0, 0x1000, 1)], entrySize: 28)
        assertThrows(builder.build(), .badMemoryMapEntrySize(28))
    }

    func testMemoryMapTagTooShortForItsHeader() {
        var builder = Multiboot2Builder()
        builder.add(type: 6, payload: [24, 0, 0, 0])
        assertThrows(builder.build(), .badTag(type: 6, offset: 8))
    }

    func testModuleTagTooShort() {
        var builder = Multiboot2Builder()
        builder.add(type: 3, payload: [0, 0, 0x20, 0])
        assertThrows(builder.build(), .badTag(type: 3, offset: 8))
    }

    func testBasicMemoryTagTooShort() {
        var builder = Multiboot2Builder()
        builder.add(type: 4, payload: [1, 2, 3, 4])
        assertThrows(builder.build(), .badTag(type: 4, offset: 8))
    }

    func testMisalignedStart() {
        let blob = sampleInformation()
        let buffer = GuardedBuffer([0, 0, 0, 0] + blob, alignment: 8)
        let reader = buffer.reader.slice(at: 4, count: blob.count)!
        defer { withExtendedLifetime(buffer) {} }
        do {
            _ = try Multiboot2Information(magic: Multiboot2.bootloaderMagic, bytes: reader)
            XCTFail("accepted a misaligned start")
        } catch {
            XCTAssertEqual(error, .misaligned(address: UInt(bitPattern: reader.baseAddress!)))
        }
    }

    /// Random byte mutations of a valid blob: the parser must either reject the blob or accept it,
    /// and every accessor must stay inside the buffer (the guard pages turn any stray read into a
    /// crash; the payload range checks catch reads that would stay inside the mapping).
    func testRandomMutationsNeverReadOutOfRange() {
        let original = sampleInformation()
        var generator = SplitMix64(state: 0x5EED_0001)
        var accepted = 0, rejected = 0
        let interesting: [UInt32] = [0, 1, 7, 8, 9, 16, 23, 24, 32, 0x7FFF_FFFF, 0xFFFF_FFF8, 0xFFFF_FFFF]
        for _ in 0..<4000 {
            var blob = original
            let mutations = Int.random(in: 1...4, using: &generator)
            for _ in 0..<mutations {
                if Bool.random(using: &generator) {
                    blob[Int.random(in: 0..<blob.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                } else {
                    let offset = Int.random(in: 0..<(blob.count / 4), using: &generator) * 4
                    blob.storeLittleEndian(interesting.randomElement(using: &generator)!, at: offset)
                }
            }
            if Int.random(in: 0..<8, using: &generator) == 0 {
                blob.removeLast(8 * Int.random(in: 1...4, using: &generator))
            }
            let buffer = GuardedBuffer(blob, alignment: 8)
            defer { withExtendedLifetime(buffer) {} }
            guard let information = try? Multiboot2Information(magic: Multiboot2.bootloaderMagic, bytes: buffer.reader)
            else {
                rejected += 1
                continue
            }
            accepted += 1
            XCTAssertLessThanOrEqual(information.totalSize, blob.count)
            var tagCount = 0
            for tag in information.tags {
                XCTAssertTrue(buffer.encloses(tag.payload))
                tagCount += 1
                XCTAssertLessThan(tagCount, blob.count)
            }
            for region in information.memoryRegions { _ = region.end }
            for module in information.modules { XCTAssertTrue(buffer.encloses(module.commandLine)) }
            for reader in [information.commandLine, information.bootloaderName, information.acpiRootPointer] {
                if let reader { XCTAssertTrue(buffer.encloses(reader)); _ = reader.byteSum() }
            }
            _ = information.basicMemoryInformation
            _ = information.imageLoadBasePhysicalAddress
        }
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(rejected, 100)
    }
}
