// Builds QEMU-shaped ACPI tables byte by byte, fakes physical memory, and reads/writes the
// recorded-fixture text format ("RSDP <hex address> <hex bytes>", "TABLE <hex address> <hex bytes>").

import ACPITables
import Foundation
import TestSupport
import RawBytes

/// A table with a System Description Table Header (ACPI 6.5 §5.2.6) in front of `body`, its
/// Length and Checksum filled in.
func makeTable(_ signature: String, revision: UInt8 = 1, body: [UInt8]) -> [UInt8] {
    var table = ascii(signature)
    table.appendLittleEndian(UInt32(36 + body.count))
    table += [revision, 0]
    table += ascii("BOCHS ") + ascii("BXPC    ")
    table.appendLittleEndian(UInt32(1))  // OEM revision
    table += ascii("BXPC")
    table.appendLittleEndian(UInt32(1))  // creator revision
    table += body
    fixChecksum(&table, at: 9)
    return table
}

/// Sets the byte at `index` so that all bytes sum to zero.
func fixChecksum(_ bytes: inout [UInt8], at index: Int) {
    bytes[index] = 0
    bytes[index] = 0 &- bytes.reduce(0, &+)
}

/// An RSDP (ACPI 6.5 §5.2.5.3): revision 0 (20 bytes) or 2 (36 bytes), checksums filled in.
func makeRootPointer(revision: UInt8, rsdt: UInt32, xsdt: UInt64 = 0) -> [UInt8] {
    var bytes = ascii("RSD PTR ") + [0] + ascii("BOCHS ") + [revision]
    bytes.appendLittleEndian(rsdt)
    if revision >= 2 {
        bytes.appendLittleEndian(UInt32(36))
        bytes.appendLittleEndian(xsdt)
        bytes += [0, 0, 0, 0]
    }
    var first = Array(bytes[0..<20])
    fixChecksum(&first, at: 8)
    bytes[8] = first[8]
    if revision >= 2 { fixChecksum(&bytes, at: 32) }
    return bytes
}

/// MADT body entries as QEMU 7.2 builds them for the pc and q35 machines (hw/i386/acpi-common.c).
func qemuMADT(processors: Int, x2APIC: Bool = false) -> [UInt8] {
    var body: [UInt8] = []
    body.appendLittleEndian(UInt32(0xFEE0_0000))
    body.appendLittleEndian(UInt32(1))  // PCAT_COMPAT
    for index in 0..<processors {
        if x2APIC {
            body += [9, 16, 0, 0]
            body.appendLittleEndian(UInt32(index))
            body.appendLittleEndian(UInt32(1))
            body.appendLittleEndian(UInt32(index))
        } else {
            body += [0, 8, UInt8(index), UInt8(index)]
            body.appendLittleEndian(UInt32(1))
        }
    }
    body += [1, 12, 0, 0]
    body.appendLittleEndian(UInt32(0xFEC0_0000))
    body.appendLittleEndian(UInt32(0))
    for (source, interrupt, flags) in [(0, 2, 0), (5, 5, 0xD), (9, 9, 0xD), (10, 10, 0xD), (11, 11, 0xD)] {
        body += [2, 10, 0, UInt8(source)]
        body.appendLittleEndian(UInt32(interrupt))
        body.appendLittleEndian(UInt16(flags))
    }
    body += [4, 6, 0xFF, 0, 0, 1]  // local APIC NMI on LINT1 of all processors
    return makeTable("APIC", revision: 1, body: body)
}

/// HPET table (IA-PC HPET spec 1.0a §3.2.4) as QEMU builds it.
func qemuHPET() -> [UInt8] {
    var body: [UInt8] = []
    body.appendLittleEndian(UInt32(0x8086_A201))
    body += [0, 0, 0, 0]  // GAS: system memory, width 0, offset 0, access size 0
    body.appendLittleEndian(UInt64(0xFED0_0000))
    body += [0]  // HPET number
    body.appendLittleEndian(UInt16(0))
    body += [0]
    return makeTable("HPET", revision: 1, body: body)
}

/// MCFG table (PCI Firmware spec 3.2 §4.1.2) with one allocation, as QEMU q35 builds it.
func qemuMCFG() -> [UInt8] {
    var body = [UInt8](repeating: 0, count: 8)
    body.appendLittleEndian(UInt64(0xB000_0000))
    body.appendLittleEndian(UInt16(0))
    body += [0, 0xFF, 0, 0, 0, 0]
    return makeTable("MCFG", revision: 1, body: body)
}

/// FADT (ACPI 6.5 §5.2.9): the 116-byte ACPI 1.0 layout (pc) or the 244-byte revision 3 layout
/// (q35), with the PM timer at I/O port 0x608 (pc) or 0x608 via X_PM_TMR_BLK (q35).
func qemuFADT(dsdt: UInt32, revision3: Bool) -> [UInt8] {
    var body = [UInt8](repeating: 0, count: (revision3 ? 244 : 116) - 36)
    func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) { body.storeLittleEndian(value, at: offset - 36) }
    put(UInt32(dsdt), 40)
    put(UInt16(9), 46)  // SCI_INT
    put(UInt32(0x608), 76)  // PM_TMR_BLK
    put(UInt8(4), 91)  // PM_TMR_LEN
    put(UInt8(0x32), 108)  // CENTURY
    if revision3 {
        put(UInt16(0x0002), 109)  // IAPC_BOOT_ARCH: 8042
        put(UInt32(1 << 0 | 1 << 8 | 1 << 10), 112)  // WBINVD, TMR_VAL_EXT, RESET_REG_SUP
        put(UInt8(1), 116)  // RESET_REG: system I/O
        put(UInt8(8), 117)
        put(UInt64(0xCF9), 120)
        put(UInt8(0x0F), 128)  // RESET_VALUE
        put(UInt64(dsdt), 140)  // X_DSDT
        put(UInt8(1), 208)  // X_PM_TMR_BLK: system I/O, 32 bits, port 0x608
        put(UInt8(32), 209)
        put(UInt8(3), 211)
        put(UInt64(0x608), 212)
    } else {
        put(UInt32(1 << 0 | 1 << 8), 112)
    }
    return makeTable("FACP", revision: revision3 ? 3 : 1, body: body)
}

/// A machine's ACPI tables at their physical addresses.
struct ACPIMachine {
    var rootPointerAddress: UInt64
    var rootPointer: [UInt8]
    var tables: [(address: UInt64, bytes: [UInt8])]

    /// The table at `address`.
    func table(at address: UInt64) -> [UInt8]? { tables.first { $0.address == address }?.bytes }

    /// A copy with the table at `address` replaced.
    func replacing(_ address: UInt64, with bytes: [UInt8]) -> ACPIMachine {
        var copy = self
        copy.tables = tables.map { $0.address == address ? ($0.address, bytes) : $0 }
        return copy
    }

    /// Physical memory holding the RSDP and every table.
    func memory() -> FakePhysicalMemory {
        FakePhysicalMemory(regions: [(rootPointerAddress, rootPointer)] + tables.map { ($0.address, $0.bytes) })
    }

    /// The recorded-fixture text for this machine.
    func fixtureText() -> String {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        var lines = ["# synthetic fixture", "RSDP \(String(rootPointerAddress, radix: 16)) \(hex(rootPointer))"]
        for table in tables { lines.append("TABLE 0x\(String(table.address, radix: 16)) \(hex(table.bytes))") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads the recorded-fixture format: one line per structure, `RSDP <hex address> <hex>` and
    /// `TABLE <hex address> <hex>`; hex bytes may be one run or space separated; `#` starts a
    /// comment line; addresses may carry a 0x prefix.
    static func parse(fixture text: String) throws -> ACPIMachine {
        struct FixtureError: Error, CustomStringConvertible { let description: String }
        func number(_ token: Substring) throws -> UInt64 {
            let digits = token.hasPrefix("0x") || token.hasPrefix("0X") ? token.dropFirst(2) : token
            guard let value = UInt64(digits, radix: 16) else { throw FixtureError(description: "bad address \(token)") }
            return value
        }
        func bytes(_ tokens: ArraySlice<Substring>) throws -> [UInt8] {
            let digits = Array(tokens.joined().utf8)
            guard digits.count % 2 == 0 else { throw FixtureError(description: "odd hex digit count") }
            var result: [UInt8] = []
            result.reserveCapacity(digits.count / 2)
            for index in stride(from: 0, to: digits.count, by: 2) {
                guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)
                else { throw FixtureError(description: "bad hex byte") }
                result.append(byte)
            }
            return result
        }
        var rootPointer: (UInt64, [UInt8])?
        var tables: [(address: UInt64, bytes: [UInt8])] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = tokens.first, !keyword.hasPrefix("#") else { continue }
            guard tokens.count >= 3 else { throw FixtureError(description: "short line: \(line.prefix(40))") }
            let address = try number(tokens[1])
            let data = try bytes(tokens[2...])
            switch keyword {
            case "RSDP": rootPointer = (address, data)
            case "TABLE": tables.append((address, data))
            default: throw FixtureError(description: "unknown keyword \(keyword)")
            }
        }
        guard let rootPointer else { throw FixtureError(description: "no RSDP line") }
        return ACPIMachine(rootPointerAddress: rootPointer.0, rootPointer: rootPointer.1, tables: tables)
    }

    /// A QEMU-7.2-shaped machine: RSDP revision 0 → RSDT → FACP, APIC, HPET, (MCFG on q35), WAET;
    /// the DSDT is in memory but only referenced by the FADT.
    static func qemu(q35: Bool, processors: Int) -> ACPIMachine {
        let dsdt: UInt64 = 0x7FE_0040
        var tables: [(address: UInt64, bytes: [UInt8])] = [
            (dsdt, makeTable("DSDT", body: [0x10, 0x0A, 0x5C, 0x5F, 0x53, 0x42, 0x5F])),  // an AML scope stub
            (0x7FE_18C3, qemuFADT(dsdt: UInt32(dsdt), revision3: q35)),
            (0x7FE_1A00, qemuMADT(processors: processors)),
            (0x7FE_1B00, qemuHPET()),
        ]
        if q35 { tables.append((0x7FE_1C00, qemuMCFG())) }
        tables.append((0x7FE_1D00, makeTable("WAET", body: [0, 0, 0, 0])))
        var entries: [UInt8] = []
        for table in tables where table.address != dsdt { entries.appendLittleEndian(UInt32(table.address)) }
        let rsdtAddress: UInt64 = 0x7FE_1E00
        tables.append((rsdtAddress, makeTable("RSDT", body: entries)))
        return ACPIMachine(
            rootPointerAddress: 0xF_5AD0, rootPointer: makeRootPointer(revision: 0, rsdt: UInt32(rsdtAddress)),
            tables: tables)
    }
}

/// Physical memory made of guarded regions; any range not entirely inside one region is unreadable.
final class FakePhysicalMemory: PhysicalMemoryReader {
    let regions: [(address: UInt64, buffer: GuardedBuffer)]

    init(regions: [(UInt64, [UInt8])]) {
        self.regions = regions.map { ($0.0, GuardedBuffer($0.1)) }
    }

    /// Over buffers already guarded (the fuzz shares a seed's buffer while it is unchanged).
    init(guarded regions: [(address: UInt64, buffer: GuardedBuffer)]) {
        self.regions = regions
    }

    func bytes(at physicalAddress: UInt64, count: Int) -> ByteReader? {
        guard count >= 0 else { return nil }
        for region in regions where physicalAddress >= region.address {
            let offset = physicalAddress - region.address
            guard offset <= UInt64(region.buffer.count) else { continue }
            if let slice = region.buffer.reader.slice(at: Int(offset), count: count) { return slice }
        }
        return nil
    }

    /// Whether `reader` lies inside one region.
    func encloses(_ reader: ByteReader) -> Bool { regions.contains { $0.buffer.encloses(reader) } }

    /// The reader over the region starting at `address`.
    func region(at address: UInt64) -> ByteReader? {
        regions.first { $0.address == address }?.buffer.reader
    }
}
