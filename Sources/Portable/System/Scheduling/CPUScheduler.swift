// One CPU's round-robin scheduler: its run queue, the running program, time slices and per-program accounting (portable; the context switch is the kernel's).

/// What a program is doing, as its CPU's scheduler sees it.
public enum TaskState: UInt8, Equatable, Sendable {
    /// Not known to this scheduler (never added, or removed).
    case absent = 0
    /// Waiting in the run queue for the CPU.
    case ready = 1
    /// On the CPU.
    case running = 2
    /// Waiting for an event (`block`); `wake` makes it ready again.
    case blocked = 3
}

/// How a CPU's scheduler chooses the next program to run.
public enum SchedulingPolicy: Equatable, Sendable {
    /// One FIFO run queue and equal turns, as `CPUScheduler` describes: the default.
    case roundRobin
    /// Weighted fair share: the ready program with the least CPU time per unit of weight
    /// (`add(_:weight:)`) runs next, so spinners' CPU shares follow their weights.
    ///
    /// The starting point of the lab docs/labs/scheduling-policy: accepted but not yet
    /// honoured. A scheduler made with it still runs round robin and ignores the weights.
    case fairShare
}

/// What one program cost and did on its CPU: the numbers the intrusion meter and `/metrics` show.
public struct TaskAccount: Equatable, Sendable {
    /// Time on the CPU, in nanoseconds.
    public var cpuNanoseconds: UInt64 = 0
    /// Times it was put on the CPU.
    public var switchesIn: UInt64 = 0
    /// Times its time slice ran out with another program ready (it was preempted).
    public var preemptions: UInt64 = 0
    /// Times it was woken from `blocked`.
    public var wakeups: UInt64 = 0
    /// Times its `wait` system call ended because the timeout passed, not because its word
    /// changed. A server under steady load that times out has slept through a completion (a
    /// lost wake-up): its next request waited for the timeout.
    public var waitTimeouts: UInt64 = 0
    /// All zero.
    public init() {}
}

/// The scheduler of one CPU: preemptive round robin over the programs placed on it.
///
/// **Policy.** Ready programs wait in one FIFO. The running program keeps the CPU until it
/// yields, blocks, ends, or its time slice (`timeSlice` nanoseconds) runs out while another
/// program is ready; then it goes to the back of the queue and the head runs. A program that
/// never yields is therefore preempted at the first timer tick after its slice, and N programs
/// that all spin share the CPU in equal turns. A woken program goes to the back of the queue
/// (it does not preempt). With nothing ready the CPU has nothing to run: the kernel halts it
/// until an interrupt (`pickNext` returns nil).
///
/// **Memory and ownership.** Task numbers run from 0 to `capacity` − 1 (the kernel's program
/// slots). The queue is a ring of `capacity` entries with each task in it at most once, so it
/// cannot overflow; everything is allocated in `init`. One CPU owns its scheduler: a wake-up
/// from another CPU must go through the kernel's lock or mailbox for that CPU, not call `wake`
/// directly.
///
/// **Time** is passed in (monotonic nanoseconds), so the whole policy is tested on the host.
///
/// **Other policies.** `policy` names the policy a scheduler was made with; round robin is
/// the only one implemented (see `SchedulingPolicy.fairShare`).
public struct CPUScheduler {
    /// How long a program may run while others wait, in nanoseconds.
    public let timeSlice: UInt64
    /// The policy this scheduler was made with.
    public let policy: SchedulingPolicy
    /// Task numbers run from 0 to this − 1.
    public let capacity: Int
    /// The program on the CPU, if any.
    public private(set) var running: Int?
    /// When the running program was put on the CPU (its slice counts from here).
    public private(set) var runningSince: UInt64 = 0

    private let states: UnsafeMutablePointer<TaskState>
    private let accounts: UnsafeMutablePointer<TaskAccount>
    private let queue: UnsafeMutablePointer<UInt16>
    private var queueHead = 0
    /// Programs in the run queue.
    public private(set) var readyCount = 0

    /// A scheduler for task numbers 0..<`capacity` (1 to 65536) and slices of `timeSlice` ns,
    /// choosing by `policy`.
    public init(capacity: Int, timeSlice: UInt64, policy: SchedulingPolicy = .roundRobin) {
        precondition(capacity >= 1 && capacity <= 1 << 16, "a CPU schedules 1 to 65536 tasks")
        precondition(timeSlice > 0, "a time slice must be longer than 0")
        self.capacity = capacity
        self.timeSlice = timeSlice
        self.policy = policy
        states = .allocate(capacity: capacity)
        states.initialize(repeating: .absent, count: capacity)
        accounts = .allocate(capacity: capacity)
        accounts.initialize(repeating: TaskAccount(), count: capacity)
        queue = .allocate(capacity: capacity)
        queue.initialize(repeating: 0, count: capacity)
    }

    /// Task `task`'s state.
    public func state(of task: Int) -> TaskState { valid(task) ? states[task] : .absent }

    /// Task `task`'s account (the running one's CPU time up to its last switch or `account(now:)`).
    public func account(of task: Int) -> TaskAccount { valid(task) ? accounts[task] : TaskAccount() }

    /// How many programs this CPU has (ready, running or blocked): its load, for placement.
    public var load: Int {
        var count = readyCount + (running == nil ? 0 : 1)
        for task in 0..<capacity where states[task] == .blocked { count += 1 }
        return count
    }

    /// Adds a new program, ready to run (at the back of the queue). False when the number is
    /// out of range or already known here, or `weight` is 0.
    ///
    /// `weight` is the program's share under `.fairShare` (a program of weight 2 should get
    /// twice the CPU time of one of weight 1). The starting point of the lab
    /// docs/labs/scheduling-policy: accepted but not yet honoured (round robin ignores it).
    @discardableResult
    public mutating func add(_ task: Int, weight: UInt32 = 1) -> Bool {
        guard valid(task), states[task] == .absent, weight > 0 else { return false }
        accounts[task] = TaskAccount()
        enqueue(task)
        return true
    }

    /// Puts the head of the run queue on the CPU (when none runs) and returns what runs now;
    /// nil: nothing to run, the CPU may halt.
    public mutating func pickNext(now: UInt64) -> Int? {
        if let running { return running }
        guard let next = dequeue() else { return nil }
        states[next] = .running
        accounts[next].switchesIn &+= 1
        running = next
        runningSince = now
        return next
    }

    /// The timer ticked at `now`: if the running program's slice is over and another is ready,
    /// it goes to the back of the queue (preempted) and the next one runs. Returns whether the
    /// running program changed. A slice within `tolerance` nanoseconds of its end counts as
    /// over (a timer that fires a little early should not need a second interrupt); the
    /// accounts still use `now`.
    public mutating func tick(now: UInt64, tolerance: UInt64 = 0) -> Bool {
        guard let current = running, readyCount > 0, now &- runningSince &+ tolerance >= timeSlice else { return false }
        accounts[current].preemptions &+= 1
        stopRunning(now: now)
        enqueue(current)
        _ = pickNext(now: now)
        return true
    }

    /// The running program gives the CPU away: to the back of the queue; the next one runs
    /// (the same one when nobody else is ready). Returns what runs now.
    public mutating func yield(now: UInt64) -> Int? {
        guard let current = running else { return pickNext(now: now) }
        guard readyCount > 0 else { return current }
        stopRunning(now: now)
        enqueue(current)
        return pickNext(now: now)
    }

    /// The running program waits for an event: it leaves the CPU until `wake`. Returns what
    /// runs now (nil: halt).
    public mutating func block(now: UInt64) -> Int? {
        guard let current = running else { return pickNext(now: now) }
        stopRunning(now: now)
        states[current] = .blocked
        return pickNext(now: now)
    }

    /// A blocked program's event came: it is ready again, at the back of the queue. Waking a
    /// program that is not blocked does nothing (its event will be seen when it next looks).
    /// Returns whether it was woken.
    @discardableResult
    public mutating func wake(_ task: Int) -> Bool {
        guard valid(task), states[task] == .blocked else { return false }
        accounts[task].wakeups &+= 1
        enqueue(task)
        return true
    }

    /// The program ended or was killed: it leaves this CPU whatever its state (the CPU runs
    /// the next one if it was running). Returns its final account.
    @discardableResult
    public mutating func remove(_ task: Int, now: UInt64) -> TaskAccount {
        guard valid(task) else { return TaskAccount() }
        switch states[task] {
        case .running:
            stopRunning(now: now)
            _ = pickNext(now: now)
        case .ready:
            removeFromQueue(task)
        case .blocked, .absent:
            break
        }
        states[task] = .absent
        return accounts[task]
    }

    /// The running program's `wait` ended by its timeout (`TaskAccount.waitTimeouts`).
    public mutating func waitTimedOut() {
        guard let current = running else { return }
        accounts[current].waitTimeouts &+= 1
    }

    /// The running program spent the last `nanoseconds` halted (asleep in its own `wait`, the
    /// CPU stopped): not CPU time, so its interval starts that much later.
    public mutating func notCharging(_ nanoseconds: UInt64) {
        guard running != nil else { return }
        runningSince &+= nanoseconds
    }

    /// Brings the running program's CPU time up to `now` (for a reading of the accounts
    /// between switches).
    public mutating func account(now: UInt64) {
        guard let current = running else { return }
        accounts[current].cpuNanoseconds &+= now &- runningSince
        runningSince = now
    }

    // MARK: - The queue

    private func valid(_ task: Int) -> Bool { task >= 0 && task < capacity }

    private mutating func stopRunning(now: UInt64) {
        guard let current = running else { return }
        accounts[current].cpuNanoseconds &+= now &- runningSince
        running = nil
    }

    private mutating func enqueue(_ task: Int) {
        states[task] = .ready
        queue[(queueHead + readyCount) % capacity] = UInt16(task)
        readyCount += 1
    }

    private mutating func dequeue() -> Int? {
        guard readyCount > 0 else { return nil }
        let task = Int(queue[queueHead])
        queueHead = (queueHead + 1) % capacity
        readyCount -= 1
        return task
    }

    /// Takes `task` out of the middle of the queue, keeping the others' order.
    private mutating func removeFromQueue(_ task: Int) {
        var kept = 0
        for position in 0..<readyCount {
            let entry = queue[(queueHead + position) % capacity]
            if Int(entry) != task {
                queue[(queueHead + kept) % capacity] = entry
                kept += 1
            }
        }
        readyCount = kept
    }
}

/// The CPU a program started without `@CPU` goes to: the least-loaded candidate, the lowest
/// number on a tie (so placement is reproducible). nil when there is no candidate.
public func leastLoadedCPU(loads: [(cpu: Int, load: Int)]) -> Int? {
    var best: (cpu: Int, load: Int)?
    for candidate in loads where best == nil || candidate.load < best!.load
        || (candidate.load == best!.load && candidate.cpu < best!.cpu) {
        best = candidate
    }
    return best?.cpu
}
