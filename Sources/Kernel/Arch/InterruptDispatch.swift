/// The one Swift entry point for every interrupt and exception, called by boot/interrupts.asm.
import Synchronization
import Timekeeping

/// Interrupt vectors the kernel assigns (exceptions occupy 0...31).
enum InterruptVector {
    /// The legacy 8259 PICs are remapped here and masked; anything arriving is spurious.
    static let legacyPICBase: UInt64 = 0x20
    static let localTimer: UInt64 = 0x30
    /// A test or wake-up IPI: counted, nothing else.
    static let wakeUp: UInt64 = 0x40
    /// Sent by the network core to stop a program whose channel broke the ring protocol.
    static let stopProgram: UInt64 = 0x41
    /// MSI-X vectors of the network device's queues: queue i interrupts on base + i (see
    /// `NetworkInterrupts`). 0x40 and 0x41 are IPIs, so the queues take priority class 5
    /// (vector >> 4, Intel SDM vol 3A §11.8.3) to themselves.
    static let networkQueueBase: UInt64 = 0x50
    static let networkQueueCount: UInt64 = 8
    static let localAPICError: UInt64 = 0xFE
    static let spurious: UInt64 = 0xFF
}

@_cdecl("interrupt_dispatch")
func interruptDispatch(_ rawFrame: UnsafeMutableRawPointer) {
    let frame = rawFrame.assumingMemoryBound(to: InterruptFrame.self)
    let vector = frame.pointee.vector
    let cpu = CPU.current
    // Each counter is written only by its own CPU; relaxed is enough for statistics others
    // read at any time (they need no ordering with anything else).
    cpu.pointee.interruptCount.wrappingAdd(1, ordering: .relaxed)
    // The intrusion meter: time in ring 3 up to here, and (below) the kernel's share.
    let fromUser = frame.pointee.fromUserMode
    if fromUser {
        let entered = MonotonicClock.nanosecondsSinceBoot
        cpu.pointee.userNanoseconds.wrappingAdd(entered &- cpu.pointee.lastModeSwitch, ordering: .relaxed)
        // A switch to another program ends this kernel interval, a switch back starts a new one.
        cpu.pointee.kernelSince = entered
    }
    defer {
        if fromUser {
            let left = MonotonicClock.nanosecondsSinceBoot
            cpu.pointee.kernelNanoseconds.wrappingAdd(left &- cpu.pointee.kernelSince, ordering: .relaxed)
            cpu.pointee.lastModeSwitch = left
        }
    }
    if vector < 32 {
        cpu.pointee.exceptionCount.wrappingAdd(1, ordering: .relaxed)
        Exceptions.handle(frame)
        return
    }
    switch vector {
    case InterruptVector.localTimer:
        cpu.pointee.timerInterruptCount.wrappingAdd(1, ordering: .relaxed)
        // It fired: the next `armOneShot` must write (interrupts are off in this handler).
        cpu.pointee.timerDeadline.clear()
        LocalAPIC.endOfInterrupt()
        // A slice ended or a `wait` timed out: the scheduler may switch programs here.
        ProgramTasks.interruptArrived(timer: true, fromUser: fromUser)
    case InterruptVector.stopProgram, InterruptVector.wakeUp:
        // A stop request (a killed program, or one whose channel broke the protocol: stopped
        // now if off the CPU or in ring 3, else as its system call returns), a doorbell, or a
        // new program placed on this CPU.
        cpu.pointee.interprocessorInterruptCount.wrappingAdd(1, ordering: .relaxed)
        LocalAPIC.endOfInterrupt()
        ProgramTasks.interruptArrived(timer: false, fromUser: fromUser)
    case InterruptVector.networkQueueBase ..< InterruptVector.networkQueueBase + InterruptVector.networkQueueCount:
        NetworkInterrupts.handle(queue: Int(vector - InterruptVector.networkQueueBase))
    case InterruptVector.spurious:
        break   // Intel SDM vol 3A §11.9: no EOI for the spurious vector.
    case InterruptVector.legacyPICBase ..< InterruptVector.legacyPICBase + 16:
        LegacyPIC.acknowledgeSpurious(line: Int(vector - InterruptVector.legacyPICBase))
    default:
        Log.warning("unexpected interrupt vector \(vector)")
        LocalAPIC.endOfInterrupt()
    }
}
