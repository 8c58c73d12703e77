/// System calls: the slow path a program uses for what channels do not carry (exit, console
/// text, waiting, the clock). The data path to the network never comes here.
import Synchronization
import SystemCallABI

@_extern(c, "system_call_entry_address") func system_call_entry_address() -> UInt64

enum SystemCalls {
    /// Enables SYSCALL on the calling CPU — Intel SDM vol 3A §5.8.8: IA32_STAR holds the
    /// kernel and user selector bases, IA32_LSTAR the entry point, IA32_FMASK the RFLAGS bits
    /// cleared on entry (IF, so the entry runs with interrupts off until it is on the kernel
    /// stack; TF, DF and AC, so the kernel starts in a known state).
    static func enableOnThisProcessor() {
        // SYSRET loads SS = base + 8 and CS = base + 16 (both RPL 3): the GDT puts user data
        // right before user code for exactly this.
        let sysretBase = UInt64(Selector.userData & ~3) - 8
        let star = UInt64(Selector.kernelCode) << 32 | sysretBase << 48
        write_msr(0xC000_0081, star)                       // IA32_STAR
        write_msr(0xC000_0082, system_call_entry_address()) // IA32_LSTAR
        write_msr(0xC000_0084, 1 << 9 | 1 << 8 | 1 << 10 | 1 << 18)   // IA32_FMASK: IF, TF, DF, AC
        let efer = ModelSpecificRegister.extendedFeatureEnable
        efer.write(efer.read() | 1)                        // EFER.SCE
    }
}

/// Called by `system_call_entry` on the CPU's kernel stack, interrupts on.
@_cdecl("system_call_dispatch")
func systemCallDispatch(_ number: UInt64, _ argument0: UInt64, _ argument1: UInt64, _ argument2: UInt64, _ argument3: UInt64) -> UInt64 {
    let cpu = CPU.current
    let entered = MonotonicClock.nanosecondsSinceBoot
    // Counters written only by this CPU: relaxed (read by others for statistics only).
    cpu.pointee.systemCallCount.wrappingAdd(1, ordering: .relaxed)
    cpu.pointee.userNanoseconds.wrappingAdd(entered &- cpu.pointee.lastModeSwitch, ordering: .relaxed)
    // The kernel interval starts here; a switch to another program ends it and a switch
    // back starts a new one (`ProgramTasks.switchTo`), so only this program's time counts.
    cpu.pointee.kernelSince = entered
    defer {
        let left = MonotonicClock.nanosecondsSinceBoot
        cpu.pointee.kernelNanoseconds.wrappingAdd(left &- cpu.pointee.kernelSince, ordering: .relaxed)
        cpu.pointee.lastModeSwitch = left
    }
    defer {
        if ProgramTasks.currentMustStop { Programs.stopCurrentAsRequested() }
    }
    switch SystemCallNumber(rawValue: number) {
    case .exit:
        Programs.stopCurrent(exitStatus: argument0)
    case .write:
        return Programs.writeConsole(address: argument0, length: argument1) ? argument1 : SystemCallResult.refused
    case .wait:
        return Programs.wait(address: argument0, expected: argument1, timeout: argument2)
    case .yield:
        NetworkCore.serveInKernel()   // symmetric mode: the kernel does the network's work here
        ProgramTasks.yieldCurrent()
        return 0
    case .clock:
        return MonotonicClock.nanosecondsSinceBoot
    case .name:
        return Programs.copyName(to: argument0, capacity: argument1)
    case .kick:
        return NetworkCore.kick() ? SystemCallResult.woken : SystemCallResult.timedOut
    case nil:
        return SystemCallResult.refused
    }
}
