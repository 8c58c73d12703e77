/// Boot options: the typed settings a command line such as `log=debug test=clock` selects.

/// How much the kernel logs.
public enum LogVerbosity: UInt8, Sendable {
    case debug, info, warning, error
}

/// In-kernel self tests, chosen with `test=NAME`. Each reports one result line and ends QEMU
/// through isa-debug-exit with its status.
public enum SelfTest: CaseIterable, Sendable {
    /// Every CPU the MADT lists comes online and answers.
    case processors
    /// One CPU touches an unmapped address; its fault is reported and the others go on.
    case pageFault
    /// One CPU executes UD2; the fault is reported and the others go on.
    case invalidOpcode
    /// One CPU overflows its stack into the guard page: a double fault on the IST stack,
    /// reported, and the others go on.
    case stackOverflow
    /// Every CPU allocates and frees at once; memory is reused, not leaked.
    case heapStress
    /// The monotonic clock keeps the CMOS clock's pace, on every CPU; the APIC timer agrees.
    case clock
    /// Inter-processor interrupts reach every CPU.
    case interprocessorInterrupts

    /// The name used on the command line and in result lines.
    public var name: StaticString {
        switch self {
        case .processors: "cpus"
        case .pageFault: "page-fault"
        case .invalidOpcode: "invalid-opcode"
        case .stackOverflow: "stack-overflow"
        case .heapStress: "heap-stress"
        case .clock: "clock"
        case .interprocessorInterrupts: "ipi"
        }
    }
}

/// Everything the boot command line can set, with the defaults used when it says nothing.
public struct BootOptions: Sendable {
    /// `log=debug|info|warn|error` (default `info`).
    public var logLevel: LogVerbosity = .info
    /// `test=NAME`: run one self test and exit QEMU with its result.
    public var selfTest: SelfTest? = nil
    /// `acpi-dump`: print every ACPI table as hex (to record test fixtures).
    public var dumpACPITables = false
    /// `fault-cpu=N`: the CPU that takes the deliberate fault in the fault tests (default: the
    /// last CPU, so the boot CPU can watch the others go on).
    public var faultCPU: Int? = nil

    public init() {}
}
