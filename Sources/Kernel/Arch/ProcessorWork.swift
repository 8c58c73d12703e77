/// Handing jobs to the application processors, which otherwise halt: the self tests' probes,
/// and running the network core when it is not the boot CPU.
import Scheduling
import Synchronization

/// Jobs an application processor can be asked to do.
enum ProcessorJob: UInt32 {
    case none = 0
    /// Answer: proves the CPU is alive and scheduling.
    case ping
    /// Write to an unmapped address (only the target CPU).
    case pageFault
    /// Execute UD2 (only the target CPU).
    case invalidOpcode
    /// Recurse until the stack runs into its guard page (only the target CPU).
    case stackOverflow
    /// Allocate and free in a loop.
    case heapStress
    /// Read the clock and check it is not behind the boot CPU's last reading.
    case clockCheck
    /// Become the network core (only the target CPU; never returns).
    case networkCore
}

/// One job at a time for all application processors, published by the boot CPU.
///
/// Protocol: the boot CPU stores `job` and `target` (relaxed), then bumps `generation` with
/// release and sends wake-up IPIs. A CPU that loads a new `generation` with acquire therefore
/// sees the job and target of that generation. Each CPU that did the job adds to `completed`
/// (and to `failed` if it went wrong) with release; the boot CPU reads them with acquire, so it
/// also sees whatever the CPUs wrote while doing the job.
enum ProcessorWork {
    private static let job = Atomic<UInt32>(0)
    /// A CPU index, or -1 for every application processor.
    private static let target = Atomic<Int>(-1)
    private static let generation = Atomic<UInt32>(0)
    /// A job's parameter (a network context), published like `job`.
    private static let argument = Atomic<Int>(0)
    private static let completed = Atomic<Int>(0)
    private static let failed = Atomic<Int>(0)
    /// The boot CPU's latest clock reading for `clockCheck` (release/acquire like the job).
    static let referenceTime = Atomic<UInt64>(0)

    /// Publishes `newJob` for `onlyCPU` (or all), wakes the CPUs, and waits up to `timeout`
    /// for `expected` of them to finish. Returns how many finished and how many failed.
    static func run(_ newJob: ProcessorJob, onlyCPU: Int? = nil, argument newArgument: Int = 0, expected: Int,
                    timeout: UInt64 = 5_000_000_000) -> (completed: Int, failed: Int) {
        completed.store(0, ordering: .relaxed)
        failed.store(0, ordering: .relaxed)
        job.store(newJob.rawValue, ordering: .relaxed)
        argument.store(newArgument, ordering: .relaxed)
        target.store(onlyCPU ?? -1, ordering: .relaxed)
        generation.wrappingAdd(1, ordering: .releasing)
        for index in 1..<CPU.count where CPU.state(of: index) == .online {
            if onlyCPU == nil || onlyCPU == index { LocalAPIC.sendWakeUp(to: CPU.blockPointer(index).pointee.apicID) }
        }
        let deadline = MonotonicClock.nanosecondsSinceBoot + timeout
        while completed.load(ordering: .acquiring) < expected && MonotonicClock.nanosecondsSinceBoot < deadline {
            Processor.relax()
        }
        return (completed.load(ordering: .acquiring), failed.load(ordering: .acquiring))
    }

    /// Starts the heap stress job on every application processor without waiting; returns
    /// how many were asked.
    static func startHeapStressOnOthers() -> Int {
        let count = Kernel.onlineCPUs - 1
        _ = run(.heapStress, expected: 0, timeout: 0)
        return count
    }

    /// Waits for the current job to be done by `expected` CPUs.
    static func waitForJob(expected: Int, timeout: UInt64 = 30_000_000_000) -> (completed: Int, failed: Int) {
        let deadline = MonotonicClock.nanosecondsSinceBoot + timeout
        while completed.load(ordering: .acquiring) < expected && MonotonicClock.nanosecondsSinceBoot < deadline {
            Processor.relax()
        }
        return (completed.load(ordering: .acquiring), failed.load(ordering: .acquiring))
    }

    /// The idle loop of every application processor: run its programs while any is ready, do
    /// published jobs, otherwise halt.
    static func applicationProcessorLoop() -> Never {
        let me = CPU.currentIndex
        var seen = generation.load(ordering: .acquiring)
        while true {
            // Symmetric mode: with its programs all blocked, the CPU does the network's work
            // here, as a lone program's `wait` does.
            NetworkCore.serveInKernel()
            // Check with interrupts off, then STI+HLT as one step: a wake-up IPI that arrives
            // after the check stays pending until HLT and ends it, so none is lost.
            interrupts_disable()
            if let tasks = ProgramTasks.current {
                // Back here when none of them is ready (all blocked, or ended).
                ProgramTasks.runFromIdle(tasks)
                if tasks.scheduler.readyCount > 0 { continue }
            }
            let current = generation.load(ordering: .acquiring)
            if current == seen {
                ProgramTasks.haltIdle()
                continue
            }
            interrupts_enable()
            seen = current
            let wanted = target.load(ordering: .relaxed)
            guard wanted == -1 || wanted == me else { continue }
            let currentJob = ProcessorJob(rawValue: job.load(ordering: .relaxed)) ?? .none
            // Jobs that take the CPU for good report done first.
            if currentJob == .networkCore {
                let context = argument.load(ordering: .relaxed)
                completed.wrappingAdd(1, ordering: .releasing)
                NetworkCore.run(context: context)
            }
            let ok = perform(currentJob)
            if !ok { failed.wrappingAdd(1, ordering: .releasing) }
            completed.wrappingAdd(1, ordering: .releasing)
        }
    }

    private static func perform(_ job: ProcessorJob) -> Bool {
        switch job {
        case .none, .ping:
            return true
        case .pageFault:
            SelfTests.touchUnmappedMemory()
            return false   // not reached: the fault stops this CPU
        case .invalidOpcode:
            raise_invalid_opcode()
            return false
        case .stackOverflow:
            return SelfTests.recurseForever(depth: 0) == 0
        case .heapStress:
            return SelfTests.heapStressRound(seed: UInt64(CPU.currentIndex) &* 0x9E37_79B9_7F4A_7C15)
        case .clockCheck:
            let reference = referenceTime.load(ordering: .acquiring)
            return MonotonicClock.nanosecondsSinceBoot >= reference
        case .networkCore:
            return false   // handled before `perform`: it never returns
        }
    }
}
