/// The local APIC (xAPIC, memory-mapped): per-CPU interrupt acceptance, timer and IPIs.
import Synchronization
import Timekeeping

/// The calling CPU's local APIC — Intel SDM vol 3A chapter 11. Every CPU sees its own APIC
/// at the same physical address, so one mapping serves all.
enum LocalAPIC {
    /// Register offsets — Intel SDM vol 3A §11.4.1, table 11-1.
    enum Register: UInt64 {
        case id = 0x20
        case version = 0x30
        case taskPriority = 0x80
        case endOfInterrupt = 0xB0
        case spuriousInterruptVector = 0xF0
        case errorStatus = 0x280
        case interruptCommandLow = 0x300
        case interruptCommandHigh = 0x310
        case timerVector = 0x320
        case lint0Vector = 0x350
        case lint1Vector = 0x360
        case errorVector = 0x370
        case timerInitialCount = 0x380
        case timerCurrentCount = 0x390
        case timerDivide = 0x3E0
    }

    /// A local vector table entry — Intel SDM vol 3A §11.5.1, figure 11-8.
    struct LocalVectorEntry {
        var rawValue: UInt32
        static let masked: UInt32 = 1 << 16
        static let periodic: UInt32 = 1 << 17
        static func timer(vector: UInt64, periodic: Bool, masked: Bool = false) -> LocalVectorEntry {
            LocalVectorEntry(rawValue: UInt32(vector) | (periodic ? Self.periodic : 0) | (masked ? Self.masked : 0))
        }
    }

    /// The interrupt command register — Intel SDM vol 3A §11.6.1, figure 11-12.
    struct InterruptCommand {
        enum DeliveryMode: UInt32 { case fixed = 0, nonMaskable = 4, initialize = 5, startup = 6 }
        var vector: UInt8
        var deliveryMode: DeliveryMode
        var destination: UInt32
        /// INIT level de-assert is the only command sent with the level bit clear.
        var assert = true
        var levelTriggered = false

        var low: UInt32 {
            UInt32(vector) | deliveryMode.rawValue << 8 | (assert ? 1 << 14 : 0) | (levelTriggered ? 1 << 15 : 0)
        }
        var high: UInt32 { destination << 24 }
        static let deliveryPending: UInt32 = 1 << 12
    }

    nonisolated(unsafe) static var base: UInt64 = 0xFEE0_0000
    /// Timer ticks per second at divide-by-16, from calibration (same on every CPU).
    nonisolated(unsafe) static var timerFrequency: UInt64 = 0

    @inline(__always) static func read(_ register: Register) -> UInt32 {
        DeviceMemory.read32(base + register.rawValue)
    }
    @inline(__always) static func write(_ register: Register, _ value: UInt32) {
        DeviceMemory.write32(base + register.rawValue, value)
    }

    /// This CPU's APIC ID (bits 24-31 of the ID register in xAPIC mode).
    static var id: UInt32 { read(.id) >> 24 }

    /// Software-enables the calling CPU's APIC: spurious vector, no task-priority filtering,
    /// timer and LINT pins masked, error interrupts on their own vector.
    static func enableOnThisProcessor() {
        write(.taskPriority, 0)
        write(.timerVector, LocalVectorEntry.timer(vector: InterruptVector.localTimer, periodic: false, masked: true).rawValue)
        write(.lint0Vector, LocalVectorEntry.masked)
        write(.lint1Vector, LocalVectorEntry.masked)
        write(.errorVector, UInt32(InterruptVector.localAPICError))
        write(.spuriousInterruptVector, UInt32(InterruptVector.spurious) | 1 << 8)  // bit 8: APIC enabled
        write(.errorStatus, 0)
        write(.errorStatus, 0)   // the ESR is written before it is read (§11.5.3)
        write(.endOfInterrupt, 0)
    }

    /// Ends the interrupt being handled (timed: see `timedWrite`).
    static func endOfInterrupt() { timedWrite(.endOfInterrupt, 0) }

    /// Writes `register` and adds the time the write took to the calling CPU's
    /// `CPUBlock.apicWriteNanoseconds`: the timer and end-of-interrupt writes a program's CPU
    /// makes around every sleep and wake-up, each waiting for QEMU's global lock under QEMU.
    private static func timedWrite(_ register: Register, _ value: UInt32) {
        let start = MonotonicClock.nanosecondsSinceBoot
        write(register, value)
        // Relaxed: this CPU's own statistics (see `CPUBlock`).
        let block = CPU.current
        block.pointee.apicWriteNanoseconds.wrappingAdd(MonotonicClock.nanosecondsSinceBoot &- start, ordering: .relaxed)
        block.pointee.apicWrites.wrappingAdd(1, ordering: .relaxed)
    }

    /// Sends an IPI and waits until the APIC has delivered it; counts it and its time on the
    /// sending CPU (`CPUBlock.interprocessorInterruptSendNanoseconds`).
    static func send(_ command: InterruptCommand) {
        let start = MonotonicClock.nanosecondsSinceBoot
        write(.interruptCommandHigh, command.high)
        write(.interruptCommandLow, command.low)   // writing the low half sends
        while read(.interruptCommandLow) & InterruptCommand.deliveryPending != 0 { Processor.relax() }
        let block = CPU.current
        // Relaxed: this CPU's own statistics (see `CPUBlock`).
        block.pointee.interprocessorInterruptSendNanoseconds.wrappingAdd(MonotonicClock.nanosecondsSinceBoot &- start, ordering: .relaxed)
        block.pointee.interprocessorInterruptsSent.wrappingAdd(1, ordering: .relaxed)
    }

    /// Sends the wake-up IPI to the CPU with `apicID`.
    static func sendWakeUp(to apicID: UInt32) {
        send(InterruptCommand(vector: UInt8(InterruptVector.wakeUp), deliveryMode: .fixed, destination: apicID))
    }

    /// Starts the timer counting down from the maximum at divide-by-16, masked (calibration).
    static func startFreeRunningCountdown() {
        write(.timerDivide, 0b0011)   // divide by 16 (§11.5.4, figure 11-10)
        write(.timerVector, LocalVectorEntry.timer(vector: InterruptVector.localTimer, periodic: false, masked: true).rawValue)
        write(.timerInitialCount, UInt32.max)
    }

    /// Stops the timer: no interrupt comes from an earlier `armOneShot` (a zero initial
    /// count stops it, Intel SDM vol 3A §11.5.4).
    static func stopTimer() {
        CPU.current.pointee.timerDeadline.clear()
        timedWrite(.timerInitialCount, 0)
    }

    /// Sets the calling CPU's timer up for `armOneShot`, stopped: divide by 16 (as calibrated)
    /// and the timer vector unmasked in one-shot mode (§11.5.4). Once per CPU, after
    /// calibration: `armOneShot` then writes only the initial count.
    static func prepareOneShotTimer() {
        CPU.current.pointee.timerDeadline.clear()
        write(.timerInitialCount, 0)
        write(.timerDivide, 0b0011)
        write(.timerVector, LocalVectorEntry.timer(vector: InterruptVector.localTimer, periodic: false).rawValue)
    }

    /// Arms a one-shot timer interrupt at most `nanoseconds` from now (`prepareOneShotTimer`
    /// set the divider and vector). At most one register write, and none when the timer is
    /// already armed to fire by then: under QEMU each write is an exit into its APIC emulation
    /// that waits for the global lock, and a program re-arms the timer every time it sleeps
    /// (for a `wait` timeout that moves ~100 ms ahead each time) and again in each doorbell's
    /// handler. An earlier interrupt than asked is always safe: every handler re-reads the
    /// clock and arms again for what is still to come (`ProgramTasks.armTimer`); a later one
    /// would not be, so a later deadline is never left armed.
    static func armOneShot(nanoseconds: UInt64) {
        // Interrupts off while deciding: the timer interrupt clears `timerDeadline`, and one
        // taken between the check and the skip would leave no timer armed.
        let interruptsWereOn = Processor.interruptsEnabled
        if interruptsWereOn { interrupts_disable() }
        if CPU.current.pointee.timerDeadline.arm(now: MonotonicClock.nanosecondsSinceBoot, nanoseconds: nanoseconds) {
            let ticks = max(1, min(UInt64(UInt32.max), nanoseconds * timerFrequency / 1_000_000_000))
            timedWrite(.timerInitialCount, UInt32(ticks))
        }
        if interruptsWereOn { interrupts_enable() }
    }
}
