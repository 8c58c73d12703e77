/// Per-CPU data: one block per CPU, found through the GS base register.
import Synchronization
import Timekeeping

/// The life of a CPU as the rest of the kernel sees it.
enum CPUState: UInt32 {
    case absent = 0, starting, online, stopped
}

/// Everything one CPU owns. Lives in the zeroed `cpu_blocks` area of boot/layout.asm (at most
/// 1 KiB each); GS.base points at the block, whose first word points at itself, so `GS:0`
/// gives the current CPU's block in one instruction.
struct CPUBlock: ~Copyable {
    /// Must stay the first field: read as GS:0 by `current_cpu_block`.
    var selfAddress: UInt64
    /// GS:8 and GS:16, used by `system_call_entry` in boot/usermode.asm: the kernel stack a
    /// system call runs on, and where the program's RSP waits meanwhile.
    var systemCallStackTop: UInt64
    var userStackScratch: UInt64
    /// 0 for the boot CPU, then in MADT order.
    var index: Int
    /// The local APIC ID, which IPIs address.
    var apicID: UInt32
    /// Written by the CPU itself (starting → online, online → stopped) with release, read by
    /// others with acquire: a reader that sees `online` also sees everything the CPU set up.
    let state: Atomic<UInt32>
    /// The fault that stopped this CPU, valid once `state` reads `stopped` (same pairing).
    var faultVector: UInt64
    var faultAddress: UInt64
    var faultInstruction: UInt64
    /// Interrupts handled on this CPU, by kind: written by this CPU only, read by anyone.
    let interruptCount: Atomic<UInt64>
    let exceptionCount: Atomic<UInt64>
    let interprocessorInterruptCount: Atomic<UInt64>
    let timerInterruptCount: Atomic<UInt64>
    /// The intrusion meter: system calls, and time in ring 3 and in the kernel while
    /// a program runs here. Written by this CPU only; relaxed, like the counters above.
    let systemCallCount: Atomic<UInt64>
    let userNanoseconds: Atomic<UInt64>
    let kernelNanoseconds: Atomic<UInt64>
    /// When this CPU last crossed between ring 3 and the kernel (TSC-based nanoseconds).
    var lastModeSwitch: UInt64
    /// The program running here: its slot in `Programs` plus one, or 0 for none (the block
    /// starts zeroed).
    var runningProgram: Int
    /// Stacks (top addresses): the normal kernel stack and the IST stacks of TSS.IST1..3.
    var kernelStackTop: UInt64
    var doubleFaultStackTop: UInt64
    var nonMaskableInterruptStackTop: UInt64
    var machineCheckStackTop: UInt64
    /// This CPU's descriptor tables (GDT, TSS, IDT), one page-aligned allocation.
    var descriptorTables: UInt64
    /// Time this CPU spent running a network context in the kernel (symmetric mode: in the
    /// NIC's interrupt, in `wait` and `yield`): the intrusion that moved onto application CPUs.
    /// Written by this CPU only; relaxed, like the counters above. Last, so that the fields
    /// the assembly reaches keep their offsets.
    let networkNanoseconds: Atomic<UInt64>
    /// Time this CPU's program spent asleep in `wait` (halted until a doorbell or its timer),
    /// less any network work done in interrupts meanwhile: kernel time that is not work, so that
    /// the time left to the application can be told from the kernel's share. Written by this
    /// CPU only; relaxed, like the counters above.
    let idleNanoseconds: Atomic<UInt64>
    /// When the current kernel interval of the meter began: at a system call or interrupt
    /// from ring 3, and again each time the scheduler switches back to a program stopped in
    /// one (`ProgramTasks.switchTo`), so another program's time never counts as this one's.
    var kernelSince: UInt64
    /// IPIs this CPU sent (`LocalAPIC.send`: doorbells mostly), the time the sends took, and
    /// the time its writes to virtio's notify register took. Under QEMU each of these device
    /// accesses waits for its global lock, which the I/O thread holds while it moves packets:
    /// these counters say what the accesses cost without a sampling profiler's bias (the
    /// profiler takes that lock too, so it finds a vCPU waiting there more often than it is).
    /// Written by this CPU only; relaxed, like the counters above.
    let interprocessorInterruptsSent: Atomic<UInt64>
    let interprocessorInterruptSendNanoseconds: Atomic<UInt64>
    let deviceNotifyNanoseconds: Atomic<UInt64>
    /// Time this CPU spent writing its APIC's timer and end-of-interrupt registers (arming the
    /// timer before a sleep, the EOI of each doorbell): the same lock wait, on the woken side.
    let apicWriteNanoseconds: Atomic<UInt64>
    /// How many such writes this CPU made (the lazy timer's saving shows here).
    let apicWrites: Atomic<UInt64>
    /// When this CPU's APIC timer fires (`OneShotDeadline`): `LocalAPIC.armOneShot` leaves a
    /// timer that fires no later than asked alone instead of writing it again; the timer
    /// interrupt clears it. Only this CPU touches it, with interrupts off (its own timer
    /// interrupt is the other writer): a plain field. Zeroed memory is a cleared deadline.
    var timerDeadline: OneShotDeadline
    /// A dedicated network core halted while idle, which a program's `kick` may wake: set by
    /// the core (interrupts off) before it announces its sleep to its programs, cleared when it
    /// wakes. A kick exchanges it to false and sends the IPI only when it was true: one IPI
    /// per halt at most, however often programs kick. Zeroed memory is false.
    let networkCoreHalted: Atomic<Bool>
    /// Kicks this CPU's programs made that woke a halted network core (the IPIs they sent).
    /// Written by this CPU only; relaxed, like the counters above.
    let networkKicks: Atomic<UInt64>
}

/// The set of CPUs and the current one.
enum CPU {
    nonisolated(unsafe) private static var blocksBase: UInt64 = 0
    nonisolated(unsafe) private static var blockBytes: Int = 0
    nonisolated(unsafe) static var maximumCount: Int = 0
    /// How many CPUs the MADT listed (enabled ones), the boot CPU included.
    nonisolated(unsafe) static var count: Int = 1

    /// Prepares the block table and makes block 0 the boot CPU's (called first thing in kmain).
    static func initializeBootProcessor(layout: KernelLayout) {
        blocksBase = layout.cpuBlocks
        blockBytes = layout.cpuBlockBytes
        maximumCount = layout.maximumCPUs
        precondition(MemoryLayout<CPUBlock>.size <= layout.cpuBlockBytes, "CPUBlock outgrew its slot")
        let block = blockPointer(0)
        // boot/usermode.asm reads these two at fixed offsets.
        let base = UInt(bitPattern: block)
        let stackOffset = withUnsafeMutablePointer(to: &block.pointee.systemCallStackTop) { UInt(bitPattern: $0) } - base
        let scratchOffset = withUnsafeMutablePointer(to: &block.pointee.userStackScratch) { UInt(bitPattern: $0) } - base
        precondition(stackOffset == 8 && scratchOffset == 16, "CPUBlock layout no longer matches boot/usermode.asm")
        block.pointee.selfAddress = UInt64(UInt(bitPattern: block))
        block.pointee.index = 0
        block.pointee.state.store(CPUState.online.rawValue, ordering: .releasing)
        activate(index: 0)
    }

    /// Points GS.base at block `index` on the calling CPU.
    static func activate(index: Int) {
        ModelSpecificRegister.gsBase.write(UInt64(UInt(bitPattern: blockPointer(index))))
    }

    /// The block of CPU `index` (0 ..< maximumCount).
    static func blockPointer(_ index: Int) -> UnsafeMutablePointer<CPUBlock> {
        precondition(index >= 0 && index < maximumCount, "CPU index out of range")
        return UnsafeMutablePointer(bitPattern: UInt(blocksBase) + UInt(index * blockBytes))!
    }

    /// The calling CPU's block.
    static var current: UnsafeMutablePointer<CPUBlock> {
        UnsafeMutablePointer(bitPattern: UInt(current_cpu_block()))!
    }

    /// The calling CPU's index (0 before per-CPU data exists).
    static var currentIndex: Int { blocksBase == 0 ? 0 : current.pointee.index }

    static func state(of index: Int) -> CPUState {
        CPUState(rawValue: blockPointer(index).pointee.state.load(ordering: .acquiring)) ?? .absent
    }
}
