// Parsing well-formed Multiboot2 boot information shaped like GRUB's under QEMU.

import BootProtocol
import RawBytes
import TestSupport
import XCTest

final class Multiboot2InformationTests: XCTestCase {
    /// Buffers kept mapped until the test case ends (readers do not own their memory).
    var retained: [GuardedBuffer] = []

    func parse(_ blob: [UInt8]) throws -> (Multiboot2Information, GuardedBuffer) {
        let buffer = GuardedBuffer(blob)
        retained.append(buffer)
        let information = try Multiboot2Information(magic: Multiboot2.bootloaderMagic, bytes: buffer.reader)
        return (information, buffer)
    }

    func testTagsAreWalkedInOrderWithPayloadSizes() throws {
        let (information, buffer) = try parse(sampleInformation())
        let tags = Array(information.tags)
        XCTAssertEqual(tags.map(\.type.rawValue), [1, 2, 3, 4, 6, 99, 14, 15, 21])
        XCTAssertEqual(tags.map(\.payload.count), [21, 10, 15, 8, 8 + 6 * 24, 3, 20, 36, 4])
        XCTAssertEqual(tags.first?.offset, 8)
        for tag in tags {
            XCTAssertEqual(tag.offset % 8, 0)
            XCTAssertTrue(buffer.encloses(tag.payload))
        }
        XCTAssertEqual(information.totalSize, buffer.count)
    }

    func testCommandLineAndBootloaderNameExcludeTheTrailingNul() throws {
        let (information, _) = try parse(sampleInformation())
        XCTAssertEqual(information.commandLine.map(bytesOf), ascii("console=serial smp=4"))
        XCTAssertEqual(information.bootloaderName.map(bytesOf), ascii("GRUB 2.06"))
        XCTAssertTrue(information.bootloaderName?.equals("GRUB 2.06") ?? false)
    }

    func testMemoryRegionsMatchTheMap() throws {
        let (information, _) = try parse(sampleInformation())
        let regions = Array(information.memoryRegions)
        XCTAssertEqual(regions.count, 6)
        XCTAssertEqual(regions[0], MemoryRegion(base: 0, length: 0x9_FC00, kind: .available))
        XCTAssertEqual(regions[1], MemoryRegion(base: 0x9_FC00, length: 0x400, kind: .reserved(2)))
        XCTAssertEqual(regions[3], MemoryRegion(base: 0x10_0000, length: 0x7EE_0000, kind: .available))
        XCTAssertEqual(regions[5].end, 0x1_0000_0000)
        let available = regions.filter { $0.kind == .available }.reduce(0) { $0 + $1.length }
        XCTAssertEqual(available, 0x9_FC00 + 0x7EE_0000)
    }

    func testMemoryRegionKinds() {
        XCTAssertEqual(MemoryRegionKind(rawValue: 1), .available)
        XCTAssertEqual(MemoryRegionKind(rawValue: 2), .reserved(2))
        XCTAssertEqual(MemoryRegionKind(rawValue: 3), .acpiReclaimable)
        XCTAssertEqual(MemoryRegionKind(rawValue: 4), .acpiNVS)
        XCTAssertEqual(MemoryRegionKind(rawValue: 5), .defective)
        XCTAssertEqual(MemoryRegionKind(rawValue: 0xFFFF_FFFF), .reserved(0xFFFF_FFFF))
        for raw: UInt32 in [0, 1, 2, 3, 4, 5, 6, 77] {
            XCTAssertEqual(MemoryRegionKind(rawValue: raw).rawValue, raw)
        }
        XCTAssertEqual(MemoryRegion(base: UInt64.max - 1, length: 10, kind: .available).end, UInt64.max)
    }

    func testMemoryMapWithLargerEntriesSkipsTheExtraBytes() throws {
        var builder = Multiboot2Builder()
        builder.addMemoryMap(qemuMemoryMap, entrySize: 32)
        let (information, _) = try parse(builder.build())
        let regions = Array(information.memoryRegions)
        XCTAssertEqual(regions.count, qemuMemoryMap.count)
        for (region, expected) in zip(regions, qemuMemoryMap) {
            XCTAssertEqual(region.base, expected.0)
            XCTAssertEqual(region.length, expected.1)
            XCTAssertEqual(region.kind.rawValue, expected.2)
        }
    }

    func testMemoryMapTrailingPartialEntryIsIgnored() throws {
        var payload: [UInt8] = []
        payload.appendLittleEndian(UInt32(24))
        payload.appendLittleEndian(UInt32(0))
        payload.appendLittleEndian(UInt64(0x1000))
        payload.appendLittleEndian(UInt64(0x2000))
        payload.appendLittleEndian(UInt32(1))
        payload.appendLittleEndian(UInt32(0))
        payload += [UInt8](repeating: 0x55, count: 20)  // not a whole entry
        var builder = Multiboot2Builder()
        builder.add(type: 6, payload: payload)
        let (information, _) = try parse(builder.build())
        XCTAssertEqual(Array(information.memoryRegions), [MemoryRegion(base: 0x1000, length: 0x2000, kind: .available)])
    }

    func testRegionsOfSeveralMemoryMapTagsAreConcatenated() throws {
        var builder = Multiboot2Builder()
        builder.addMemoryMap([(0, 0x1000, 1)])
        builder.addString(type: 1, "x")
        builder.addMemoryMap([(0x5000, 0x1000, 3), (0x9000, 0x10, 4)])
        let (information, _) = try parse(builder.build())
        XCTAssertEqual(Array(information.memoryRegions).map(\.kind), [.available, .acpiReclaimable, .acpiNVS])
    }

    func testModules() throws {
        var builder = Multiboot2Builder()
        builder.addModule(start: 0x20_0000, end: 0x20_1000, commandLine: "initrd")
        builder.addModule(start: 0x30_0000, end: 0x30_0010, commandLine: "")
        let (information, _) = try parse(builder.build())
        let modules = Array(information.modules)
        XCTAssertEqual(modules.count, 2)
        XCTAssertEqual(modules[0].start, 0x20_0000)
        XCTAssertEqual(modules[0].end, 0x20_1000)
        XCTAssertEqual(bytesOf(modules[0].commandLine), ascii("initrd"))
        XCTAssertEqual(modules[1].start, 0x30_0000)
        XCTAssertTrue(modules[1].commandLine.isEmpty)
    }

    func testNewRootPointerIsPreferred() throws {
        let (information, _) = try parse(sampleInformation())
        XCTAssertEqual(information.acpiRootPointer.map(bytesOf), sampleNewRootPointer())
    }

    func testOldRootPointerIsUsedWithoutANewOne() throws {
        let (information, _) = try parse(sampleInformation(newRootPointer: false))
        XCTAssertEqual(information.acpiRootPointer.map(bytesOf), sampleOldRootPointer())
    }

    func testMissingOptionalTagsGiveNil() throws {
        let (information, _) = try parse(Multiboot2Builder().build())
        XCTAssertNil(information.commandLine)
        XCTAssertNil(information.bootloaderName)
        XCTAssertNil(information.acpiRootPointer)
        XCTAssertNil(information.basicMemoryInformation)
        XCTAssertNil(information.imageLoadBasePhysicalAddress)
        XCTAssertEqual(Array(information.tags).count, 0)
        XCTAssertEqual(Array(information.memoryRegions).count, 0)
        XCTAssertEqual(Array(information.modules).count, 0)
        XCTAssertEqual(information.totalSize, 16)
    }

    func testBasicMemoryInformationAndLoadBase() throws {
        let (information, _) = try parse(sampleInformation())
        XCTAssertEqual(information.basicMemoryInformation?.lowerKilobytes, 639)
        XCTAssertEqual(information.basicMemoryInformation?.upperKilobytes, 129_920)
        XCTAssertEqual(information.imageLoadBasePhysicalAddress, 0x10_0000)
        XCTAssertEqual(information.firstTag(.framebuffer)?.type, nil)
        XCTAssertEqual(information.firstTag(Multiboot2TagType(rawValue: 99))?.payload.count, 3)
    }

    func testCommandLineWithoutNulKeepsTheWholePayload() throws {
        var builder = Multiboot2Builder()
        builder.add(type: 1, payload: ascii("abc"))
        let (information, _) = try parse(builder.build())
        XCTAssertEqual(information.commandLine.map(bytesOf), ascii("abc"))
    }

    func testBytesBeyondTotalSizeAreNotPartOfTheInformation() throws {
        let blob = sampleInformation()
        let buffer = GuardedBuffer(blob + [UInt8](repeating: 0xAA, count: 64))
        retained.append(buffer)
        let information = try Multiboot2Information(magic: Multiboot2.bootloaderMagic, bytes: buffer.reader)
        XCTAssertEqual(information.totalSize, blob.count)
    }

    func testTotalSizeAtAndInitFromAddress() throws {
        let blob = sampleInformation()
        let buffer = GuardedBuffer(blob)
        retained.append(buffer)
        XCTAssertEqual(Int(Multiboot2Information.totalSize(at: buffer.start)), blob.count)
        let information = try Multiboot2Information(magic: Multiboot2.bootloaderMagic, address: buffer.start)
        XCTAssertEqual(information.totalSize, blob.count)
        XCTAssertEqual(Array(information.memoryRegions).count, 6)
    }

    func testTagTypeConstants() {
        XCTAssertEqual(Multiboot2TagType.memoryMap.rawValue, 6)
        XCTAssertEqual(Multiboot2TagType.acpiOldRootPointer.rawValue, 14)
        XCTAssertEqual(Multiboot2TagType.acpiNewRootPointer.rawValue, 15)
        XCTAssertEqual(Multiboot2.bootloaderMagic, 0x36D7_6289)
    }
}
