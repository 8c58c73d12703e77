/// The registers saved by boot/interrupts.asm and the CPU on every interrupt or exception.

/// Saved state, lowest address first, exactly as `interrupt_common` leaves it on the stack:
/// the general registers it pushed, the vector and error code pushed by the stub, then the
/// frame the CPU pushed itself (Intel SDM vol 3A §6.14.2, figure 6-9).
struct InterruptFrame {
    var r15: UInt64, r14: UInt64, r13: UInt64, r12: UInt64
    var r11: UInt64, r10: UInt64, r9: UInt64, r8: UInt64
    var rbp: UInt64, rdi: UInt64, rsi: UInt64, rdx: UInt64
    var rcx: UInt64, rbx: UInt64, rax: UInt64
    var vector: UInt64
    /// The CPU's error code for vectors that have one, else 0 (pushed by the stub).
    var errorCode: UInt64
    var rip: UInt64, cs: UInt64, rflags: UInt64, rsp: UInt64, ss: UInt64

    /// Whether the interrupted code ran in ring 3.
    var fromUserMode: Bool { cs & 3 == 3 }
}

/// The architectural exception vectors — Intel SDM vol 3A §6.15, table 6-1.
enum ExceptionVector: Int {
    case divideError = 0, debug, nonMaskableInterrupt, breakpoint, overflow, boundRangeExceeded
    case invalidOpcode, deviceNotAvailable, doubleFault, coprocessorSegmentOverrun
    case invalidTaskState, segmentNotPresent, stackSegmentFault, generalProtection, pageFault
    case reserved15, floatingPointError, alignmentCheck, machineCheck, simdFloatingPoint
    case virtualization, controlProtection
    case hypervisorInjection = 28, vmmCommunication, security

    /// The mnemonic people look up: "#PF".
    var mnemonic: StaticString {
        switch self {
        case .divideError: "#DE"
        case .debug: "#DB"
        case .nonMaskableInterrupt: "NMI"
        case .breakpoint: "#BP"
        case .overflow: "#OF"
        case .boundRangeExceeded: "#BR"
        case .invalidOpcode: "#UD"
        case .deviceNotAvailable: "#NM"
        case .doubleFault: "#DF"
        case .coprocessorSegmentOverrun: "#CSO"
        case .invalidTaskState: "#TS"
        case .segmentNotPresent: "#NP"
        case .stackSegmentFault: "#SS"
        case .generalProtection: "#GP"
        case .pageFault: "#PF"
        case .reserved15: "#15"
        case .floatingPointError: "#MF"
        case .alignmentCheck: "#AC"
        case .machineCheck: "#MC"
        case .simdFloatingPoint: "#XM"
        case .virtualization: "#VE"
        case .controlProtection: "#CP"
        case .hypervisorInjection: "#HV"
        case .vmmCommunication: "#VC"
        case .security: "#SX"
        }
    }

    var name: StaticString {
        switch self {
        case .divideError: "divide error"
        case .debug: "debug"
        case .nonMaskableInterrupt: "non-maskable interrupt"
        case .breakpoint: "breakpoint"
        case .overflow: "overflow"
        case .boundRangeExceeded: "bound range exceeded"
        case .invalidOpcode: "invalid opcode"
        case .deviceNotAvailable: "device not available"
        case .doubleFault: "double fault"
        case .coprocessorSegmentOverrun: "coprocessor segment overrun"
        case .invalidTaskState: "invalid TSS"
        case .segmentNotPresent: "segment not present"
        case .stackSegmentFault: "stack-segment fault"
        case .generalProtection: "general protection"
        case .pageFault: "page fault"
        case .reserved15: "reserved"
        case .floatingPointError: "x87 floating-point error"
        case .alignmentCheck: "alignment check"
        case .machineCheck: "machine check"
        case .simdFloatingPoint: "SIMD floating-point"
        case .virtualization: "virtualization"
        case .controlProtection: "control protection"
        case .hypervisorInjection: "hypervisor injection"
        case .vmmCommunication: "VMM communication"
        case .security: "security"
        }
    }
}

/// The page-fault error code — Intel SDM vol 3A §4.7, figure 4-12.
struct PageFaultError: OptionSet {
    let rawValue: UInt64
    static let present = PageFaultError(rawValue: 1 << 0)
    static let write = PageFaultError(rawValue: 1 << 1)
    static let user = PageFaultError(rawValue: 1 << 2)
    static let reservedBit = PageFaultError(rawValue: 1 << 3)
    static let instructionFetch = PageFaultError(rawValue: 1 << 4)
}
