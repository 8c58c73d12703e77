/// What ACPI says about the machine: CPUs (local APIC IDs), I/O APICs and interrupt overrides.
import ACPITables
import RawBytes

/// Reads physical memory through the identity map (boot tables or the kernel's own).
struct IdentityMappedMemory: PhysicalMemoryReader {
    func bytes(at physicalAddress: UInt64, count: Int) -> ByteReader? {
        guard physicalAddress != 0, count >= 0, physicalAddress < 1 << 47 - UInt64(count) else { return nil }
        return ByteReader(start: UnsafeRawPointer(bitPattern: UInt(physicalAddress))!, count: count)
    }
}

/// The machine as ACPI describes it.
struct Platform {
    /// Local APIC IDs of the enabled CPUs, the boot CPU first.
    var processorAPICIDs: [UInt32] = []
    var localAPICAddress: UInt64 = 0xFEE0_0000
    var ioAPICs: [IOAPIC] = []
    var tablesFound = 0
    var tablesRejected = 0

    /// Walks the RSDP from the boot information, the RSDT/XSDT and the MADT. Tables with a bad
    /// checksum are rejected with a message; without a usable MADT the kernel runs on one CPU.
    static func discover(rootPointer: ByteReader?, bootAPICID: UInt32, dumpTables: Bool) -> Platform {
        var platform = Platform()
        platform.processorAPICIDs = [bootAPICID]
        guard let rootPointer else {
            Log.warning("acpi: the boot loader passed no RSDP; running on the boot CPU only")
            return platform
        }
        let acpi: ACPI<IdentityMappedMemory>
        do throws(ACPIError) {
            acpi = try ACPI(rootPointer: rootPointer, memory: IdentityMappedMemory())
        } catch {
            Log.error("acpi: root tables rejected (\(describe(error))); running on the boot CPU only")
            return platform
        }
        if dumpTables { ACPIDump.write(rootPointer: rootPointer, acpi: acpi) }
        for rejected in acpi.rejectedTables {
            platform.tablesRejected += 1
            Log.error("acpi: table \(signature: rejected.signature) at \(hex: rejected.physicalAddress) rejected: \(describe(rejected.reason))")
        }
        for _ in acpi.tables { platform.tablesFound += 1 }

        guard let madtBytes = acpi.find(.madt) else {
            Log.warning("acpi: no MADT; running on the boot CPU only")
            return platform
        }
        let madt: MultipleAPICDescriptionTable
        do throws(ACPIError) { madt = try MultipleAPICDescriptionTable(madtBytes) } catch {
            Log.error("acpi: MADT rejected (\(describe(error))); running on the boot CPU only")
            return platform
        }
        platform.localAPICAddress = UInt64(madt.localAPICAddress)
        for entry in madt.entries {
            switch entry {
            case .localAPIC(_, let apicID, let enabled, _):
                if enabled && UInt32(apicID) != bootAPICID { platform.processorAPICIDs.append(UInt32(apicID)) }
            case .localX2APIC(let apicID, _, let enabled, _):
                if enabled && apicID != bootAPICID { platform.processorAPICIDs.append(apicID) }
            case .ioAPIC(_, let address, let base):
                platform.ioAPICs.append(IOAPIC(base: UInt64(address), globalSystemInterruptBase: base))
            case .localAPICAddressOverride(let address):
                platform.localAPICAddress = address
            default:
                break
            }
        }
        return platform
    }

    static func describe(_ error: ACPIError) -> StaticString {
        switch error {
        case .badRootPointerSignature: "bad RSDP signature"
        case .badRootPointerChecksum: "bad RSDP checksum"
        case .badExtendedChecksum: "bad RSDP extended checksum"
        case .badTableChecksum: "bad checksum"
        case .badTableLength: "bad length"
        case .unreadable: "unreadable"
        case .missingTable: "missing"
        default: "malformed"
        }
    }
}

/// `acpi-dump`: prints the RSDP and every table as hex lines, the format of the recorded
/// fixtures in Tests/ACPITablesTests/Recorded (how they were made: docs/testing.md).
enum ACPIDump {
    static func write(rootPointer: ByteReader, acpi: ACPI<IdentityMappedMemory>) {
        line(kind: "RSDP", address: UInt64(UInt(bitPattern: rootPointer.baseAddress)), bytes: rootPointer)
        // The root table itself (RSDT or XSDT) and every valid table it lists (rejected ones
        // are reported as errors instead).
        line(kind: "TABLE", address: acpi.rootTable.physicalAddress, bytes: acpi.rootTable.bytes)
        for table in acpi.tables { line(kind: "TABLE", address: table.physicalAddress, bytes: table.bytes) }
    }

    /// One table per console line would exceed the line buffer: split into chunks that the
    /// recorder joins again (`ACPI <kind> <address> <offset> <hex>`).
    private static func line(kind: StaticString, address: UInt64, bytes: ByteReader) {
        var offset = 0
        while offset < bytes.count {
            var text = TextBuffer()
            text.appendLiteral("acpi-dump: ")
            text.appendInterpolation(kind)
            text.appendLiteral(" ")
            text.appendInterpolation(hex: address)
            text.appendLiteral(" ")
            text.appendInterpolation(offset)
            text.appendLiteral(" ")
            let chunk = min(64, bytes.count - offset)
            for index in 0..<chunk {
                let byte = bytes.u8(at: offset + index) ?? 0
                text.append(byte: hexDigit(byte >> 4))
                text.append(byte: hexDigit(byte & 0xF))
            }
            Console.write(line: Message(stringInterpolation: text))
            offset += chunk
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
