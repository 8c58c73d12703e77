// HPET, MCFG and FADT decoding, table signatures and identifiers.

import ACPITables
import RawBytes
import TestSupport
import XCTest

final class OtherTablesTests: XCTestCase {
    var retained: [GuardedBuffer] = []

    func reader(_ bytes: [UInt8]) -> ByteReader {
        let buffer = GuardedBuffer(bytes)
        retained.append(buffer)
        return buffer.reader
    }

    func testHPET() throws {
        let hpet = try HighPrecisionEventTimerTable(reader(qemuHPET()))
        XCTAssertEqual(hpet.baseAddress, 0xFED0_0000)
        XCTAssertEqual(hpet.baseAddressStructure.addressSpace, .systemMemory)
        XCTAssertEqual(hpet.eventTimerBlockID.pciVendorID, 0x8086)
        XCTAssertEqual(hpet.eventTimerBlockID.comparatorCount, 3)
        XCTAssertEqual(hpet.eventTimerBlockID.hardwareRevisionID, 1)
        XCTAssertTrue(hpet.eventTimerBlockID.counterIs64Bit)
        XCTAssertTrue(hpet.eventTimerBlockID.legacyReplacementCapable)
        XCTAssertEqual(hpet.hpetNumber, 0)
        XCTAssertEqual(hpet.header.length, 56)
    }

    func testHPETErrors() {
        var corrupted = qemuHPET()
        corrupted[45] ^= 0x01
        XCTAssertThrowsError(try HighPrecisionEventTimerTable(reader(corrupted))) {
            XCTAssertEqual($0 as? ACPIError, .badTableChecksum(signature: .hpet))
        }
        XCTAssertThrowsError(try HighPrecisionEventTimerTable(reader(makeTable("HPET", body: [1, 2, 3, 4])))) {
            XCTAssertEqual($0 as? ACPIError, .badTableLength(signature: .hpet))
        }
    }

    func testMCFG() throws {
        var body = [UInt8](repeating: 0, count: 8)
        for (base, segment, start, end) in [(UInt64(0xB000_0000), UInt16(0), UInt8(0), UInt8(255)),
                                            (UInt64(0x1_0000_0000), UInt16(1), UInt8(16), UInt8(31))] {
            body.appendLittleEndian(base)
            body.appendLittleEndian(segment)
            body += [start, end, 0, 0, 0, 0]
        }
        body += [1, 2, 3]  // a partial allocation is ignored
        let mcfg = try MemoryMappedConfigurationTable(reader(makeTable("MCFG", body: body)))
        let allocations = Array(mcfg.allocations)
        XCTAssertEqual(allocations, [
            ConfigurationSpaceAllocation(baseAddress: 0xB000_0000, segmentGroup: 0, startBus: 0, endBus: 255),
            ConfigurationSpaceAllocation(baseAddress: 0x1_0000_0000, segmentGroup: 1, startBus: 16, endBus: 31),
        ])
        XCTAssertEqual(allocations[0].configurationAddress(bus: 1, device: 2, function: 3), 0xB011_3000)
        XCTAssertNil(allocations[1].configurationAddress(bus: 15, device: 0, function: 0))
        XCTAssertNil(allocations[0].configurationAddress(bus: 0, device: 32, function: 0))
        XCTAssertNil(allocations[0].configurationAddress(bus: 0, device: 0, function: 8))
    }

    func testFADTRevision1() throws {
        let fadt = try FixedACPIDescriptionTable(reader(qemuFADT(dsdt: 0x7FE_0040, revision3: false)))
        XCTAssertEqual(fadt.dsdtAddress, 0x7FE_0040)
        XCTAssertEqual(fadt.systemControlInterrupt, 9)
        XCTAssertEqual(fadt.powerManagementTimer?.address, 0x608)
        XCTAssertEqual(fadt.powerManagementTimer?.addressSpace, .systemIO)
        XCTAssertEqual(fadt.powerManagementTimerLength, 4)
        XCTAssertEqual(fadt.centuryRegister, 0x32)
        XCTAssertEqual(fadt.bootArchitectureFlags, [])
        XCTAssertTrue(fadt.flags.contains(.timerValueExtended))
        XCTAssertNil(fadt.reset)
    }

    func testFADTRevision3() throws {
        let fadt = try FixedACPIDescriptionTable(reader(qemuFADT(dsdt: 0x7FE_0040, revision3: true)))
        XCTAssertEqual(fadt.header.revision, 3)
        XCTAssertEqual(fadt.dsdtAddress, 0x7FE_0040)
        XCTAssertEqual(fadt.powerManagementTimer, GenericAddressStructure(
            addressSpace: .systemIO, registerBitWidth: 32, registerBitOffset: 0, accessSize: 3, address: 0x608))
        XCTAssertTrue(fadt.bootArchitectureFlags.contains(.has8042))
        XCTAssertEqual(fadt.reset?.register.address, 0xCF9)
        XCTAssertEqual(fadt.reset?.value, 0x0F)
        XCTAssertThrowsError(try FixedACPIDescriptionTable(reader(makeTable("FACP", body: [0, 0]))))
    }

    func testSignatures() {
        let pairs: [(TableSignature, StaticString)] = [
            (.madt, "APIC"), (.fadt, "FACP"), (.hpet, "HPET"), (.mcfg, "MCFG"), (.rsdt, "RSDT"), (.xsdt, "XSDT"),
            (.dsdt, "DSDT"),
        ]
        for (signature, text) in pairs {
            XCTAssertEqual(signature, TableSignature(text))
            XCTAssertEqual(signature.description, "\(text)")
        }
        XCTAssertEqual(TableSignature(rawValue: 0x0041_4243).description, "CBA?")
        let bytes = TableSignature.madt.printableBytes
        XCTAssertEqual([bytes.0, bytes.1, bytes.2, bytes.3], ascii("APIC"))
    }

    func testIdentifiers() throws {
        let bytes = reader(ascii("xBOCHS BXPC    "))
        let oem = try XCTUnwrap(ASCIIIdentifier(bytes, at: 1, length: 6))
        XCTAssertEqual(oem.description, "BOCHS")
        XCTAssertTrue(oem.matches("BOCHS"))
        XCTAssertFalse(oem.matches("BOCH"))
        XCTAssertFalse(oem.matches("BOCHS X"))
        XCTAssertEqual(ASCIIIdentifier(bytes, at: 7, length: 8)?.description, "BXPC")
        XCTAssertNil(ASCIIIdentifier(bytes, at: 8, length: 8))
        XCTAssertNil(ASCIIIdentifier(bytes, at: 0, length: 9))
    }
}
