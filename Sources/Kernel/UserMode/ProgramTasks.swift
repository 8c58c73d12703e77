/// Several programs per application CPU: each program's kernel stack and saved registers, the CPU's scheduler, and the switches between them.
///
/// The policy — round robin, time slices, blocking and waking, accounting — is `CPUScheduler`
/// (portable, tested on the host). This file is the kernel's side: it keeps one scheduler per
/// application CPU, builds each program's kernel stack, and switches stacks
/// (`switch_kernel_stack`, boot/usermode.asm) when the scheduler says another program runs.
///
/// **Who touches what.** A CPU's scheduler and the contexts of the programs placed on it are
/// touched only by that CPU, with interrupts off (so an interrupt handler and the code it
/// interrupted never both change them). Other CPUs hand it new programs and stop requests
/// through `CPUTasks.incoming` and `CPUTasks.stops`, under the CPU's lock, then send it a
/// wake-up IPI: the lock's release and acquire order the context they wrote before the CPU
/// reads it.
///
/// **The zero-interrupt guarantee.** A program alone on its CPU runs exactly as before: no
/// timer is armed (a slice only matters when another program is ready), and its `wait` halts
/// the CPU in its own system call. The APIC timer runs only while two programs compete or a
/// blocked one has a timeout.
import NetworkContext
import Paging
import Scheduling
import Synchronization

@_extern(c, "switch_kernel_stack") func switch_kernel_stack(_ save: UnsafeMutablePointer<UInt64>, _ stackPointer: UInt64)
@_extern(c, "task_first_entry_address") func task_first_entry_address() -> UInt64

/// A program's kernel side.
struct TaskContext {
    /// RSP as `switch_kernel_stack` saved it while the program is off the CPU.
    var savedStackPointer: UInt64 = 0
    /// Its kernel stack (identity-mapped frames): its system calls and interrupts run there.
    var stackBase = PhysicalAddress(0)
    var stackTop: UInt64 = 0
    /// Its page tables (CR3).
    var root: UInt64 = 0
    /// The CPU it runs on.
    var cpu = -1
    /// Blocked in `wait` (not halting alone): woken by a doorbell that changed `waitWord`
    /// from `waitExpected` (read through the kernel's identity map), or at `waitDeadline`.
    var waiting = false
    var waitDeadline: UInt64 = 0
    var waitWord: UnsafeMutablePointer<UInt32>? = nil
    var waitExpected: UInt32 = 0
    /// Why it is to be stopped, once someone asked (`ProgramTasks.requestStop`).
    var stopReason: ProgramState? = nil
}

/// One application CPU's programs.
final class CPUTasks {
    /// The run queue and accounts (this CPU only, interrupts off).
    var scheduler: CPUScheduler
    /// The idle loop's RSP while a program runs on this CPU.
    var idleStackPointer: UInt64 = 0
    /// Programs blocked in `wait` here.
    var waitingCount = 0
    /// Guards `incoming` and `stops` (written by other CPUs).
    let lock = SpinLock()
    /// Slots placed here and not yet in the scheduler.
    let incoming: UnsafeMutablePointer<Int32>
    var incomingCount = 0
    /// Slots asked to stop, with the reason.
    let stops: UnsafeMutablePointer<(slot: Int32, reason: ProgramState)>
    var stopCount = 0
    /// Programs placed on this CPU and not ended: its load, which other CPUs read to place a
    /// program (relaxed: a hint, nothing is published through it).
    let programCount = Atomic<Int>(0)
    /// A stack to give back once this CPU no longer runs on it (the last ended program's).
    var retiredStack = PhysicalAddress(0)
    /// That program's slot: its page tables go back once this CPU has left them too.
    var retiredSlot = -1
    /// The running program halts the CPU in its own `wait` until then (0: it does not).
    var haltingDeadline: UInt64 = 0
    /// A sequence lock over the scheduler's accounts and running program, so that another
    /// CPU (rendering `/metrics`) reads them consistently: odd while this CPU changes them.
    /// This CPU bumps it with a relaxed store and a release fence before changing them and a
    /// release store after; a reader loads it with acquire, copies, fences with acquire and
    /// loads it again — equal and even means the copy is whole (the copied words are plain
    /// loads, which x86 never tears).
    let sequence = Atomic<UInt64>(0)

    /// Runs `change` (a scheduler call that may switch the running program or close its
    /// CPU-time interval) inside the sequence lock.
    @inline(__always) @discardableResult
    func updating<Result>(_ change: (inout CPUScheduler) -> Result) -> Result {
        let start = sequence.load(ordering: .relaxed)
        sequence.store(start &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        let result = change(&scheduler)
        sequence.store(start &+ 2, ordering: .releasing)
        return result
    }

    init(capacity: Int, timeSlice: UInt64) {
        scheduler = CPUScheduler(capacity: capacity, timeSlice: timeSlice)
        incoming = .allocate(capacity: capacity)
        stops = .allocate(capacity: capacity)
    }
}

enum ProgramTasks {
    /// The program slots the kernel can hold: one per MiB of memory (a program needs more
    /// than that for its channel alone), at least 16, at most 1,024.
    nonisolated(unsafe) private(set) static var capacity = 0
    nonisolated(unsafe) private static var contexts: UnsafeMutablePointer<TaskContext>? = nil
    nonisolated(unsafe) private static var perCPU: UnsafeMutablePointer<CPUTasks?>? = nil
    nonisolated(unsafe) private static var cpuCount = 0
    /// Per program: non-zero while it sleeps in `wait` (see `Doorbell.ring`).
    nonisolated(unsafe) private static var sleeping: UnsafeMutablePointer<Atomic<UInt32>>? = nil
    /// Which program owns each channel: `context * maximumChannels + channel` → slot + 1 (0: none).
    nonisolated(unsafe) private static var channelPrograms: UnsafeMutablePointer<Atomic<Int>>? = nil
    nonisolated(unsafe) private static var channelProgramCount = 0
    /// Each program's kernel stack.
    static let stackBytes = 16 * 1024
    /// How early a timer interrupt may come and still end a slice.
    static let timerSlack: UInt64 = 500_000
    /// The shortest timer this arms.
    static let minimumTimerNanoseconds: UInt64 = 20_000

    /// Builds the tables (on the boot CPU, before any program starts).
    static func prepare(cpuCount count: Int, usableBytes: UInt64, timeSlice: UInt64) {
        capacity = max(16, min(1024, Int(usableBytes >> 20)))
        let table = UnsafeMutablePointer<TaskContext>.allocate(capacity: capacity)
        table.initialize(repeating: TaskContext(), count: capacity)
        contexts = table
        let cpus = UnsafeMutablePointer<CPUTasks?>.allocate(capacity: count)
        cpus.initialize(repeating: nil, count: count)
        for index in 1..<max(count, 1) { cpus[index] = CPUTasks(capacity: capacity, timeSlice: timeSlice) }
        perCPU = cpus
        cpuCount = count
        let flags = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: capacity)
        for index in 0..<capacity { (flags + index).initialize(to: Atomic<UInt32>(0)) }
        sleeping = flags
        channelProgramCount = max(NetworkCore.contexts.count, 1) * NetworkContextLimits.maximumChannels
        let owners = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: channelProgramCount)
        for index in 0..<channelProgramCount { (owners + index).initialize(to: Atomic<Int>(0)) }
        channelPrograms = owners
    }

    /// Program `slot`'s sleeping flag.
    static func sleepingFlag(_ slot: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        precondition(slot >= 0 && slot < capacity, "program slot out of range")
        return sleeping! + slot
    }

    /// Records (slot) or forgets (nil) which program owns a channel, for the doorbell.
    /// Release/acquire: a ringer that finds the slot also finds its flag initialized.
    static func setProgram(_ slot: Int?, context: Int, channel: Int) {
        let index = context * NetworkContextLimits.maximumChannels + channel
        guard let owners = channelPrograms, index >= 0, index < channelProgramCount else { return }
        owners[index].store(slot.map { $0 + 1 } ?? 0, ordering: .releasing)
    }

    /// The program that owns a channel, if known.
    static func program(context: Int, channel: Int) -> Int? {
        let index = context * NetworkContextLimits.maximumChannels + channel
        guard let owners = channelPrograms, index >= 0, index < channelProgramCount else { return nil }
        let value = owners[index].load(ordering: .acquiring)
        return value > 0 ? value - 1 : nil
    }

    /// CPU `cpu`'s programs (nil for cpu0, or before `prepare`).
    static func tasks(of cpu: Int) -> CPUTasks? {
        guard let perCPU, cpu >= 0, cpu < cpuCount else { return nil }
        return perCPU[cpu]
    }

    /// The calling CPU's programs (nil on cpu0 and on dedicated network cores, which run none).
    static var current: CPUTasks? {
        let me = CPU.currentIndex
        return NetworkCore.isNetworkCPU(me) ? nil : tasks(of: me)
    }

    /// How many programs CPU `cpu` has: its load for placement.
    static func load(of cpu: Int) -> Int { tasks(of: cpu)?.programCount.load(ordering: .relaxed) ?? 0 }

    /// Program `slot`'s context (the caller is its CPU, or it is not placed yet).
    static func context(_ slot: Int) -> UnsafeMutablePointer<TaskContext> {
        precondition(slot >= 0 && slot < capacity, "program slot out of range")
        return contexts! + slot
    }

    // MARK: Placing a program (any CPU)

    /// Builds program `slot`'s kernel stack so that the first switch to it enters it
    /// (`task_first_entry` → `program_task_start`), and hands it to `cpu`. False without memory.
    static func start(slot: Int, root: UInt64, cpu: Int) -> Bool {
        guard let tasks = tasks(of: cpu), let stack = PhysicalMemory.allocate(count: Page.count(covering: stackBytes)) else { return false }
        let top = (stack + stackBytes).rawValue
        // What `switch_kernel_stack` pops: six callee-saved registers (zero), then its return
        // address, task_first_entry, at top − 24, so that RSP is 16-byte aligned after `ret`.
        let saved = top - 72
        let words = UnsafeMutablePointer<UInt64>(bitPattern: UInt(saved))!
        for index in 0..<6 { words[index] = 0 }
        words[6] = task_first_entry_address()
        context(slot).pointee = TaskContext(savedStackPointer: saved, stackBase: stack, stackTop: top, root: root, cpu: cpu)
        tasks.programCount.wrappingAdd(1, ordering: .relaxed)
        tasks.lock.withLock {
            tasks.incoming[tasks.incomingCount] = Int32(slot)
            tasks.incomingCount += 1
        }
        LocalAPIC.sendWakeUp(to: CPU.blockPointer(cpu).pointee.apicID)
        return true
    }

    /// Asks `cpu` to stop program `slot` (killed, or its channel broke the protocol): it stops
    /// at once when it is off the CPU or in ring 3, or as its system call returns.
    static func requestStop(slot: Int, cpu: Int, reason: ProgramState) {
        guard let tasks = tasks(of: cpu) else { return }
        tasks.lock.withLock {
            // One request per program at most (a second kill before the first is carried out
            // adds nothing), so the table of `capacity` entries never overflows.
            for position in 0..<tasks.stopCount where tasks.stops[position].slot == Int32(slot) { return }
            tasks.stops[tasks.stopCount] = (Int32(slot), reason)
            tasks.stopCount += 1
        }
        LocalAPIC.send(.init(vector: UInt8(InterruptVector.stopProgram), deliveryMode: .fixed,
                             destination: CPU.blockPointer(cpu).pointee.apicID))
    }

    // MARK: On the program's own CPU (interrupts off)

    /// Adds the programs other CPUs placed here to the scheduler.
    static func takeIncoming(_ tasks: CPUTasks) {
        tasks.lock.withLock {
            for position in 0..<tasks.incomingCount { tasks.scheduler.add(Int(tasks.incoming[position])) }
            tasks.incomingCount = 0
        }
    }

    /// Puts `next` (nil: the idle loop) on the CPU, saving the current stack into `save`.
    /// Returns when something switches back to the saved stack.
    static func switchTo(_ next: Int?, from save: UnsafeMutablePointer<UInt64>, tasks: CPUTasks) {
        let block = CPU.current
        let target: UInt64
        let stackTop: UInt64
        if let next {
            let task = context(next)
            block.pointee.runningProgram = next + 1
            stackTop = task.pointee.stackTop
            // Back to the program whose tables are still loaded (it blocked, the idle loop ran):
            // no CR3 write, so no TLB flush — under TCG the dearest part of a switch.
            if read_cr3() != task.pointee.root { write_cr3(task.pointee.root) }
            target = task.pointee.savedStackPointer
        } else {
            // The idle loop runs on whatever tables are loaded: every program's share the
            // kernel's mappings (PML4 entry 0). A program's tables are switched away from
            // before they are freed (`ProgramLoader.release`).
            block.pointee.runningProgram = 0
            stackTop = block.pointee.kernelStackTop
            target = tasks.idleStackPointer
        }
        // Interrupts and system calls from ring 3 arrive on the program's own kernel stack.
        block.pointee.systemCallStackTop = stackTop
        TaskStateSegment(base: UnsafeMutableRawPointer(bitPattern: UInt(block.pointee.descriptorTables))! + Page.size + 64)
            .setPrivilegedStack(stackTop)
        // The meter: the leaving context's kernel interval ends here; the one resumed below
        // starts a new one (so time spent in other programs is nobody's kernel time here).
        let now = MonotonicClock.nanosecondsSinceBoot
        block.pointee.kernelNanoseconds.wrappingAdd(now &- block.pointee.kernelSince, ordering: .relaxed)
        switch_kernel_stack(save, target)
        resumed(tasks)
    }

    /// Every context that the CPU switches to starts here (a new program too, which never
    /// returns into `switchTo`): a new kernel interval for the meter, the timer armed for what
    /// now runs, and the stack of a program that ended freed now that the CPU is off it.
    static func resumed(_ tasks: CPUTasks) {
        CPU.current.pointee.kernelSince = MonotonicClock.nanosecondsSinceBoot
        armTimer(tasks)
        releaseRetired(tasks)
    }

    /// Gives back the ended program's kernel stack and page tables that `leaveCurrent` left
    /// for later; the caller runs on another stack and another program's tables (or the
    /// kernel's: `ProgramLoader.release` leaves them before freeing them).
    private static func releaseRetired(_ tasks: CPUTasks) {
        guard tasks.retiredSlot >= 0 else { return }
        PhysicalMemory.free(tasks.retiredStack, count: Page.count(covering: stackBytes))
        Programs.programOffCPU(slot: tasks.retiredSlot)
        tasks.retiredStack = PhysicalAddress(0)
        tasks.retiredSlot = -1
    }

    /// Arms the APIC timer for the next thing this CPU must do on time: the end of the running
    /// program's slice when another is ready, or the earliest timeout of a blocked `wait`.
    /// Nothing (the timer stopped) when neither: a lone program takes no timer interrupts.
    static func armTimer(_ tasks: CPUTasks) {
        let now = MonotonicClock.nanosecondsSinceBoot
        var due: UInt64? = nil
        // A slice matters while the running program computes; one halting in its own `wait`
        // gives the CPU away as soon as it wakes.
        if tasks.scheduler.running != nil && tasks.scheduler.readyCount > 0 && tasks.haltingDeadline == 0 {
            due = tasks.scheduler.runningSince &+ tasks.scheduler.timeSlice
        }
        if tasks.haltingDeadline != 0 { due = min(due ?? tasks.haltingDeadline, tasks.haltingDeadline) }
        forEachWaiting(tasks) { _, task in due = min(due ?? task.pointee.waitDeadline, task.pointee.waitDeadline) }
        if let due {
            // Something already due: soon, not at once — an interrupt that cannot be acted on
            // yet (interrupts are on in the kernel between a halt and the switch) must not
            // repeat back to back.
            LocalAPIC.armOneShot(nanoseconds: due > now + minimumTimerNanoseconds ? due - now : minimumTimerNanoseconds)
        } else {
            LocalAPIC.stopTimer()
        }
    }

    /// Wakes the programs blocked in `wait` here whose timeout has come, and — after a
    /// doorbell (`doorbell`) — those whose word changed. The others stay blocked, so a doorbell
    /// for one program does not cost its neighbours a switch each.
    private static func wakeWaiting(_ tasks: CPUTasks, doorbell: Bool, now: UInt64) {
        guard tasks.waitingCount > 0 else { return }
        if doorbell {
            // A doorbell cleared the flag of the program it was for. Arm every waiting
            // program's flag again before looking at the words, with the fence of
            // `Doorbell.ring`'s protocol, so that work published after our look rings again
            // rather than waiting for a timeout.
            forEachWaiting(tasks) { slot, _ in sleepingFlag(slot).pointee.store(1, ordering: .relaxed) }
            atomicMemoryFence(ordering: .sequentiallyConsistent)
        }
        forEachWaiting(tasks) { slot, task in
            guard task.pointee.waitDeadline <= now || (doorbell && wordChanged(task)) else { return }
            task.pointee.waiting = false
            tasks.waitingCount -= 1
            tasks.scheduler.wake(slot)
        }
    }

    /// Calls `body` with each program blocked in `wait` on this CPU (as many as
    /// `waitingCount` said when it began: `body` may wake some).
    private static func forEachWaiting(_ tasks: CPUTasks, _ body: (Int, UnsafeMutablePointer<TaskContext>) -> Void) {
        let waiting = tasks.waitingCount
        var seen = 0
        var slot = 0
        while seen < waiting && slot < capacity {
            let task = context(slot)
            if task.pointee.waiting && task.pointee.cpu == CPU.currentIndex {
                seen += 1
                body(slot, task)
            }
            slot += 1
        }
    }

    /// A timer or wake-up interrupt (`timer` false: a doorbell or a new program) or a stop
    /// request arrived on this CPU. Takes new programs and stop requests, wakes who is due,
    /// and — when it interrupted a program in ring 3 — switches if that program's slice is
    /// over and another is ready. May not return (a stop request for the running program).
    static func interruptArrived(timer: Bool, fromUser: Bool) {
        guard let tasks = current else { return }
        let now = MonotonicClock.nanosecondsSinceBoot
        takeIncoming(tasks)
        takeStops(tasks, fromUser: fromUser)
        wakeWaiting(tasks, doorbell: !timer, now: now)
        // The APIC timer's calibration is not exact: a tick this close to the slice's end
        // counts as the end, rather than costing a second interrupt a moment later.
        if fromUser, let current = tasks.scheduler.running, tasks.updating({ $0.tick(now: now, tolerance: timerSlack) }),
           let next = tasks.scheduler.running, next != current {
            switchTo(next, from: &context(current).pointee.savedStackPointer, tasks: tasks)
        }
        armTimer(tasks)
    }

    /// Carries out the stop requests: a program off the CPU leaves at once; the running one
    /// ends now when it was interrupted in ring 3, else when its system call returns.
    private static func takeStops(_ tasks: CPUTasks, fromUser: Bool) {
        var stopRunning: ProgramState? = nil
        while true {
            // One at a time: reporting takes other locks, so not under this one.
            let request = tasks.lock.withLock { () -> (slot: Int, reason: ProgramState)? in
                guard tasks.stopCount > 0 else { return nil }
                tasks.stopCount -= 1
                return (Int(tasks.stops[tasks.stopCount].slot), tasks.stops[tasks.stopCount].reason)
            }
            guard let (slot, reason) = request else { break }
            if slot == tasks.scheduler.running {
                context(slot).pointee.stopReason = reason
                stopRunning = reason
            } else if tasks.scheduler.state(of: slot) != .absent {
                remove(slot, tasks: tasks)
                Programs.ended(slot: slot, state: reason, status: 0)
                Programs.programOffCPU(slot: slot)
            }
        }
        if let reason = stopRunning, fromUser { Programs.stopCurrent(state: reason, status: 0) }
    }

    /// Whether the running program was asked to stop (it stops as its system call returns).
    static var currentMustStop: Bool {
        let slot = CPU.current.pointee.runningProgram - 1
        return slot >= 0 && slot < capacity && context(slot).pointee.stopReason != nil
    }

    /// Takes a program that is off the CPU out of the scheduler and frees its kernel stack.
    private static func remove(_ slot: Int, tasks: CPUTasks) {
        let task = context(slot)
        if task.pointee.waiting {
            task.pointee.waiting = false
            tasks.waitingCount -= 1
        }
        tasks.updating { $0.remove(slot, now: MonotonicClock.nanosecondsSinceBoot) }
        tasks.programCount.wrappingSubtract(1, ordering: .relaxed)
        PhysicalMemory.free(task.pointee.stackBase, count: Page.count(covering: stackBytes))
        task.pointee.stackBase = PhysicalAddress(0)
    }

    /// The idle loop found programs ready: runs them until none is. Interrupts off.
    static func runFromIdle(_ tasks: CPUTasks) {
        takeIncoming(tasks)
        guard let next = tasks.updating({ $0.pickNext(now: MonotonicClock.nanosecondsSinceBoot) }) else { return }
        switchTo(next, from: &tasks.idleStackPointer, tasks: tasks)   // `resumed` arms the timer on each side
    }

    /// The idle loop has nothing to do: halt until an interrupt. While programs of this CPU
    /// are blocked, the time asleep is the meter's idle time (part of the kernel time, as a
    /// program's sleep in `wait` is). Interrupts off; on again after.
    static func haltIdle() {
        guard let tasks = current, tasks.programCount.load(ordering: .relaxed) > 0 else {
            interrupts_enable_and_halt()
            return
        }
        armTimer(tasks)
        // Symmetric mode: wake on the network's tick too (its timers run in `serveInKernel`).
        if NetworkCore.isSymmetric { LocalAPIC.armOneShot(nanoseconds: NetworkCore.symmetricTickNanoseconds) }
        let halted = MonotonicClock.nanosecondsSinceBoot
        interrupts_enable_and_halt()
        let asleep = MonotonicClock.nanosecondsSinceBoot &- halted
        let block = CPU.current
        // Relaxed: this CPU's own statistics (see `CPUBlock`). The idle loop's time already
        // counts as kernel time (its interval runs from `resumed` to the next `switchTo`).
        block.pointee.idleNanoseconds.wrappingAdd(asleep, ordering: .relaxed)
    }

    /// `yield`: the running program goes to the back of the queue if another is ready.
    static func yieldCurrent() {
        guard let tasks = current else { return }
        interrupts_disable()
        takeIncoming(tasks)
        if let current = tasks.scheduler.running, let next = tasks.updating({ $0.yield(now: MonotonicClock.nanosecondsSinceBoot) }),
           next != current {
            switchTo(next, from: &context(current).pointee.savedStackPointer, tasks: tasks)
        }
        armTimer(tasks)
        interrupts_enable()
    }

    /// Whether the running program should block through the scheduler rather than halt the
    /// CPU in its own `wait`: when another program is ready to use the CPU. Interrupts off.
    static func othersReady() -> Bool {
        guard let tasks = current else { return false }
        takeIncoming(tasks)
        return tasks.scheduler.readyCount > 0
    }

    /// The running program halts the CPU in its own `wait` until `deadline` (0: it stopped
    /// halting): the timer must cover that and the blocked programs' timeouts, whichever is
    /// first. Without programs to share with, arms the one-shot for `nanoseconds` as before.
    /// Interrupts off.
    static func haltingUntil(_ deadline: UInt64, orArm nanoseconds: UInt64) {
        guard let tasks = current else {
            if nanoseconds > 0 { LocalAPIC.armOneShot(nanoseconds: nanoseconds) }
            return
        }
        tasks.haltingDeadline = deadline
        if deadline != 0 { armTimer(tasks) }
    }

    /// The running program halted the CPU in its own `wait` for `nanoseconds`: not its CPU
    /// time. Called with interrupts on.
    static func currentSlept(_ nanoseconds: UInt64) {
        updatingCurrent { $0.notCharging(nanoseconds) }
    }

    /// The running program's `wait` ended by its timeout. Called with interrupts on.
    static func currentWaitTimedOut() {
        updatingCurrent { $0.waitTimedOut() }
    }

    /// Applies `change` to this CPU's scheduler, if it has one, with interrupts off (its timer
    /// interrupt changes the scheduler too) and under the sequence lock other CPUs read by.
    /// Called with interrupts on; they are on again when it returns.
    private static func updatingCurrent(_ change: (inout CPUScheduler) -> Void) {
        guard let tasks = current else { return }
        interrupts_disable()
        tasks.updating(change)
        interrupts_enable()
    }

    /// Whether a blocked program's word differs from what it waits on (no word known: yes).
    private static func wordChanged(_ task: UnsafeMutablePointer<TaskContext>) -> Bool {
        guard let word = task.pointee.waitWord else { return true }
        return UnsafeAtomicWord(word).load() != task.pointee.waitExpected
    }

    /// `wait` on a shared CPU: the running program blocks until a doorbell changes `word`
    /// (the kernel's view of it; nil: any doorbell) from `expected`, or `deadline`, and the
    /// next one runs. Returns when it is woken and back on the CPU. Interrupts off.
    static func blockCurrent(until deadline: UInt64, word: UnsafeMutablePointer<UInt32>?, expected: UInt32) {
        guard let tasks = current, let current = tasks.scheduler.running else { return }
        let task = context(current)
        task.pointee.waiting = true
        task.pointee.waitDeadline = deadline
        task.pointee.waitWord = word
        task.pointee.waitExpected = expected
        tasks.waitingCount += 1
        let next = tasks.updating { $0.block(now: MonotonicClock.nanosecondsSinceBoot) }
        switchTo(next, from: &task.pointee.savedStackPointer, tasks: tasks)   // `resumed` arms the timer on each side
    }

    /// The running program ended (already reported): it leaves the scheduler, its stack is
    /// given back once the CPU is off it, and the next program (or the idle loop) runs.
    static func leaveCurrent() -> Never {
        interrupts_disable()
        guard let tasks = current, let current = tasks.scheduler.running else {
            return_to_idle_loop(CPU.current.pointee.kernelStackTop)
            Processor.stop()
        }
        tasks.updating { $0.remove(current, now: MonotonicClock.nanosecondsSinceBoot) }
        tasks.programCount.wrappingSubtract(1, ordering: .relaxed)
        releaseRetired(tasks)   // nothing is left over normally: `resumed` released it
        tasks.retiredStack = context(current).pointee.stackBase
        tasks.retiredSlot = current
        context(current).pointee.stackBase = PhysicalAddress(0)
        var abandoned: UInt64 = 0
        switchTo(tasks.scheduler.running, from: &abandoned, tasks: tasks)
        Processor.stop()   // not reached: nothing switches back to an ended program
    }

    /// Program `slot`'s account on its CPU, the running one's CPU time brought up to now:
    /// read from another CPU (`/metrics`, the meter) under the CPU's sequence lock.
    static func account(slot: Int) -> TaskAccount? {
        guard slot >= 0, slot < capacity, let tasks = tasks(of: context(slot).pointee.cpu) else { return nil }
        var copy = TaskAccount()
        for _ in 0..<1000 {
            let before = tasks.sequence.load(ordering: .acquiring)
            copy = tasks.scheduler.account(of: slot)
            let running = tasks.scheduler.running == slot
            let since = tasks.scheduler.runningSince
            atomicMemoryFence(ordering: .acquiring)
            guard before & 1 == 0, tasks.sequence.load(ordering: .relaxed) == before else { continue }
            let now = MonotonicClock.nanosecondsSinceBoot
            if running && now > since { copy.cpuNanoseconds &+= now - since }
            break
        }
        return copy
    }
}

/// Where a new program's kernel stack first arrives (from `task_first_entry`): enter it.
@_cdecl("program_task_start")
func programTaskStart() -> Never {
    if let tasks = ProgramTasks.current { ProgramTasks.resumed(tasks) }
    Programs.enter(slot: CPU.current.pointee.runningProgram - 1)
}
