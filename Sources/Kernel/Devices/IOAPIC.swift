/// I/O APICs: route device interrupt lines to CPUs. At boot every line is masked.

/// One I/O APIC — Intel 82093AA data sheet §3. Registers are reached indirectly: write the
/// register number to IOREGSEL (offset 0x00), then read or write IOWIN (offset 0x10).
struct IOAPIC {
    let base: UInt64
    let globalSystemInterruptBase: UInt32

    enum Register: UInt32 {
        case id = 0x00
        case version = 0x01
        case redirectionTableBase = 0x10
    }

    /// A redirection table entry — 82093AA §3.2.4.
    struct RedirectionEntry {
        var vector: UInt8
        var masked: Bool
        var levelTriggered = false
        var activeLow = false
        var destinationAPICID: UInt8 = 0
        var low: UInt32 {
            UInt32(vector) | (activeLow ? 1 << 13 : 0) | (levelTriggered ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
        }
        var high: UInt32 { UInt32(destinationAPICID) << 24 }
    }

    private func read(_ register: UInt32) -> UInt32 {
        DeviceMemory.write32(base, register)
        return DeviceMemory.read32(base + 0x10)
    }
    private func write(_ register: UInt32, _ value: UInt32) {
        DeviceMemory.write32(base, register)
        DeviceMemory.write32(base + 0x10, value)
    }

    /// How many input lines this I/O APIC has (version register bits 16-23, plus one).
    var lineCount: Int { Int((read(Register.version.rawValue) >> 16) & 0xFF) + 1 }

    func setRedirection(line: Int, _ entry: RedirectionEntry) {
        let register = Register.redirectionTableBase.rawValue + UInt32(line) * 2
        write(register + 1, entry.high)
        write(register, entry.low)
    }

    /// Masks every line: devices reach CPUs only where the kernel routes them on purpose.
    func maskAll() {
        for line in 0..<lineCount {
            setRedirection(line: line, RedirectionEntry(vector: 0, masked: true))
        }
    }
}

/// The legacy 8259A pair, which the I/O APIC replaces: remapped away from the exception
/// vectors and fully masked (8259A data sheet, ICW1-ICW4 and OCW1).
enum LegacyPIC {
    private static let primaryCommand = IOPort(0x20), primaryData = IOPort(0x21)
    private static let secondaryCommand = IOPort(0xA0), secondaryData = IOPort(0xA1)

    static func remapAndMask() {
        primaryCommand.write(0x11); secondaryCommand.write(0x11)        // ICW1: initialize, ICW4 follows
        primaryData.write(UInt8(InterruptVector.legacyPICBase))         // ICW2: vector base
        secondaryData.write(UInt8(InterruptVector.legacyPICBase + 8))
        primaryData.write(1 << 2); secondaryData.write(2)               // ICW3: cascade on line 2
        primaryData.write(0x01); secondaryData.write(0x01)              // ICW4: 8086 mode
        primaryData.write(0xFF); secondaryData.write(0xFF)              // OCW1: mask everything
    }

    /// A masked 8259 can still raise a spurious IRQ 7 or 15; those need no EOI except the
    /// cascade acknowledgement for 15 on the primary.
    static func acknowledgeSpurious(line: Int) {
        if line == 15 { primaryCommand.write(0x20) }
    }
}
