/// The GDT, TSS and IDT of one CPU: typed layouts and the code that builds and loads them.
import Paging

/// A segment descriptor in the GDT — Intel SDM vol 3A §3.4.5. In long mode only the access
/// byte and the L (64-bit) flag matter for code; base and limit are ignored.
struct SegmentDescriptor {
    let rawValue: UInt64
    static let null = SegmentDescriptor(rawValue: 0)
    /// Present, DPL, code/data type bits of the access byte and the L/D/G flags.
    static func code64(privilegeLevel: UInt64) -> SegmentDescriptor {
        SegmentDescriptor(rawValue: 0x0020_9A00_0000_0000 | privilegeLevel << 45)   // P, S, code+read, L
    }
    static func data(privilegeLevel: UInt64) -> SegmentDescriptor {
        SegmentDescriptor(rawValue: 0x0000_9200_0000_0000 | privilegeLevel << 45)   // P, S, data+write
    }
    /// A 64-bit available TSS takes two GDT slots — Intel SDM vol 3A §8.2.3, figure 8-4.
    static func taskState(base: UInt64, limit: UInt64) -> (low: SegmentDescriptor, high: SegmentDescriptor) {
        var low = limit & 0xFFFF
        low |= (base & 0xFF_FFFF) << 16
        low |= 0x89 << 40                          // P, type 9 = 64-bit TSS (available)
        low |= ((limit >> 16) & 0xF) << 48
        low |= ((base >> 24) & 0xFF) << 56
        return (SegmentDescriptor(rawValue: low), SegmentDescriptor(rawValue: base >> 32))
    }
}

/// GDT slots and the selectors that name them. The user entries are ordered data-then-code as
/// SYSRET requires (Intel SDM vol 2B, SYSRET), for the user-mode work that follows.
enum Selector {
    static let kernelCode: UInt16 = 0x08
    static let kernelData: UInt16 = 0x10
    static let userData: UInt16 = 0x18 | 3
    static let userCode: UInt16 = 0x20 | 3
    static let taskState: UInt16 = 0x28
    static let gdtEntries = 7
}

/// The 64-bit task-state segment — Intel SDM vol 3A §8.7, figure 8-11. Its 64-bit fields sit
/// at 4-byte offsets, so it is written through byte offsets rather than as a Swift struct.
struct TaskStateSegment {
    static let byteCount = 104
    let base: UnsafeMutableRawPointer

    /// Stack loaded on entry from ring 3 (RSP0).
    func setPrivilegedStack(_ top: UInt64) { base.storeBytes(of: top, toByteOffset: 4, as: UInt64.self) }
    /// Interrupt stack table entry 1...7: a known-good stack for the vectors that name it.
    func setInterruptStack(_ number: Int, top: UInt64) {
        precondition(number >= 1 && number <= 7, "IST numbers are 1...7")
        base.storeBytes(of: top, toByteOffset: 36 + (number - 1) * 8, as: UInt64.self)
    }
    /// No I/O permission bitmap: the offset points past the segment limit.
    func disableIOPermissionBitmap() {
        base.storeBytes(of: UInt16(Self.byteCount), toByteOffset: 102, as: UInt16.self)
    }
}

/// Which IST stack each dangerous vector uses, so it works even when the kernel stack is bad.
enum InterruptStack {
    static let doubleFault = 1
    static let nonMaskableInterrupt = 2
    static let machineCheck = 3
}

/// An IDT gate — Intel SDM vol 3A §6.14.1, figure 6-8. Field order matches the hardware.
struct InterruptGate {
    var offsetLow: UInt16
    var selector: UInt16
    var interruptStackTable: UInt8     // bits 0-2
    var typeAndAttributes: UInt8       // P, DPL, type 0xE = 64-bit interrupt gate
    var offsetMiddle: UInt16
    var offsetHigh: UInt32
    var reserved: UInt32

    init(handler: UInt64, interruptStack: Int = 0, userCallable: Bool = false) {
        offsetLow = UInt16(truncatingIfNeeded: handler)
        selector = Selector.kernelCode
        interruptStackTable = UInt8(interruptStack)
        typeAndAttributes = userCallable ? 0xEE : 0x8E
        offsetMiddle = UInt16(truncatingIfNeeded: handler >> 16)
        offsetHigh = UInt32(truncatingIfNeeded: handler >> 32)
        reserved = 0
    }
}

/// The in-memory operand of LGDT/LIDT: a 16-bit limit then a 64-bit base, packed (10 bytes).
private func loadDescriptorTablePointer(base: UInt64, byteCount: Int, _ load: (UnsafeRawPointer) -> Void) {
    var operand: (UInt16, UInt16, UInt16, UInt16, UInt16) = (
        UInt16(byteCount - 1), UInt16(truncatingIfNeeded: base), UInt16(truncatingIfNeeded: base >> 16),
        UInt16(truncatingIfNeeded: base >> 32), UInt16(truncatingIfNeeded: base >> 48))
    withUnsafeBytes(of: &operand) { load($0.baseAddress!) }
}

/// Builds and loads the calling CPU's GDT, TSS and IDT in the two pages at `block.descriptorTables`:
/// IDT (4096 bytes) in the first page, then GDT (56 bytes) and TSS (104 bytes) in the second.
enum DescriptorTables {
    static let byteCount = 8192

    static func install(on block: UnsafeMutablePointer<CPUBlock>, stubTable: UnsafePointer<UInt64>) {
        let base = UnsafeMutableRawPointer(bitPattern: UInt(block.pointee.descriptorTables))!
        let idt = base.bindMemory(to: InterruptGate.self, capacity: 256)
        let gdt = (base + Page.size).bindMemory(to: UInt64.self, capacity: Selector.gdtEntries)
        let tss = TaskStateSegment(base: base + Page.size + 64)

        for vector in 0..<256 {
            let stack = switch vector {
                case ExceptionVector.doubleFault.rawValue: InterruptStack.doubleFault
                case ExceptionVector.nonMaskableInterrupt.rawValue: InterruptStack.nonMaskableInterrupt
                case ExceptionVector.machineCheck.rawValue: InterruptStack.machineCheck
                default: 0
            }
            idt[vector] = InterruptGate(handler: stubTable[vector], interruptStack: stack)
        }

        tss.setPrivilegedStack(block.pointee.kernelStackTop)
        tss.setInterruptStack(InterruptStack.doubleFault, top: block.pointee.doubleFaultStackTop)
        tss.setInterruptStack(InterruptStack.nonMaskableInterrupt, top: block.pointee.nonMaskableInterruptStackTop)
        tss.setInterruptStack(InterruptStack.machineCheck, top: block.pointee.machineCheckStackTop)
        tss.disableIOPermissionBitmap()

        let tssDescriptor = SegmentDescriptor.taskState(base: UInt64(UInt(bitPattern: tss.base)),
                                                        limit: UInt64(TaskStateSegment.byteCount - 1))
        gdt[0] = SegmentDescriptor.null.rawValue
        gdt[1] = SegmentDescriptor.code64(privilegeLevel: 0).rawValue
        gdt[2] = SegmentDescriptor.data(privilegeLevel: 0).rawValue
        gdt[3] = SegmentDescriptor.data(privilegeLevel: 3).rawValue
        gdt[4] = SegmentDescriptor.code64(privilegeLevel: 3).rawValue
        gdt[5] = tssDescriptor.low.rawValue
        gdt[6] = tssDescriptor.high.rawValue

        // Loading the GDT reloads GS with the null selector, which may clear GS.base: point
        // it back at this CPU's block right after.
        loadDescriptorTablePointer(base: UInt64(UInt(bitPattern: gdt)), byteCount: Selector.gdtEntries * 8) {
            load_gdt($0, Selector.kernelCode, Selector.kernelData)
        }
        CPU.activate(index: block.pointee.index)
        load_task_register(Selector.taskState)
        loadDescriptorTablePointer(base: UInt64(UInt(bitPattern: idt)), byteCount: 256 * 16) { load_idt($0) }
    }
}
