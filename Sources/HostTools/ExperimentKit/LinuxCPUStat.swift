/// Linux's CPU accounting from /proc/stat: two snapshots and the wall time between them give each CPU's shares.
///
/// The Linux guest serves its /proc/stat at `GET /proc/stat` on its HTTP port
/// (Sources/HostTools/LinuxEchoServer/ProcFiles.swift), so that an experiment can set Linux's intrusion —
/// its time in system calls and interrupts — beside Swiglet's intrusion meter.
///
/// /proc/stat (proc(5)): a `cpu` line with the sums over all CPUs, then one `cpuN` line per
/// online CPU, each with ten cumulative counters — user, nice, system, idle, iowait, irq,
/// softirq, steal, guest, guest_nice — in USER_HZ ticks; an `intr` line whose first number is
/// the total of interrupts served since boot (the rest are per interrupt number); then
/// `ctxt`, `btime`, `processes`, `procs_running`, `procs_blocked` and `softirq`.
///
/// **USER_HZ is assumed to be 100** (`LinuxCPUStat.userHZ`): the unit of /proc/stat is
/// `sysconf(_SC_CLK_TCK)` in the guest, which is 100 on x86-64 whatever the kernel's CONFIG_HZ
/// (the kernel converts to USER_HZ for user space, and x86 fixes USER_HZ at 100). A tick is
/// then 10 ms: over a 10 s measurement a share has a resolution of 0.1%. A guest with another
/// USER_HZ can pass its own.

/// One CPU's counters (or the sums of the `cpu` line), in USER_HZ ticks since boot.
public struct LinuxCPUTimes: Equatable, Sendable {
    public var user: UInt64
    public var nice: UInt64
    public var system: UInt64
    public var idle: UInt64
    public var iowait: UInt64
    public var irq: UInt64
    public var softirq: UInt64
    public var steal: UInt64
    /// Time running a virtual CPU for a guest of this guest. Already counted in `user` (and
    /// `guestNice` in `nice`) by the kernel, so never added again here.
    public var guest: UInt64
    public var guestNice: UInt64

    public init(user: UInt64 = 0, nice: UInt64 = 0, system: UInt64 = 0, idle: UInt64 = 0, iowait: UInt64 = 0,
                irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0, guest: UInt64 = 0, guestNice: UInt64 = 0) {
        self.user = user
        self.nice = nice
        self.system = system
        self.idle = idle
        self.iowait = iowait
        self.irq = irq
        self.softirq = softirq
        self.steal = steal
        self.guest = guest
        self.guestNice = guestNice
    }

    /// The counters as the line lists them; a kernel older than 2.6.33 gives fewer (at least 4),
    /// and the missing ones are 0.
    init?(fields: [UInt64]) {
        guard fields.count >= 4 else { return nil }
        func at(_ index: Int) -> UInt64 { index < fields.count ? fields[index] : 0 }
        self.init(user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4), irq: at(5), softirq: at(6),
                  steal: at(7), guest: at(8), guestNice: at(9))
    }

    /// Every counter, in the file's order.
    var all: [UInt64] { [user, nice, system, idle, iowait, irq, softirq, steal, guest, guestNice] }
}

/// A /proc/stat text that cannot be read, or two snapshots that cannot be compared.
public struct LinuxCPUStatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 1-based line at fault, when one is.
    public var line: Int?
    public var message: String

    public init(line: Int? = nil, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "/proc/stat:\(line): \(message)" } else { "/proc/stat: \(message)" }
    }
}

/// One snapshot of /proc/stat: the CPU lines and the interrupt total.
public struct LinuxCPUStat: Equatable, Sendable {
    /// The unit of /proc/stat's CPU counters assumed by default: 100 ticks per second (see above).
    public static let userHZ: Double = 100

    /// The `cpu` line: sums over all CPUs.
    public var total: LinuxCPUTimes
    /// The `cpuN` lines, by N (offline CPUs have none).
    public var cpus: [Int: LinuxCPUTimes]
    /// The first number of the `intr` line: interrupts served since boot, all CPUs and sources;
    /// nil when the text has no `intr` line.
    public var interrupts: UInt64?

    public init(total: LinuxCPUTimes, cpus: [Int: LinuxCPUTimes], interrupts: UInt64? = nil) {
        self.total = total
        self.cpus = cpus
        self.interrupts = interrupts
    }

    /// Parses /proc/stat's text. Lines other than `cpu`, `cpuN` and `intr` are skipped; a
    /// `cpu` line with fewer than four counters or a counter that is not a whole number is an
    /// error, and so is a text without a `cpu` line (not /proc/stat: an HTTP error page, say).
    public init(parsing text: String) throws(LinuxCPUStatError) {
        var total: LinuxCPUTimes?
        var cpus: [Int: LinuxCPUTimes] = [:]
        var interrupts: UInt64?
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let name = words.first else { continue }
            if name == "intr" {
                guard words.count >= 2, let count = UInt64(words[1]) else {
                    throw LinuxCPUStatError(line: lineNumber, message: "'intr' without a total: '\(line)'")
                }
                interrupts = count
                continue
            }
            guard name.hasPrefix("cpu") else { continue }
            var numbers: [UInt64] = []
            for word in words.dropFirst() {
                guard let number = UInt64(word) else {
                    throw LinuxCPUStatError(line: lineNumber, message: "'\(word)' is not a counter in '\(line)'")
                }
                numbers.append(number)
            }
            guard let times = LinuxCPUTimes(fields: numbers) else {
                throw LinuxCPUStatError(line: lineNumber, message: "\(numbers.count) counters, at least 4 expected: '\(line)'")
            }
            if name == "cpu" {
                total = times
            } else if let cpu = Int(name.dropFirst(3)), cpu >= 0 {
                guard cpus[cpu] == nil else { throw LinuxCPUStatError(line: lineNumber, message: "\(name) twice") }
                cpus[cpu] = times
            } else {
                throw LinuxCPUStatError(line: lineNumber, message: "'\(name)' is not cpu or cpuN")
            }
        }
        guard let total else { throw LinuxCPUStatError(message: "no 'cpu' line: not /proc/stat's text") }
        self.init(total: total, cpus: cpus, interrupts: interrupts)
    }
}

/// How one CPU (or all of them, averaged) spent the wall time between two snapshots, as
/// fractions of that time (0–1). Shares are ticks over USER_HZ × wall seconds and are not
/// scaled to sum to 1: their sum (`accounted`) says how well the ticks cover the wall time
/// (off by a tick or two at each end, more when the two reads are not exactly `seconds` apart).
public struct LinuxCPUShares: Equatable, Sendable {
    /// Running programs: user + nice (guest time is inside these already).
    public var user: Double
    /// In the kernel on behalf of programs: system calls, page faults (and the network work
    /// done in a system call's context: sends, receives on the way up from a socket).
    public var system: Double
    /// Serving interrupts: irq + softirq (where most of the network's receive work runs).
    public var irq: Double
    /// Nothing to run: idle + iowait.
    public var idle: Double
    /// Taken by the hypervisor (0 under TCG, which does not report it).
    public var steal: Double

    public init(user: Double, system: Double, irq: Double, idle: Double, steal: Double) {
        self.user = user
        self.system = system
        self.irq = irq
        self.idle = idle
        self.steal = steal
    }

    /// The sum of the shares: about 1 (for the average over CPUs too) when the guest's ticks
    /// kept up with the wall time; less when it lost ticks (see `LinuxCPUUsage`).
    public var accounted: Double { user + system + irq + idle + steal }

    /// The shares of the ticks that were counted (each over `accounted`, so they sum to 1):
    /// how the CPU's counted time was split, whatever ticks were lost. All 0 when none were.
    public var normalized: LinuxCPUShares {
        let sum = accounted
        guard sum > 0 else { return self }
        return LinuxCPUShares(user: user / sum, system: system / sum, irq: irq / sum, idle: idle / sum, steal: steal / sum)
    }
}

/// What two /proc/stat snapshots say about the time between them.
///
/// Under QEMU's TCG on a busy host the guest loses ticks: the kernel counts CPU time by
/// sampling on its timer tick, and ticks that come late are not made up. Measured on the
/// benchmark's guest (2 vCPUs, HTTP keep-alive load, a 2-core host running builds): over
/// 8.2 s of wall time the CPUs counted 5.14 and 5.94 s (`accounted` 0.63 and 0.72). The
/// shares over the wall time then undercount every category alike; `normalized` gives the
/// split of the time that was counted.
public struct LinuxCPUUsage: Equatable, Sendable {
    /// Wall seconds between the snapshots.
    public var seconds: Double
    /// Each CPU's shares, by CPU number (the CPUs both snapshots have).
    public var cpus: [Int: LinuxCPUShares]
    /// The `cpu` line's shares divided by the number of CPUs: the machine's average.
    public var average: LinuxCPUShares
    /// Interrupts per second, all CPUs and sources together (the `intr` total); nil when a
    /// snapshot has no `intr` line.
    public var interruptsPerSecond: Double?

    /// The shares between `before` and `after`, taken `seconds` of wall time apart.
    /// Fails when the time is not positive, when a counter went backwards (the guest rebooted
    /// in between) or when the snapshots list different CPUs (one went offline).
    public init(from before: LinuxCPUStat, to after: LinuxCPUStat, seconds: Double,
                userHZ: Double = LinuxCPUStat.userHZ) throws(LinuxCPUStatError) {
        guard seconds > 0, seconds.isFinite else {
            throw LinuxCPUStatError(message: "the wall time between the snapshots must be positive, not \(seconds)")
        }
        guard userHZ > 0 else { throw LinuxCPUStatError(message: "USER_HZ must be positive, not \(userHZ)") }
        guard Set(before.cpus.keys) == Set(after.cpus.keys) else {
            throw LinuxCPUStatError(message: "the snapshots list different CPUs: \(before.cpus.keys.sorted()) and \(after.cpus.keys.sorted())")
        }
        let ticks = seconds * userHZ
        func shares(_ old: LinuxCPUTimes, _ new: LinuxCPUTimes, of name: String, over cpuCount: Int) throws(LinuxCPUStatError) -> LinuxCPUShares {
            for (a, b) in zip(old.all, new.all) where b < a {
                throw LinuxCPUStatError(message: "\(name): a counter went backwards (\(a) then \(b)): did the guest reboot?")
            }
            let span = ticks * Double(cpuCount)
            func delta(_ path: KeyPath<LinuxCPUTimes, UInt64>) -> Double { Double(new[keyPath: path] - old[keyPath: path]) }
            return LinuxCPUShares(user: (delta(\.user) + delta(\.nice)) / span,
                                  system: delta(\.system) / span,
                                  irq: (delta(\.irq) + delta(\.softirq)) / span,
                                  idle: (delta(\.idle) + delta(\.iowait)) / span,
                                  steal: delta(\.steal) / span)
        }
        var cpus: [Int: LinuxCPUShares] = [:]
        for (cpu, new) in after.cpus {
            cpus[cpu] = try shares(before.cpus[cpu]!, new, of: "cpu\(cpu)", over: 1)
        }
        self.seconds = seconds
        self.cpus = cpus
        self.average = try shares(before.total, after.total, of: "cpu", over: max(after.cpus.count, 1))
        if let first = before.interrupts, let last = after.interrupts {
            guard last >= first else {
                throw LinuxCPUStatError(message: "the interrupt total went backwards (\(first) then \(last)): did the guest reboot?")
            }
            interruptsPerSecond = Double(last - first) / seconds
        } else {
            interruptsPerSecond = nil
        }
    }

    /// The shares as run metrics (names from `MetricName`): for every CPU N, `user_share_cpuN`,
    /// `system_share_cpuN`, `irq_share_cpuN`, `idle_share_cpuN`, `steal_share_cpuN`; and
    /// `interrupts_per_second` when there is an interrupt total.
    public var metrics: [String: Double] {
        var metrics: [String: Double] = [:]
        for (cpu, shares) in cpus {
            metrics[MetricName.linuxUserShare(cpu: cpu)] = shares.user
            metrics[MetricName.linuxSystemShare(cpu: cpu)] = shares.system
            metrics[MetricName.linuxIRQShare(cpu: cpu)] = shares.irq
            metrics[MetricName.linuxIdleShare(cpu: cpu)] = shares.idle
            metrics[MetricName.linuxStealShare(cpu: cpu)] = shares.steal
        }
        if let interruptsPerSecond { metrics[MetricName.interruptsPerSecond] = interruptsPerSecond }
        return metrics
    }
}

extension MetricName {
    /// `cpu-share` of a Linux target (`LinuxCPUUsage`): the fraction of the elapsed time CPU
    /// `cpu` spent in user mode (user + nice).
    public static func linuxUserShare(cpu: Int) -> String { "user_share_cpu\(cpu)" }
    /// ... in the kernel outside interrupts (system).
    public static func linuxSystemShare(cpu: Int) -> String { "system_share_cpu\(cpu)" }
    /// ... serving interrupts (irq + softirq).
    public static func linuxIRQShare(cpu: Int) -> String { "irq_share_cpu\(cpu)" }
    /// ... with nothing to run (idle + iowait).
    public static func linuxIdleShare(cpu: Int) -> String { "idle_share_cpu\(cpu)" }
    /// ... taken by the hypervisor (steal).
    public static func linuxStealShare(cpu: Int) -> String { "steal_share_cpu\(cpu)" }
    /// `interrupts` of a Linux target: interrupts per second over all CPUs (/proc/stat's `intr` total).
    public static let interruptsPerSecond = "interrupts_per_second"
}
