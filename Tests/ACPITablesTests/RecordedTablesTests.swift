// Tables recorded from QEMU (Recorded/*.txt): parse them, check the MADT against the machine
// named in the file, and check that a flipped byte in any table is rejected.

import ACPITables
import Foundation
import RawBytes
import TestSupport
import XCTest

final class RecordedTablesTests: XCTestCase {
    /// The recorded fixture files, sorted by name.
    func recordedFixtures() throws -> [URL] {
        guard let directory = Bundle.module.url(forResource: "Recorded", withExtension: nil) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "txt" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testRecordedMachines() throws {
        let fixtures = try recordedFixtures()
        if fixtures.isEmpty { throw XCTSkip("no recorded fixtures in Recorded/ yet") }
        for url in fixtures {
            let machine = try ACPIMachine.parse(fixture: String(contentsOf: url, encoding: .utf8))
            try checkMachine(named: url.deletingPathExtension().lastPathComponent, machine)
        }
    }

    func testRecordedTablesRejectAFlippedByte() throws {
        let fixtures = try recordedFixtures()
        if fixtures.isEmpty { throw XCTSkip("no recorded fixtures in Recorded/ yet") }
        for url in fixtures {
            try checkCorruption(try ACPIMachine.parse(fixture: String(contentsOf: url, encoding: .utf8)))
        }
    }

    /// The same checks over synthetic machines written to and read back from the fixture format,
    /// so the loader and the checks are exercised before real recordings exist.
    func testSyntheticFixturesRoundTrip() throws {
        for (name, machine) in [("qemu-pc-smp4", ACPIMachine.qemu(q35: false, processors: 4)),
                                ("qemu-q35-smp2", ACPIMachine.qemu(q35: true, processors: 2)),
                                ("qemu-pc", ACPIMachine.qemu(q35: false, processors: 1))] {
            let text = machine.fixtureText()
            let parsed = try ACPIMachine.parse(fixture: text)
            XCTAssertEqual(parsed.rootPointer, machine.rootPointer)
            XCTAssertEqual(parsed.tables.map(\.address), machine.tables.map(\.address))
            XCTAssertEqual(parsed.tables.map(\.bytes), machine.tables.map(\.bytes))
            try checkMachine(named: name, parsed)
            try checkCorruption(parsed)
        }
    }

    func testFixtureParserAcceptsSpacedHexAndComments() throws {
        let table = makeTable("WAET", body: [0, 0, 0, 0])
        let spaced = table.map { String(format: "%02X", $0) }.joined(separator: " ")
        let rsdp = makeRootPointer(revision: 0, rsdt: 0x1000).map { String(format: "%02x", $0) }.joined()
        let text = "# comment\n\nRSDP 0xF5AD0 \(rsdp)\nTABLE 7fe1d00 \(spaced)\n"
        let machine = try ACPIMachine.parse(fixture: text)
        XCTAssertEqual(machine.rootPointerAddress, 0xF_5AD0)
        XCTAssertEqual(machine.tables.first?.address, 0x7FE_1D00)
        XCTAssertEqual(machine.tables.first?.bytes, table)
        XCTAssertThrowsError(try ACPIMachine.parse(fixture: "TABLE 10 0a0\n"))
        XCTAssertThrowsError(try ACPIMachine.parse(fixture: "TABLE 10 00\n"))  // no RSDP
    }

    /// Machine checks: every table valid; `smpN` in the name → N enabled processors in the MADT;
    /// one I/O APIC at 0xFEC00000; HPET at 0xFED00000 when present; MCFG on q35.
    func checkMachine(named name: String, _ machine: ACPIMachine, file: StaticString = #filePath, line: UInt = #line) throws {
        let memory = machine.memory()
        let acpi = try ACPI(rootPointer: XCTUnwrap(memory.region(at: machine.rootPointerAddress)), memory: memory)
        XCTAssertEqual(Array(acpi.rejectedTables), [], "\(name)", file: file, line: line)

        let madt = try MultipleAPICDescriptionTable(acpi.require(.madt))
        XCTAssertEqual(madt.malformedEntries, 0, "\(name)", file: file, line: line)
        XCTAssertEqual(madt.effectiveLocalAPICAddress, 0xFEE0_0000, "\(name)", file: file, line: line)
        var enabledProcessors = 0
        var ioAPICs: [UInt32] = []
        for entry in madt.entries {
            switch entry {
            case .localAPIC(_, _, let enabled, _), .localX2APIC(_, _, let enabled, _):
                if enabled { enabledProcessors += 1 }
            case .ioAPIC(_, let address, _):
                ioAPICs.append(address)
            default:
                break
            }
        }
        if let range = name.range(of: #"smp(\d+)"#, options: .regularExpression),
           let expected = Int(name[range].dropFirst(3)) {
            XCTAssertEqual(enabledProcessors, expected, "\(name): enabled processors", file: file, line: line)
        } else {
            XCTAssertGreaterThanOrEqual(enabledProcessors, 1, "\(name)", file: file, line: line)
        }
        XCTAssertEqual(ioAPICs, [0xFEC0_0000], "\(name): I/O APICs", file: file, line: line)

        if let hpetBytes = acpi.find(.hpet) {
            XCTAssertEqual(try HighPrecisionEventTimerTable(hpetBytes).baseAddress, 0xFED0_0000, "\(name)", file: file, line: line)
        }
        if name.contains("q35") {
            let mcfg = try MemoryMappedConfigurationTable(acpi.require(.mcfg))
            let first = Array(mcfg.allocations).first
            XCTAssertEqual(first?.segmentGroup, 0, "\(name)", file: file, line: line)
            XCTAssertEqual(first?.startBus, 0, "\(name)", file: file, line: line)
        }
        let fadt = try FixedACPIDescriptionTable(acpi.require(.fadt))
        XCTAssertNotNil(fadt.powerManagementTimer, "\(name)", file: file, line: line)
    }

    /// Flipping one byte of each listed table rejects exactly that table with a checksum error;
    /// flipping a byte of the root table or of the RSDP fails the whole walk.
    func checkCorruption(_ machine: ACPIMachine, file: StaticString = #filePath, line: UInt = #line) throws {
        let memory = machine.memory()
        let acpi = try ACPI(rootPointer: XCTUnwrap(memory.region(at: machine.rootPointerAddress)), memory: memory)
        let listed = Array(acpi.tables)
        XCTAssertFalse(listed.isEmpty, file: file, line: line)
        for table in listed {
            var bytes = try XCTUnwrap(machine.table(at: table.physicalAddress), file: file, line: line)
            bytes[bytes.count / 2 + 1] ^= 0x20
            let corrupted = machine.replacing(table.physicalAddress, with: bytes)
            let corruptedMemory = corrupted.memory()
            let walk = try ACPI(rootPointer: XCTUnwrap(corruptedMemory.region(at: machine.rootPointerAddress)),
                                memory: corruptedMemory)
            let signature = table.header.signature
            XCTAssertEqual(Array(walk.rejectedTables), [
                RejectedTable(signature: signature, physicalAddress: table.physicalAddress,
                              reason: .badTableChecksum(signature: signature)),
            ], "\(signature)", file: file, line: line)
            XCTAssertEqual(Array(walk.tables).count, listed.count - 1, file: file, line: line)
            if signature == .madt {
                XCTAssertThrowsError(try MultipleAPICDescriptionTable(bytesReader(corruptedMemory, table))) {
                    XCTAssertEqual($0 as? ACPIError, .badTableChecksum(signature: .madt))
                }
            }
        }
        var root = try XCTUnwrap(machine.table(at: acpi.rootTable.physicalAddress))
        root[root.count - 1] ^= 0x01
        let badRoot = machine.replacing(acpi.rootTable.physicalAddress, with: root).memory()
        XCTAssertThrowsError(try ACPI(rootPointer: XCTUnwrap(badRoot.region(at: machine.rootPointerAddress)), memory: badRoot)) {
            XCTAssertEqual($0 as? ACPIError, .badTableChecksum(signature: acpi.rootTable.header.signature))
        }
        var pointer = machine
        pointer.rootPointer[12] ^= 0x01
        let badPointer = pointer.memory()
        XCTAssertThrowsError(try ACPI(rootPointer: XCTUnwrap(badPointer.region(at: machine.rootPointerAddress)),
                                      memory: badPointer)) {
            XCTAssertEqual($0 as? ACPIError, .badRootPointerChecksum)
        }
    }

    func bytesReader(_ memory: FakePhysicalMemory, _ table: DescribedTable) -> ByteReader {
        memory.bytes(at: table.physicalAddress, count: table.bytes.count)!
    }
}
