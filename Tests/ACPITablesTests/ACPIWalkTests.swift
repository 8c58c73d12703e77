// Walking the RSDT/XSDT: table order, XSDT preference, rejected tables and their reasons.

import ACPITables
import RawBytes
import TestSupport
import XCTest

final class ACPIWalkTests: XCTestCase {
    func open(_ machine: ACPIMachine) throws -> ACPI<FakePhysicalMemory> {
        let memory = machine.memory()
        return try ACPI(rootPointer: memory.region(at: machine.rootPointerAddress)!, memory: memory)
    }

    func openError(_ machine: ACPIMachine) -> ACPIError? {
        let memory = machine.memory()
        do throws(ACPIError) {
            _ = try ACPI(rootPointer: memory.region(at: machine.rootPointerAddress)!, memory: memory)
            return nil
        } catch {
            return error
        }
    }

    func signatures(_ acpi: ACPI<FakePhysicalMemory>) -> [String] {
        acpi.tables.map(\.header.signature.description)
    }

    func testRSDTWalk() throws {
        let acpi = try open(.qemu(q35: false, processors: 4))
        XCTAssertFalse(acpi.usesExtendedRootTable)
        XCTAssertEqual(acpi.rootTable.header.signature, .rsdt)
        XCTAssertEqual(signatures(acpi), ["FACP", "APIC", "HPET", "WAET"])
        XCTAssertEqual(Array(acpi.tableAddresses), [0x7FE_18C3, 0x7FE_1A00, 0x7FE_1B00, 0x7FE_1D00])
        XCTAssertEqual(Array(acpi.rejectedTables), [])
        let madt = try XCTUnwrap(acpi.findTable(.madt))
        XCTAssertEqual(madt.physicalAddress, 0x7FE_1A00)
        XCTAssertEqual(madt.bytes.count, Int(madt.header.length))
        XCTAssertEqual(madt.header.revision, 1)
        XCTAssertTrue(madt.header.oemTableID.matches("BXPC"))
        XCTAssertEqual(madt.header.creatorID, 0x4350_5842)  // "BXPC"
        XCTAssertNil(acpi.find(.mcfg))
        XCTAssertThrowsError(try acpi.require(.mcfg)) { error in
            XCTAssertEqual(error as? ACPIError, .missingTable(signature: .mcfg))
        }
    }

    func testXSDTIsPreferredForRevision2() throws {
        var machine = ACPIMachine.qemu(q35: true, processors: 2)
        // An XSDT that lists only the MADT and MCFG, so that the walk shows which root was used.
        var entries: [UInt8] = []
        entries.appendLittleEndian(UInt64(0x7FE_1A00))
        entries.appendLittleEndian(UInt64(0x7FE_1C00))
        machine.tables.append((0x7FE_1F00, makeTable("XSDT", body: entries)))
        machine.rootPointer = makeRootPointer(revision: 2, rsdt: 0x7FE_1E00, xsdt: 0x7FE_1F00)
        let acpi = try open(machine)
        XCTAssertTrue(acpi.usesExtendedRootTable)
        XCTAssertEqual(signatures(acpi), ["APIC", "MCFG"])

        machine.rootPointer = makeRootPointer(revision: 2, rsdt: 0x7FE_1E00, xsdt: 0)
        XCTAssertEqual(signatures(try open(machine)), ["FACP", "APIC", "HPET", "MCFG", "WAET"])
    }

    func testRootTableErrors() {
        let machine = ACPIMachine.qemu(q35: false, processors: 1)
        var rsdt = machine.table(at: 0x7FE_1E00)!
        rsdt[40] ^= 0xFF
        XCTAssertEqual(openError(machine.replacing(0x7FE_1E00, with: rsdt)), .badTableChecksum(signature: .rsdt))

        var pointer = machine
        pointer.rootPointer = makeRootPointer(revision: 0, rsdt: 0x0BAD_0000)
        XCTAssertEqual(openError(pointer), .unreadable(physicalAddress: 0x0BAD_0000))

        pointer.rootPointer = makeRootPointer(revision: 0, rsdt: 0x7FE_1A00)  // points at the MADT
        XCTAssertEqual(openError(pointer), .badTableSignature(expected: .rsdt, found: .madt))

        var corruptPointer = machine
        corruptPointer.rootPointer[10] ^= 1
        XCTAssertEqual(openError(corruptPointer), .badRootPointerChecksum)
    }

    func testFlippedByteRejectsOnlyThatTable() throws {
        let machine = ACPIMachine.qemu(q35: false, processors: 4)
        var hpet = machine.table(at: 0x7FE_1B00)!
        hpet[44] ^= 0x01
        let acpi = try open(machine.replacing(0x7FE_1B00, with: hpet))
        XCTAssertEqual(signatures(acpi), ["FACP", "APIC", "WAET"])
        XCTAssertEqual(Array(acpi.rejectedTables), [
            RejectedTable(signature: .hpet, physicalAddress: 0x7FE_1B00, reason: .badTableChecksum(signature: .hpet)),
        ])
        XCTAssertNil(acpi.find(.hpet))
        XCTAssertNotNil(acpi.find(.madt))
    }

    func testLyingLengthsAreRejected() throws {
        let machine = ACPIMachine.qemu(q35: false, processors: 4)
        var longer = machine.table(at: 0x7FE_1B00)!
        longer.storeLittleEndian(UInt32(longer.count + 1), at: 4)  // runs past the mapped bytes
        var shorter = machine.table(at: 0x7FE_1A00)!
        shorter.storeLittleEndian(UInt32(20), at: 4)
        var huge = machine.table(at: 0x7FE_18C3)!
        huge.storeLittleEndian(UInt32.max, at: 4)
        let acpi = try open(machine
            .replacing(0x7FE_1B00, with: longer)
            .replacing(0x7FE_1A00, with: shorter)
            .replacing(0x7FE_18C3, with: huge))
        XCTAssertEqual(signatures(acpi), ["WAET"])
        XCTAssertEqual(Array(acpi.rejectedTables), [
            RejectedTable(signature: .fadt, physicalAddress: 0x7FE_18C3, reason: .badTableLength(signature: .fadt)),
            RejectedTable(signature: .madt, physicalAddress: 0x7FE_1A00, reason: .badTableLength(signature: .madt)),
            RejectedTable(signature: .hpet, physicalAddress: 0x7FE_1B00, reason: .unreadable(physicalAddress: 0x7FE_1B00)),
        ])
    }

    func testUnreadableEntry() throws {
        var machine = ACPIMachine.qemu(q35: false, processors: 1)
        var entries: [UInt8] = []
        entries.appendLittleEndian(UInt32(0x7FE_1A00))
        entries.appendLittleEndian(UInt32(0xDEAD_0000))
        entries += [0xAA, 0xBB]  // a partial entry is ignored
        machine = machine.replacing(0x7FE_1E00, with: makeTable("RSDT", body: entries))
        let acpi = try open(machine)
        XCTAssertEqual(Array(acpi.tableAddresses), [0x7FE_1A00, 0xDEAD_0000])
        XCTAssertEqual(signatures(acpi), ["APIC"])
        XCTAssertEqual(Array(acpi.rejectedTables), [
            RejectedTable(signature: nil, physicalAddress: 0xDEAD_0000, reason: .unreadable(physicalAddress: 0xDEAD_0000)),
        ])
    }

    func testTableAtAddressLoadsTheDSDT() throws {
        let acpi = try open(.qemu(q35: true, processors: 1))
        let fadt = try FixedACPIDescriptionTable(try acpi.require(.fadt))
        let dsdt = try acpi.table(at: fadt.dsdtAddress)
        XCTAssertEqual(dsdt.header.signature, .dsdt)
        XCTAssertThrowsError(try acpi.table(at: 0x42))
    }
}
