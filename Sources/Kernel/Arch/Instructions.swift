/// CPU instructions Swift cannot express, implemented in boot/cpu.asm and wrapped in typed Swift.

@_extern(c, "port_write8") func port_write8(_ port: UInt16, _ value: UInt8)
@_extern(c, "port_read8") func port_read8(_ port: UInt16) -> UInt8
@_extern(c, "port_write16") func port_write16(_ port: UInt16, _ value: UInt16)
@_extern(c, "port_read16") func port_read16(_ port: UInt16) -> UInt16
@_extern(c, "port_write32") func port_write32(_ port: UInt16, _ value: UInt32)
@_extern(c, "port_read32") func port_read32(_ port: UInt16) -> UInt32
@_extern(c, "read_cr0") func read_cr0() -> UInt64
@_extern(c, "write_cr0") func write_cr0(_ value: UInt64)
@_extern(c, "read_cr2") func read_cr2() -> UInt64
@_extern(c, "read_cr3") func read_cr3() -> UInt64
@_extern(c, "write_cr3") func write_cr3(_ value: UInt64)
@_extern(c, "read_cr4") func read_cr4() -> UInt64
@_extern(c, "write_cr4") func write_cr4(_ value: UInt64)
@_extern(c, "read_rflags") func read_rflags() -> UInt64
@_extern(c, "read_msr") func read_msr(_ msr: UInt32) -> UInt64
@_extern(c, "write_msr") func write_msr(_ msr: UInt32, _ value: UInt64)
@_extern(c, "read_random") func read_random(_ out: UnsafeMutablePointer<UInt64>) -> UInt64
@_extern(c, "cpuid_query") func cpuid_query(_ leaf: UInt32, _ subleaf: UInt32, _ out: UnsafeMutablePointer<UInt32>)
@_extern(c, "read_timestamp_counter") func read_timestamp_counter() -> UInt64
@_extern(c, "cpu_halt") func cpu_halt()
@_extern(c, "cpu_pause") func cpu_pause()
@_extern(c, "interrupts_enable") func interrupts_enable()
@_extern(c, "interrupts_disable") func interrupts_disable()
@_extern(c, "interrupts_enable_and_halt") func interrupts_enable_and_halt()
@_extern(c, "cpu_stop_forever") func cpu_stop_forever()
@_extern(c, "load_gdt") func load_gdt(_ pointer: UnsafeRawPointer, _ codeSelector: UInt16, _ dataSelector: UInt16)
@_extern(c, "load_idt") func load_idt(_ pointer: UnsafeRawPointer)
@_extern(c, "load_task_register") func load_task_register(_ selector: UInt16)
@_extern(c, "invalidate_page") func invalidate_page(_ address: UInt64)
@_extern(c, "current_cpu_block") func current_cpu_block() -> UInt64
@_extern(c, "raise_invalid_opcode") func raise_invalid_opcode()

/// An x86 I/O port of a given width.
struct IOPort {
    let number: UInt16
    init(_ number: UInt16) { self.number = number }
    func write(_ value: UInt8) { port_write8(number, value) }
    func read() -> UInt8 { port_read8(number) }
    func write16(_ value: UInt16) { port_write16(number, value) }
    func read16() -> UInt16 { port_read16(number) }
    func write32(_ value: UInt32) { port_write32(number, value) }
    func read32() -> UInt32 { port_read32(number) }
}

/// Model-specific registers the kernel uses — Intel SDM vol 4, table 2-2.
enum ModelSpecificRegister: UInt32 {
    case apicBase = 0x1B
    case extendedFeatureEnable = 0xC000_0080
    case fsBase = 0xC000_0100
    case gsBase = 0xC000_0101
    case kernelGSBase = 0xC000_0102
    case timestampCounterAux = 0xC000_0103

    func read() -> UInt64 { read_msr(rawValue) }
    func write(_ value: UInt64) { write_msr(rawValue, value) }
}

/// The result of one CPUID leaf — Intel SDM vol 2A, CPUID.
struct CPUIDResult {
    var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32

    init(leaf: UInt32, subleaf: UInt32 = 0) {
        var registers: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &registers) {
            $0.withMemoryRebound(to: UInt32.self, capacity: 4) { cpuid_query(leaf, subleaf, $0) }
        }
        (eax, ebx, ecx, edx) = registers
    }
}

/// Processor-wide operations on the current CPU.
enum Processor {
    /// Stops this CPU until the next reset: interrupts off, halt forever.
    static func stop() -> Never {
        cpu_stop_forever()
        while true {}   // not reached: cpu_stop_forever never returns
    }
    /// Spin-wait hint (PAUSE): lets a hyperthread sibling or QEMU's TCG loop breathe.
    @inline(__always) static func relax() { cpu_pause() }
    /// Whether interrupts are enabled (RFLAGS.IF, bit 9).
    static var interruptsEnabled: Bool { read_rflags() & (1 << 9) != 0 }
    /// The timestamp counter (RDTSC).
    @inline(__always) static func timestamp() -> UInt64 { read_timestamp_counter() }
}
