/// The host's CPU time during a run: QEMU's threads one by one (each vCPU, the I/O thread) and the whole host, from the host's /proc, to show which of them was saturated.
///
/// Under TCG every vCPU is one host thread, and QEMU's main loop — its I/O thread, which
/// emulates virtio-net and moves every frame through the tap — is another. On a small host a
/// polling network core, the I/O thread and the load generator compete for the same cores, so a
/// rate can be bounded by the host rather than by either guest. The guests' own counters
/// cannot see that; the host's can.
///
/// Sources (proc(5)): `/proc/PID/task/TID/stat` — after the `(comm)` field, `utime` and `stime`
/// are fields 14 and 15 of the line, in clock ticks (`sysconf(_SC_CLK_TCK)`, 100 on x86-64);
/// `/proc/PID/task/TID/comm` — the thread's name (QEMU started with `-name X,debug-threads=on`
/// names its vCPU threads `CPU N/TCG`); and `/proc/stat`, read with `LinuxCPUStat`.

#if canImport(Glibc)
import Glibc
#endif

/// One thread's CPU time so far.
public struct HostThreadTime: Equatable, Sendable {
    /// The thread's name (`comm`).
    public var name: String
    /// User plus system time, in clock ticks.
    public var ticks: UInt64

    public init(name: String, ticks: UInt64) {
        self.name = name
        self.ticks = ticks
    }

    /// The ticks (utime + stime) of one `/proc/PID/task/TID/stat` line; nil when it is not one.
    /// The name in parentheses may itself hold spaces and parentheses, so the fields are
    /// counted from the last `)`.
    public static func ticks(statLine: String) -> UInt64? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3 of the line), so utime (14) and stime (15) are 11 and 12.
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }
}

/// A snapshot of one process's threads and of the whole host.
public struct HostCPUSample: Equatable, Sendable {
    /// The process (QEMU): its main thread has the process's own id.
    public var processID: Int
    /// Every thread of the process, by thread id.
    public var threads: [Int: HostThreadTime]
    /// The host's `cpu` line of /proc/stat.
    public var host: LinuxCPUTimes
    /// The host's online cores (the `cpuN` lines).
    public var hostCores: Int
    /// When it was taken, in seconds of a monotonic clock.
    public var seconds: Double

    public init(processID: Int, threads: [Int: HostThreadTime], host: LinuxCPUTimes, hostCores: Int, seconds: Double) {
        self.processID = processID
        self.threads = threads
        self.host = host
        self.hostCores = hostCores
        self.seconds = seconds
    }

    /// The stat files' clock tick on this host (`sysconf(_SC_CLK_TCK)`; 100 on x86-64).
    public static var clockTicksPerSecond: Double { Double(max(1, sysconf(Int32(_SC_CLK_TCK)))) }

    /// Reads the snapshot of process `processID` from /proc; nil when the process or /proc/stat
    /// cannot be read (then the run's host metrics are missing, never zero).
    public static func take(processID: Int) -> HostCPUSample? {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        guard let statText = readProcFile("/proc/stat"), let stat = try? LinuxCPUStat(parsing: statText),
              let tids = numberedEntries(of: "/proc/\(processID)/task") else { return nil }
        var threads: [Int: HostThreadTime] = [:]
        for tid in tids {
            guard let line = readProcFile("/proc/\(processID)/task/\(tid)/stat"),
                  let ticks = HostThreadTime.ticks(statLine: line) else { continue }
            var comm = readProcFile("/proc/\(processID)/task/\(tid)/comm") ?? "?"
            if comm.hasSuffix("\n") { comm.removeLast() }
            threads[tid] = HostThreadTime(name: comm, ticks: ticks)
        }
        guard !threads.isEmpty else { return nil }
        return HostCPUSample(processID: processID, threads: threads, host: stat.total, hostCores: max(1, stat.cpus.count),
                             seconds: seconds)
    }
}

/// The entries of a /proc directory that are numbers (process or thread ids); nil when it
/// cannot be opened.
public func numberedEntries(of path: String) -> [Int]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var numbers: [Int] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let number = Int(name) { numbers.append(number) }
    }
    return numbers
}

/// A small file of /proc read whole (its size shows as 0, so it is read until the end); nil
/// when it cannot be opened.
public func readProcFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The host CPU used between two snapshots, in percent of one host core (as `top` counts it).
public struct HostCPUUsage: Equatable, Sendable {
    /// Each thread name's time (threads of one name added), busiest first.
    public var threads: [HostThreadUse]
    /// QEMU's main loop (the thread whose id is the process's): device emulation and the tap.
    public var ioThread: Double
    /// The vCPU threads (`CPU N/TCG` or `CPU N/KVM`), by vCPU number.
    public var vcpus: [Int: Double]
    /// All of QEMU's threads together.
    public var qemu: Double
    /// The host's busy time on all its cores together (100 per core).
    public var hostBusy: Double
    /// The host's cores.
    public var hostCores: Int
    /// Everything else the host did: the load generator, the host kernel's network path
    /// (softirqs run in no thread of QEMU's), other processes. At least 0.
    public var rest: Double { max(0, hostBusy - qemu) }

    /// From `before` to `after` of the same process; nil when they are of different processes
    /// or no time passed. `ticksPerSecond` is the stat files' clock tick (`_SC_CLK_TCK`).
    public init?(from before: HostCPUSample, to after: HostCPUSample, ticksPerSecond: Double = HostCPUSample.clockTicksPerSecond) {
        let seconds = after.seconds - before.seconds
        guard before.processID == after.processID, seconds > 0, ticksPerSecond > 0 else { return nil }
        func percent(_ ticks: UInt64) -> Double { Double(ticks) / ticksPerSecond / seconds * 100 }
        var byName: [String: Double] = [:]
        var vcpus: [Int: Double] = [:]
        var ioThread = 0.0
        var qemu = 0.0
        // Threads that started during the run count from 0; threads that ended are not seen.
        for (tid, now) in after.threads {
            let earlier = before.threads[tid]?.ticks ?? 0
            // A smaller count is another thread under a reused id: it counts from 0.
            let used = percent(now.ticks >= earlier ? now.ticks - earlier : now.ticks)
            byName[now.name, default: 0] += used
            qemu += used
            if tid == after.processID { ioThread += used }
            if let vcpu = Self.vcpuNumber(threadName: now.name) { vcpus[vcpu, default: 0] += used }
        }
        threads = byName.map { HostThreadUse(name: $0.key, percent: $0.value) }
            .sorted { $0.percent != $1.percent ? $0.percent > $1.percent : $0.name < $1.name }
        self.ioThread = ioThread
        self.vcpus = vcpus
        self.qemu = qemu
        let (busyBefore, busyAfter) = (before.host.busyTicks, after.host.busyTicks)
        hostBusy = percent(busyAfter >= busyBefore ? busyAfter - busyBefore : 0)
        hostCores = after.hostCores
    }

    /// N of a thread named `CPU N/TCG` (or `/KVM`, or any accelerator); nil for other threads.
    public static func vcpuNumber(threadName: String) -> Int? {
        guard threadName.hasPrefix("CPU "), let slash = threadName.firstIndex(of: "/") else { return nil }
        return Int(threadName[threadName.index(threadName.startIndex, offsetBy: 4)..<slash])
    }

    /// The run's `host-cpu` metrics (`MetricName.hostBusy` and the others), in percent of one
    /// host core.
    public var metrics: [String: Double] {
        var metrics: [String: Double] = [
            MetricName.hostBusy: hostBusy,
            MetricName.hostIOThread: ioThread,
            MetricName.hostQEMU: qemu,
            MetricName.hostRest: rest,
        ]
        for (vcpu, percent) in vcpus { metrics[MetricName.hostVCPU(vcpu)] = percent }
        return metrics
    }
}

/// One thread name's share of the host in a `HostCPUUsage`.
public struct HostThreadUse: Equatable, Sendable {
    public var name: String
    /// Percent of one host core.
    public var percent: Double

    public init(name: String, percent: Double) {
        self.name = name
        self.percent = percent
    }
}

extension LinuxCPUTimes {
    /// Ticks not idle: user, nice, system, irq, softirq and steal (guest time is already in
    /// user and nice; iowait is idle).
    public var busyTicks: UInt64 { user &+ nice &+ system &+ irq &+ softirq &+ steal }
}

extension MetricName {
    /// `host-cpu`: the host's busy time on all its cores, in percent of one core (a 2-core
    /// host that is full reads 200).
    public static let hostBusy = "host_busy_pct"
    /// `host-cpu`: QEMU's main loop thread (device emulation, the tap), percent of one core.
    public static let hostIOThread = "host_io_thread_pct"
    /// `host-cpu`: all QEMU's threads together, percent of one core.
    public static let hostQEMU = "host_qemu_pct"
    /// `host-cpu`: the rest of the host's busy time (load generator, host kernel, other work).
    public static let hostRest = "host_rest_pct"
    /// `host-cpu`: the thread of vCPU `vcpu`, percent of one core.
    public static func hostVCPU(_ vcpu: Int) -> String { "host_vcpu\(vcpu)_pct" }
}
