// Seeded fuzzing of the ACPI walk (RSDP, RSDT/XSDT, MADT, HPET, FADT, MCFG) over mutated recorded tables, against a plain reference, in guarded memory.

import ACPITables
import Foundation
import RawBytes
import TestSupport
import XCTest

/// Mutations of QEMU's recorded tables (Recorded/*.txt) and of two synthetic machines (an XSDT
/// one, and one whose MADT has every entry type) walked as the kernel walks them
/// (`Platform.discover`, plus the HPET, FADT — and the DSDT it names — and MCFG). Every table
/// sits in its own guarded buffer, so a read outside one crashes the test. A reference written
/// the plain way over byte arrays (`ReferenceACPI`) must agree on every input: the same error or
/// the same root table, listed addresses, valid and rejected tables (with reasons), and the same
/// decoded MADT entries, HPET, FADT and MCFG fields; every reader handed out lies inside one
/// table's bytes. Inputs: 5,000 in `swift test`, SWIGLET_FUZZ_ITERATIONS under `make fuzz`.
final class ACPIFuzzTests: XCTestCase {
    /// One structure in physical memory (the RSDP is structure 0 of a machine), with the
    /// guarded buffer that holds it when unchanged.
    struct Structure {
        var address: UInt64
        var bytes: [UInt8]
        var buffer: GuardedBuffer?
    }

    func testMutatedTablesMatchTheReference() throws {
        let machines = try Self.seedMachines()
        XCTAssertGreaterThanOrEqual(machines.count, 4)
        let fuzz = FuzzRun("ACPI tables", defaultIterations: 5_000, defaultSeed: 0xAC91_7AB1)
        var outcomes: [String: Int] = [:]
        let inputs = fuzz.run(in: self) { iteration, random in
            var structures = machines[iteration % machines.count]
            Self.mutate(&structures, using: &random)
            let memory = FakePhysicalMemory(guarded: structures.map { ($0.address, $0.buffer ?? GuardedBuffer($0.bytes)) })
            let reference = ReferenceACPI(regions: structures.map { ($0.address, $0.bytes) })
            let rootPointer = memory.regions[0].buffer.reader
            let expected = reference.walk(rootPointer: structures[0].bytes)
            let acpi: ACPI<FakePhysicalMemory>
            do throws(ACPIError) {
                acpi = try ACPI(rootPointer: rootPointer, memory: memory)
            } catch {
                outcomes["\(error)".prefix(while: { $0 != "(" }).description, default: 0] += 1
                if case .failure(let reason) = expected { return XCTAssertEqual(error, reason) }
                return XCTFail("refused with \(error), the reference accepts")
            }
            guard case .success(let walk) = expected else { return XCTFail("accepted, the reference says \(expected)") }
            outcomes["accepted", default: 0] += 1
            XCTAssertEqual(acpi.rootTable.physicalAddress, walk.root.address)
            XCTAssertEqual(bytesOf(acpi.rootTable.bytes), walk.root.bytes)
            XCTAssertTrue(memory.encloses(acpi.rootTable.bytes))
            XCTAssertEqual(Array(acpi.tableAddresses), walk.addresses)
            let tables = Array(acpi.tables)
            XCTAssertEqual(tables.map(\.physicalAddress), walk.valid.map(\.address))
            XCTAssertEqual(tables.map(\.header.signature.rawValue), walk.valid.map(\.signature))
            XCTAssertEqual(tables.map { bytesOf($0.bytes) }, walk.valid.map(\.bytes))
            for table in tables { XCTAssertTrue(memory.encloses(table.bytes)) }
            XCTAssertEqual(Array(acpi.rejectedTables), walk.rejected)
            for rejected in walk.rejected { outcomes["rejected \(rejected.reason)".prefix(while: { $0 != "(" }).description, default: 0] += 1 }

            checkMADT(acpi, reference: reference, walk: walk, outcomes: &outcomes)
            checkHPET(acpi, reference: reference, walk: walk, outcomes: &outcomes)
            checkFADT(acpi, reference: reference, walk: walk, memory: memory, outcomes: &outcomes)
            checkMCFG(acpi, reference: reference, walk: walk, outcomes: &outcomes)
        }
        print("ACPI fuzz outcomes: \(outcomes.sorted { $0.key < $1.key })")
        guard inputs == fuzz.iterations else { return }   // stopped at a failure, reported above
        // Every rule was reached.
        for outcome in ["accepted", "truncatedRootPointer", "badRootPointerSignature", "badRootPointerChecksum",
                        "badRootPointerLength", "badExtendedChecksum", "badTableChecksum", "badTableLength", "badTableSignature",
                        "unreadable", "rejected unreadable", "rejected badTableLength", "rejected badTableChecksum",
                        "MADT", "MADT malformed entries", "MADT refused", "HPET", "HPET refused", "FADT", "FADT refused",
                        "DSDT", "MCFG", "MCFG refused"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 0, "\(outcome) never happened: \(outcomes.sorted { $0.key < $1.key })")
        }
    }

    private func checkMADT(_ acpi: ACPI<FakePhysicalMemory>, reference: ReferenceACPI, walk: ReferenceACPI.Walk,
                           outcomes: inout [String: Int]) {
        guard let expected = walk.valid.first(where: { $0.signature == TableSignature.madt.rawValue }) else {
            XCTAssertNil(acpi.find(.madt))
            if case .failure(let error) = Result(catching: { () throws(ACPIError) in try acpi.require(.madt) }) {
                XCTAssertEqual(error, .missingTable(signature: .madt))
            } else {
                XCTFail("require found an MADT the reference does not")
            }
            return
        }
        guard let bytes = acpi.find(.madt) else { return XCTFail("no MADT found") }
        do throws(ACPIError) {
            let madt = try MultipleAPICDescriptionTable(bytes)
            outcomes["MADT", default: 0] += 1
            let decoded = ReferenceACPI.madtEntries(expected.bytes)
            XCTAssertGreaterThanOrEqual(expected.bytes.count, 44)
            XCTAssertEqual(Array(madt.entries), decoded.entries)
            XCTAssertEqual(madt.malformedEntries, decoded.malformed)
            if decoded.malformed > 0 { outcomes["MADT malformed entries", default: 0] += 1 }
            XCTAssertEqual(madt.localAPICAddress, ReferenceACPI.u32(expected.bytes, 36))
            XCTAssertEqual(madt.flags.rawValue, ReferenceACPI.u32(expected.bytes, 40))
            var override: UInt64?
            for entry in decoded.entries {
                if case .localAPICAddressOverride(let address) = entry { override = address; break }
            }
            XCTAssertEqual(madt.effectiveLocalAPICAddress, override ?? UInt64(ReferenceACPI.u32(expected.bytes, 36)))
            XCTAssertTrue(acpi.memory.encloses(madt.bytes))
        } catch {
            outcomes["MADT refused", default: 0] += 1
            XCTAssertLessThan(expected.bytes.count, 44, "MADT refused with \(error)")
            XCTAssertEqual(error, .badTableLength(signature: .madt))
        }
    }

    private func checkHPET(_ acpi: ACPI<FakePhysicalMemory>, reference: ReferenceACPI, walk: ReferenceACPI.Walk,
                           outcomes: inout [String: Int]) {
        guard let expected = walk.valid.first(where: { $0.signature == TableSignature.hpet.rawValue }) else {
            return XCTAssertNil(acpi.find(.hpet))
        }
        guard let bytes = acpi.find(.hpet) else { return XCTFail("no HPET found") }
        let table = expected.bytes
        do throws(ACPIError) {
            let hpet = try HighPrecisionEventTimerTable(bytes)
            outcomes["HPET", default: 0] += 1
            XCTAssertGreaterThanOrEqual(table.count, 56)
            XCTAssertEqual(hpet.eventTimerBlockID.rawValue, ReferenceACPI.u32(table, 36))
            XCTAssertEqual(hpet.baseAddressStructure, ReferenceACPI.genericAddress(table, 40))
            XCTAssertEqual(hpet.hpetNumber, table[52])
            XCTAssertEqual(hpet.minimumClockTick, UInt16(table[53]) | UInt16(table[54]) << 8)
            XCTAssertEqual(hpet.pageProtection, table[55])
        } catch {
            outcomes["HPET refused", default: 0] += 1
            XCTAssertLessThan(table.count, 56, "HPET refused with \(error)")
            XCTAssertEqual(error, .badTableLength(signature: .hpet))
        }
    }

    private func checkFADT(_ acpi: ACPI<FakePhysicalMemory>, reference: ReferenceACPI, walk: ReferenceACPI.Walk, memory: FakePhysicalMemory,
                           outcomes: inout [String: Int]) {
        guard let expected = walk.valid.first(where: { $0.signature == TableSignature.fadt.rawValue }) else {
            return XCTAssertNil(acpi.find(.fadt))
        }
        guard let bytes = acpi.find(.fadt) else { return XCTFail("no FADT found") }
        let table = expected.bytes
        let fadt: FixedACPIDescriptionTable
        do throws(ACPIError) {
            fadt = try FixedACPIDescriptionTable(bytes)
        } catch {
            outcomes["FADT refused", default: 0] += 1
            XCTAssertLessThan(table.count, 116, "FADT refused with \(error)")
            return XCTAssertEqual(error, .badTableLength(signature: .fadt))
        }
        outcomes["FADT", default: 0] += 1
        XCTAssertGreaterThanOrEqual(table.count, 116)
        let extendedDSDT = table.count >= 148 ? ReferenceACPI.u64(table, 140) : 0
        let dsdtAddress = extendedDSDT != 0 ? extendedDSDT : UInt64(ReferenceACPI.u32(table, 40))
        XCTAssertEqual(fadt.dsdtAddress, dsdtAddress)
        XCTAssertEqual(fadt.systemControlInterrupt, UInt16(table[46]) | UInt16(table[47]) << 8)
        let extendedTimer = table.count >= 220 ? ReferenceACPI.genericAddress(table, 208) : nil
        let port = ReferenceACPI.u32(table, 76)
        let timer = extendedTimer.flatMap { $0.address != 0 ? $0 : nil }
            ?? (port != 0 ? GenericAddressStructure(addressSpace: .systemIO, registerBitWidth: 32, registerBitOffset: 0,
                                                    accessSize: 3, address: UInt64(port)) : nil)
        XCTAssertEqual(fadt.powerManagementTimer, timer)
        XCTAssertEqual(fadt.powerManagementTimerLength, table[91])
        XCTAssertEqual(fadt.centuryRegister, table[108])
        XCTAssertEqual(fadt.bootArchitectureFlags.rawValue, UInt16(table[109]) | UInt16(table[110]) << 8)
        let flags = ReferenceACPI.u32(table, 112)
        XCTAssertEqual(fadt.flags.rawValue, flags)
        let reset = flags & (1 << 10) != 0 && table.count >= 129 ? ReferenceACPI.genericAddress(table, 116) : nil
        XCTAssertEqual(fadt.reset?.register, reset)
        XCTAssertEqual(fadt.reset?.value, reset == nil ? nil : table[128])
        // The DSDT, which no root table lists: loaded by address like any other.
        let dsdt = Result { () throws(ACPIError) in try acpi.table(at: fadt.dsdtAddress) }
        switch (dsdt, reference.load(at: dsdtAddress)) {
        case (.success(let table), .success(let expected)):
            outcomes["DSDT", default: 0] += 1
            XCTAssertEqual(bytesOf(table.bytes), expected.bytes)
            XCTAssertEqual(table.header.signature.rawValue, expected.signature)
            XCTAssertTrue(memory.encloses(table.bytes))
        case (.failure(let error), .failure(let expected)):
            XCTAssertEqual(error, expected)
        case (let got, let expected):
            XCTFail("DSDT at \(dsdtAddress): \(got), the reference says \(expected)")
        }
    }

    private func checkMCFG(_ acpi: ACPI<FakePhysicalMemory>, reference: ReferenceACPI, walk: ReferenceACPI.Walk,
                           outcomes: inout [String: Int]) {
        guard let expected = walk.valid.first(where: { $0.signature == TableSignature.mcfg.rawValue }) else {
            return XCTAssertNil(acpi.find(.mcfg))
        }
        guard let bytes = acpi.find(.mcfg) else { return XCTFail("no MCFG found") }
        let table = expected.bytes
        do throws(ACPIError) {
            let mcfg = try MemoryMappedConfigurationTable(bytes)
            outcomes["MCFG", default: 0] += 1
            XCTAssertGreaterThanOrEqual(table.count, 44)
            let allocations = stride(from: 44, through: table.count - 16, by: 16).map {
                ConfigurationSpaceAllocation(baseAddress: ReferenceACPI.u64(table, $0),
                                             segmentGroup: UInt16(table[$0 + 8]) | UInt16(table[$0 + 9]) << 8,
                                             startBus: table[$0 + 10], endBus: table[$0 + 11])
            }
            XCTAssertEqual(Array(mcfg.allocations), allocations)
        } catch {
            outcomes["MCFG refused", default: 0] += 1
            XCTAssertLessThan(table.count, 44, "MCFG refused with \(error)")
            XCTAssertEqual(error, .badTableLength(signature: .mcfg))
        }
    }

    // MARK: Seeds and mutations

    /// The recorded machines, and two synthetic ones: QEMU's q35 tables reached through an ACPI
    /// 2.0 RSDP and an XSDT (the RSDT kept too, as firmware does), and the pc tables with an MADT
    /// holding every entry type the parser decodes plus an unknown one. Each structure gets its
    /// guarded buffer once.
    static func seedMachines() throws -> [[Structure]] {
        guard let directory = Bundle.module.url(forResource: "Recorded", withExtension: nil) else { return [] }
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "txt" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        var machines = try files.map { try ACPIMachine.parse(fixture: String(contentsOf: $0, encoding: .utf8)) }

        var extended = ACPIMachine.qemu(q35: true, processors: 2)
        var entries: [UInt8] = []
        for table in extended.tables where !["DSDT", "RSDT"].contains(String(decoding: table.bytes.prefix(4), as: UTF8.self)) {
            entries.appendLittleEndian(table.address)
        }
        let xsdtAddress: UInt64 = 0x7FE_1F00
        extended.tables.append((xsdtAddress, makeTable("XSDT", body: entries)))
        extended.rootPointer = makeRootPointer(revision: 2, rsdt: 0x7FE_1E00, xsdt: xsdtAddress)
        machines.append(extended)

        let everyEntry = ACPIMachine.qemu(q35: false, processors: 2)
        var body: [UInt8] = []
        body.appendLittleEndian(UInt32(0xFEE0_0000))
        body.appendLittleEndian(UInt32(1))
        body += [0, 8, 0, 0, 1, 0, 0, 0]                                    // local APIC
        body += [1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0]                 // I/O APIC
        body += [2, 10, 0, 0, 2, 0, 0, 0, 0, 0]                             // interrupt source override
        body += [3, 8, 0x0D, 0, 9, 0, 0, 0]                                 // NMI source
        body += [4, 6, 0xFF, 0, 0, 1]                                       // local APIC NMI
        body += [5, 12, 0, 0, 0, 0, 0xE0, 0xFE, 0, 0, 0, 0]                 // local APIC address override
        body += [9, 16, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]           // local x2APIC
        body += [10, 12, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]          // local x2APIC NMI
        body += [0x7F, 4, 0xAA, 0xBB]                                       // unknown
        let madtAddress = everyEntry.tables.first { String(decoding: $0.bytes.prefix(4), as: UTF8.self) == "APIC" }!.address
        machines.append(everyEntry.replacing(madtAddress, with: makeTable("APIC", revision: 5, body: body)))

        return machines.map { machine in
            [Structure(address: machine.rootPointerAddress, bytes: machine.rootPointer, buffer: GuardedBuffer(machine.rootPointer))]
                + machine.tables.map { Structure(address: $0.address, bytes: $0.bytes, buffer: GuardedBuffer($0.bytes)) }
        }
    }

    /// One to three changes, each to one structure, which then loses its shared buffer: a random
    /// byte; an interesting Length; another signature; a root table entry pointing elsewhere
    /// (another table, into one, nowhere); an entry added or dropped; an MADT entry's type or
    /// length; the region cut or extended; the RSDP's revision, Length or root addresses; a new
    /// table of random bytes listed in the root table. Then, three times in four per changed
    /// structure, its checksums made right again so the walk goes deeper.
    static func mutate(_ structures: inout [Structure], using random: inout SplitMix64) {
        var changed = Set<Int>()
        func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 { ReferenceACPI.u32(bytes, at) }
        let signatures = ["APIC", "HPET", "FACP", "MCFG", "RSDT", "XSDT", "DSDT", "WAET"]
        let lengths: [UInt32] = [0, 1, 35, 36, 43, 44, 55, 56, 115, 116, 147, 148, 219, 220, 0x100_0000, 0x100_0001, 0xFFFF_FFFF]
        // The root tables (the XSDT machine has both).
        let roots = structures.indices.dropFirst().filter { ["RSDT", "XSDT"].contains(signatureText(structures[$0].bytes)) }
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let rootIndex = roots.randomElement(using: &random)
            let target = Int.random(in: 0..<structures.count, using: &random)
            var bytes = structures[target].bytes
            switch Int.random(in: 0..<11, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 1 where target != 0 && bytes.count >= 8:
                let length = lengths.randomElement(using: &random)!
                bytes.storeLittleEndian(Bool.random(using: &random) ? length : UInt32(bytes.count) &+ UInt32.random(in: 0...2, using: &random) &- 1,
                                        at: 4)
            case 2 where target != 0 && bytes.count >= 4:
                bytes.replaceSubrange(0..<4, with: Array(signatures.randomElement(using: &random)!.utf8))
            case 3, 4:
                // A root table entry.
                guard let root = rootIndex else { break }
                var table = structures[root].bytes
                let width = signatureText(table) == "XSDT" ? 8 : 4
                let count = (table.count - 36) / width
                guard count > 0 else { break }
                let entry = 36 + width * Int.random(in: 0..<count, using: &random)
                let other = structures[Int.random(in: 0..<structures.count, using: &random)].address
                let address: UInt64 = switch Int.random(in: 0..<4, using: &random) {
                case 0: other
                case 1: other &+ UInt64.random(in: 0...64, using: &random) &- 8
                case 2: UInt64.random(in: 0...UInt64.max, using: &random)
                default: 0
                }
                if width == 8 { table.storeLittleEndian(address, at: entry) } else { table.storeLittleEndian(UInt32(truncatingIfNeeded: address), at: entry) }
                structures[root].bytes = table
                changed.insert(root)
                continue
            case 5:
                // An entry more or fewer in the root table (its Length follows).
                guard let root = rootIndex else { break }
                var table = structures[root].bytes
                let width = signatureText(table) == "XSDT" ? 8 : 4
                if Bool.random(using: &random) && table.count >= 36 + width {
                    table.removeLast(width)
                } else {
                    let other = structures[Int.random(in: 0..<structures.count, using: &random)].address
                    for byte in 0..<width { table.append(UInt8(truncatingIfNeeded: other >> (8 * UInt64(byte)))) }
                }
                // A root table an earlier mutation cut below its Length field has none to fix.
                if table.count >= 8 { table.storeLittleEndian(UInt32(table.count), at: 4) }
                structures[root].bytes = table
                changed.insert(root)
                continue
            case 6 where signatureText(bytes) == "APIC" && bytes.count > 46:
                // An entry's type or length byte, found by walking the entries.
                var offsets: [Int] = []
                var offset = 44
                while offset + 1 < bytes.count && bytes[offset + 1] >= 2 { offsets.append(offset); offset += Int(bytes[offset + 1]) }
                guard let entry = offsets.randomElement(using: &random) else { break }
                if Bool.random(using: &random) {
                    bytes[entry] = [0, 1, 2, 3, 4, 5, 9, 10, 0x7F].randomElement(using: &random)!
                } else {
                    let length = bytes[entry + 1]
                    bytes[entry + 1] = [0, 1, 2, 3, length &- 1, length &+ 1, 255].randomElement(using: &random)!
                }
            case 7:
                // The memory holds fewer or more bytes than the structure's Length says.
                if Bool.random(using: &random) {
                    bytes.removeLast(Int.random(in: 0...min(bytes.count, 40), using: &random))
                } else {
                    bytes += (0..<Int.random(in: 1...32, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
            case 8:
                // The RSDP: revision, Length, RSDT or XSDT address.
                var pointer = structures[0].bytes
                guard pointer.count >= 20 else { break }
                let other = structures[Int.random(in: 0..<structures.count, using: &random)].address
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    pointer[15] = [0, 1, 2, 3, 0xFF].randomElement(using: &random)!
                    if pointer[15] >= 2 && pointer.count < 36 {
                        pointer += [36, 0, 0, 0] + (0..<12).map { _ in 0 }
                        pointer.storeLittleEndian(other, at: 24)
                    }
                case 1 where pointer.count >= 24:
                    pointer.storeLittleEndian([UInt32(0), 20, 35, 36, 37, 44, 0xFFFF_FFFF].randomElement(using: &random)!, at: 20)
                case 2:
                    pointer.storeLittleEndian(UInt32(truncatingIfNeeded: other), at: 16)
                default:
                    if pointer.count >= 32 { pointer.storeLittleEndian(Bool.random(using: &random) ? other : 0, at: 24) }
                }
                structures[0].bytes = pointer
                changed.insert(0)
                continue
            case 9:
                // A new table of random bytes, listed in the root table.
                guard let root = rootIndex else { break }
                var body = (0..<Int.random(in: 0...160, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if body.count >= 8 && Bool.random(using: &random) { body[4] = 2 }
                let signature = signatures.randomElement(using: &random)!
                let address = structures.map(\.address).max()! + 0x1000
                structures.append(Structure(address: address, bytes: makeTable(signature, body: body), buffer: nil))
                var table = structures[root].bytes
                let width = signatureText(table) == "XSDT" ? 8 : 4
                for byte in 0..<width { table.append(UInt8(truncatingIfNeeded: address >> (8 * UInt64(byte)))) }
                if table.count >= 8 { table.storeLittleEndian(UInt32(table.count), at: 4) }   // see case 5
                structures[root].bytes = table
                changed.insert(root)
                continue
            default:
                break
            }
            structures[target].bytes = bytes
            changed.insert(target)
        }
        for index in changed.sorted() {
            structures[index].buffer = nil
            var bytes = structures[index].bytes
            guard Int.random(in: 0..<4, using: &random) != 0 else { continue }
            if index == 0 {
                if bytes.count >= 20 { fixSum(&bytes, at: 8, over: 20) }
                if bytes.count >= 36 { fixSum(&bytes, at: 32, over: min(Int(u32(bytes, 20)), bytes.count)) }
            } else if bytes.count >= 36 {
                fixSum(&bytes, at: 9, over: min(Int(u32(bytes, 4)), bytes.count))
            }
            structures[index].bytes = bytes
        }
    }

    /// Sets byte `index` so that the first `count` bytes sum to zero (when it is among them).
    private static func fixSum(_ bytes: inout [UInt8], at index: Int, over count: Int) {
        guard index < count else { return }
        bytes[index] = 0
        bytes[index] = 0 &- bytes[0..<count].reduce(0, &+)
    }

    private static func signatureText(_ bytes: [UInt8]) -> String { String(decoding: bytes.prefix(4), as: UTF8.self) }
}

/// The ACPI walk done the plain way over byte arrays (ACPI 6.5 §5.2.5 to §5.2.12), written apart
/// from `ACPITables` so that the two can be compared.
struct ReferenceACPI {
    struct Table: Equatable {
        var address: UInt64
        var signature: UInt32
        var bytes: [UInt8]
    }

    struct Walk {
        var root: Table
        var addresses: [UInt64]
        var valid: [Table]
        var rejected: [RejectedTable]
    }

    let regions: [(address: UInt64, bytes: [UInt8])]

    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 { UInt64(u32(bytes, at)) | UInt64(u32(bytes, at + 4)) << 32 }

    /// The Generic Address Structure at `at` (ACPI 6.5 §5.2.3.2).
    static func genericAddress(_ bytes: [UInt8], _ at: Int) -> GenericAddressStructure {
        GenericAddressStructure(addressSpace: .init(rawValue: bytes[at]), registerBitWidth: bytes[at + 1],
                                registerBitOffset: bytes[at + 2], accessSize: bytes[at + 3], address: u64(bytes, at + 4))
    }

    /// `count` bytes at `address` when they lie inside one region (the first that holds them).
    func read(_ address: UInt64, _ count: Int) -> [UInt8]? {
        for region in regions where address >= region.address {
            let offset = address - region.address
            guard offset <= UInt64(region.bytes.count), UInt64(count) <= UInt64(region.bytes.count) - offset else { continue }
            return Array(region.bytes[Int(offset)..<(Int(offset) + count)])
        }
        return nil
    }

    /// A table: header readable, 36 ≤ Length ≤ 16 MiB, Length bytes readable, sum zero.
    func load(at address: UInt64) -> Result<Table, ACPIError> {
        guard let header = read(address, 36) else { return .failure(.unreadable(physicalAddress: address)) }
        let signature = Self.u32(header, 0), length = Int(Self.u32(header, 4))
        guard length >= 36, length <= 16 << 20 else { return .failure(.badTableLength(signature: TableSignature(rawValue: signature))) }
        guard let bytes = read(address, length) else { return .failure(.unreadable(physicalAddress: address)) }
        guard bytes.reduce(0, &+) == 0 else { return .failure(.badTableChecksum(signature: TableSignature(rawValue: signature))) }
        return .success(Table(address: address, signature: signature, bytes: bytes))
    }

    /// The RSDP's checks, then the root table's, then every listed table.
    func walk(rootPointer pointer: [UInt8]) -> Result<Walk, ACPIError> {
        guard pointer.count >= 20 else { return .failure(.truncatedRootPointer) }
        guard pointer.starts(with: Array("RSD PTR ".utf8)) else { return .failure(.badRootPointerSignature) }
        guard pointer[0..<20].reduce(0, &+) == 0 else { return .failure(.badRootPointerChecksum) }
        var rootAddress = UInt64(Self.u32(pointer, 16))
        var expected = TableSignature.rsdt
        if pointer[15] >= 2 {
            guard pointer.count >= 24 else { return .failure(.truncatedRootPointer) }
            let length = Self.u32(pointer, 20)
            guard length >= 36, Int(length) <= pointer.count else { return .failure(.badRootPointerLength(length)) }
            guard pointer[0..<Int(length)].reduce(0, &+) == 0 else { return .failure(.badExtendedChecksum) }
            if Self.u64(pointer, 24) != 0 {
                rootAddress = Self.u64(pointer, 24)
                expected = .xsdt
            }
        }
        let root: Table
        switch load(at: rootAddress) {
        case .failure(let error): return .failure(error)
        case .success(let table): root = table
        }
        guard root.signature == expected.rawValue else {
            return .failure(.badTableSignature(expected: expected, found: TableSignature(rawValue: root.signature)))
        }
        let width = expected == .xsdt ? 8 : 4
        let addresses = stride(from: 36, through: root.bytes.count - width, by: width).map {
            width == 8 ? Self.u64(root.bytes, $0) : UInt64(Self.u32(root.bytes, $0))
        }
        var walk = Walk(root: root, addresses: addresses, valid: [], rejected: [])
        for address in addresses {
            switch load(at: address) {
            case .success(let table): walk.valid.append(table)
            case .failure(let error):
                walk.rejected.append(RejectedTable(signature: read(address, 36).map { TableSignature(rawValue: Self.u32($0, 0)) },
                                                   physicalAddress: address, reason: error))
            }
        }
        return .success(walk)
    }

    /// The MADT's entries from offset 44: the walk stops at a length below 2 or past the end
    /// (one malformed entry); a known type shorter than its structure is skipped (malformed).
    static func madtEntries(_ table: [UInt8]) -> (entries: [MADTEntry], malformed: Int) {
        let minimum: [UInt8: Int] = [0: 8, 1: 12, 2: 10, 3: 8, 4: 6, 5: 12, 9: 16, 10: 12]
        var entries: [MADTEntry] = []
        var malformed = 0
        var offset = 44
        while offset < table.count {
            guard offset + 1 < table.count, table[offset + 1] >= 2, offset + Int(table[offset + 1]) <= table.count else {
                malformed += 1
                break
            }
            let type = table[offset], length = Int(table[offset + 1])
            let entry = Array(table[offset..<(offset + length)])
            offset += length
            guard let needed = minimum[type] else {
                entries.append(.unknown(type: type, length: UInt8(length)))
                continue
            }
            guard length >= needed else { malformed += 1; continue }
            func u16(_ at: Int) -> UInt16 { UInt16(entry[at]) | UInt16(entry[at + 1]) << 8 }
            switch type {
            case 0:
                entries.append(.localAPIC(processorID: entry[2], apicID: entry[3], enabled: entry[4] & 1 != 0,
                                          onlineCapable: entry[4] & 2 != 0))
            case 1:
                entries.append(.ioAPIC(id: entry[2], address: u32(entry, 4), globalSystemInterruptBase: u32(entry, 8)))
            case 2:
                entries.append(.interruptSourceOverride(bus: entry[2], source: entry[3], globalSystemInterrupt: u32(entry, 4),
                                                        flags: InterruptInputFlags(rawValue: u16(8))))
            case 3:
                entries.append(.nonMaskableInterruptSource(flags: InterruptInputFlags(rawValue: u16(2)),
                                                           globalSystemInterrupt: u32(entry, 4)))
            case 4:
                entries.append(.localAPICNMI(processorID: entry[2], flags: InterruptInputFlags(rawValue: u16(3)),
                                             localInterruptInput: entry[5]))
            case 5:
                entries.append(.localAPICAddressOverride(u64(entry, 4)))
            case 9:
                entries.append(.localX2APIC(apicID: u32(entry, 4), processorUID: u32(entry, 12), enabled: entry[8] & 1 != 0,
                                            onlineCapable: entry[8] & 2 != 0))
            default:
                entries.append(.localX2APICNMI(processorUID: u32(entry, 4), flags: InterruptInputFlags(rawValue: u16(2)),
                                               localInterruptInput: entry[8]))
            }
        }
        return (entries, malformed)
    }
}
