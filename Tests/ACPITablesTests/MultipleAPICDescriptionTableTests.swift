// MADT decoding: QEMU's layout, every entry type, malformed entries, corrupted tables.

import ACPITables
import RawBytes
import TestSupport
import XCTest

final class MultipleAPICDescriptionTableTests: XCTestCase {
    var retained: [GuardedBuffer] = []

    func reader(_ bytes: [UInt8]) -> ByteReader {
        let buffer = GuardedBuffer(bytes)
        retained.append(buffer)
        return buffer.reader
    }

    func parseError(_ bytes: [UInt8]) -> ACPIError? {
        do throws(ACPIError) {
            _ = try MultipleAPICDescriptionTable(reader(bytes))
            return nil
        } catch {
            return error
        }
    }

    func testQEMUTable() throws {
        let madt = try MultipleAPICDescriptionTable(reader(qemuMADT(processors: 4)))
        XCTAssertEqual(madt.localAPICAddress, 0xFEE0_0000)
        XCTAssertEqual(madt.effectiveLocalAPICAddress, 0xFEE0_0000)
        XCTAssertTrue(madt.hasLegacyPICs)
        XCTAssertEqual(madt.malformedEntries, 0)
        XCTAssertEqual(Array(madt.entries), [
            .localAPIC(processorID: 0, apicID: 0, enabled: true, onlineCapable: false),
            .localAPIC(processorID: 1, apicID: 1, enabled: true, onlineCapable: false),
            .localAPIC(processorID: 2, apicID: 2, enabled: true, onlineCapable: false),
            .localAPIC(processorID: 3, apicID: 3, enabled: true, onlineCapable: false),
            .ioAPIC(id: 0, address: 0xFEC0_0000, globalSystemInterruptBase: 0),
            .interruptSourceOverride(bus: 0, source: 0, globalSystemInterrupt: 2, flags: InterruptInputFlags(rawValue: 0)),
            .interruptSourceOverride(bus: 0, source: 5, globalSystemInterrupt: 5, flags: InterruptInputFlags(rawValue: 0xD)),
            .interruptSourceOverride(bus: 0, source: 9, globalSystemInterrupt: 9, flags: InterruptInputFlags(rawValue: 0xD)),
            .interruptSourceOverride(bus: 0, source: 10, globalSystemInterrupt: 10, flags: InterruptInputFlags(rawValue: 0xD)),
            .interruptSourceOverride(bus: 0, source: 11, globalSystemInterrupt: 11, flags: InterruptInputFlags(rawValue: 0xD)),
            .localAPICNMI(processorID: 0xFF, flags: InterruptInputFlags(rawValue: 0), localInterruptInput: 1),
        ])
    }

    func testInterruptInputFlags() {
        let pciStyle = InterruptInputFlags(rawValue: 0xD)
        XCTAssertEqual(pciStyle.polarity, .activeHigh)
        XCTAssertEqual(pciStyle.triggerMode, .level)
        let low = InterruptInputFlags(rawValue: 0b0111)
        XCTAssertEqual(low.polarity, .activeLow)
        XCTAssertEqual(low.triggerMode, .edge)
        XCTAssertEqual(InterruptInputFlags(rawValue: 0).polarity, .conformsToBus)
        XCTAssertEqual(InterruptInputFlags(rawValue: 0b1010).triggerMode, .reserved)
    }

    func testEveryEntryType() throws {
        var body: [UInt8] = []
        body.appendLittleEndian(UInt32(0xFEE0_0000))
        body.appendLittleEndian(UInt32(0))
        body += [0, 8, 7, 9, 2, 0, 0, 0]  // local APIC, online capable but disabled
        body += [3, 8, 0x05, 0x00, 0x10, 0, 0, 0]  // NMI source, GSI 16
        body += [5, 12, 0, 0]
        body.appendLittleEndian(UInt64(0x1_FEE0_0000))
        body += [9, 16, 0, 0]
        body.appendLittleEndian(UInt32(300))
        body.appendLittleEndian(UInt32(3))
        body.appendLittleEndian(UInt32(42))
        body += [10, 12, 0x0F, 0x00]
        body.appendLittleEndian(UInt32(0xFFFF_FFFF))
        body += [1, 0, 0, 0]
        body += [0x7F, 4, 0xAA, 0xBB]  // an unknown type
        let madt = try MultipleAPICDescriptionTable(reader(makeTable("APIC", revision: 5, body: body)))
        XCTAssertFalse(madt.hasLegacyPICs)
        XCTAssertEqual(madt.malformedEntries, 0)
        XCTAssertEqual(madt.effectiveLocalAPICAddress, 0x1_FEE0_0000)
        XCTAssertEqual(Array(madt.entries), [
            .localAPIC(processorID: 7, apicID: 9, enabled: false, onlineCapable: true),
            .nonMaskableInterruptSource(flags: InterruptInputFlags(rawValue: 5), globalSystemInterrupt: 16),
            .localAPICAddressOverride(0x1_FEE0_0000),
            .localX2APIC(apicID: 300, processorUID: 42, enabled: true, onlineCapable: true),
            .localX2APICNMI(processorUID: 0xFFFF_FFFF, flags: InterruptInputFlags(rawValue: 0xF), localInterruptInput: 1),
            .unknown(type: 0x7F, length: 4),
        ])
    }

    func header() -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(UInt32(0xFEE0_0000))
        body.appendLittleEndian(UInt32(1))
        return body
    }

    func testZeroLengthEntryStopsTheWalk() throws {
        let body = header() + [0, 8, 0, 0, 1, 0, 0, 0] + [0, 0] + [0, 8, 1, 1, 1, 0, 0, 0]
        let madt = try MultipleAPICDescriptionTable(reader(makeTable("APIC", body: body)))
        XCTAssertEqual(Array(madt.entries).count, 1)
        XCTAssertEqual(madt.malformedEntries, 1)
    }

    func testEntryRunningPastTheTableStopsTheWalk() throws {
        let body = header() + [0, 8, 0, 0, 1, 0, 0, 0] + [1, 12, 0, 0, 0, 0]
        let madt = try MultipleAPICDescriptionTable(reader(makeTable("APIC", body: body)))
        XCTAssertEqual(Array(madt.entries), [.localAPIC(processorID: 0, apicID: 0, enabled: true, onlineCapable: false)])
        XCTAssertEqual(madt.malformedEntries, 1)
        let dangling = header() + [0]  // a lone type byte with no length byte
        XCTAssertEqual(try MultipleAPICDescriptionTable(reader(makeTable("APIC", body: dangling))).malformedEntries, 1)
    }

    func testKnownTypeShorterThanDefinedIsSkipped() throws {
        let body = header() + [0, 6, 0, 0, 1, 0] + [1, 4, 0, 0] + [0, 8, 1, 1, 1, 0, 0, 0]
        let madt = try MultipleAPICDescriptionTable(reader(makeTable("APIC", body: body)))
        XCTAssertEqual(Array(madt.entries), [.localAPIC(processorID: 1, apicID: 1, enabled: true, onlineCapable: false)])
        XCTAssertEqual(madt.malformedEntries, 2)
    }

    func testTableErrors() {
        var table = qemuMADT(processors: 2)
        table[50] ^= 0x40
        XCTAssertEqual(parseError(table), .badTableChecksum(signature: .madt))
        XCTAssertEqual(parseError(qemuHPET()), .badTableSignature(expected: .madt, found: .hpet))
        XCTAssertEqual(parseError(makeTable("APIC", body: [0, 0, 0xE0, 0xFE])), .badTableLength(signature: .madt))
        var longer = qemuMADT(processors: 2)
        longer.storeLittleEndian(UInt32(longer.count + 8), at: 4)
        fixChecksum(&longer, at: 9)
        XCTAssertEqual(parseError(longer), .badTableLength(signature: .madt))
        XCTAssertEqual(parseError(Array(qemuMADT(processors: 1).prefix(30))), .badTableLength(signature: .madt))
    }

    /// Random mutations (checksum repaired, so the entry walk sees them) never read outside the table.
    func testRandomMutationsNeverReadOutOfRange() {
        let original = qemuMADT(processors: 8)
        var generator = SplitMix64(state: 0xACB1)
        var parsed = 0
        for _ in 0..<3000 {
            var table = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 36..<table.count, using: &generator)
                table[index] = Bool.random(using: &generator) ? UInt8.random(in: 0...255, using: &generator) : UInt8.random(in: 0...20, using: &generator)
            }
            if Int.random(in: 0..<4, using: &generator) == 0 {
                table.storeLittleEndian(UInt32.random(in: 0...UInt32(table.count + 16), using: &generator), at: 4)
            }
            fixChecksum(&table, at: 9)
            let buffer = GuardedBuffer(table)
            defer { withExtendedLifetime(buffer) {} }
            guard let madt = try? MultipleAPICDescriptionTable(buffer.reader) else { continue }
            parsed += 1
            var count = 0
            for _ in madt.entries { count += 1 }
            XCTAssertLessThanOrEqual(count, table.count / 2)
            _ = madt.effectiveLocalAPICAddress
        }
        XCTAssertGreaterThan(parsed, 1000)
    }
}
