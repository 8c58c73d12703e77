/// Other processes busy on the host before a sitting starts: a host that is not idle measures something else.
///
/// On a 2-core host a single stray process (a test left spinning, a build) takes half the
/// machine from QEMU's threads and the load generator, and every ratio of the sitting with it.
/// One such sitting was measured whole before anyone noticed (`idle-kick`, 2026-12-06 18:17).
/// So `swiglet-lab run` looks at every process's CPU time over a second before it boots
/// anything, and names the busy ones.
///
/// Source (proc(5)): `/proc/PID/stat`, the process's `(comm)` and, after it, `utime` and
/// `stime` (fields 14 and 15) in clock ticks, read as `HostThreadTime` reads a thread's.

#if canImport(Glibc)
import Glibc
#endif

/// A process that used the host's CPU between two snapshots.
public struct BusyProcess: Equatable, Sendable {
    public var processID: Int
    public var name: String
    /// CPU time used, in percent of one host core (as `top` counts it).
    public var percent: Double

    public init(processID: Int, name: String, percent: Double) {
        self.processID = processID
        self.name = name
        self.percent = percent
    }
}

/// Finds the processes busy on the host.
public enum BusyHost {
    /// Below this share of one core a process is not worth naming (an idle shell, the kernel's
    /// housekeeping); above it, it competes with what is measured.
    public static let thresholdPercent = 20.0

    /// The processes that used at least `threshold` percent of a core between `before` and
    /// `after` (by process id, taken `seconds` apart), busiest first. A process in only one
    /// snapshot (started or ended meanwhile) is left out: its share cannot be told.
    public static func busyProcesses(before: [Int: HostThreadTime], after: [Int: HostThreadTime], seconds: Double,
                                     ticksPerSecond: Double, threshold: Double = thresholdPercent) -> [BusyProcess] {
        guard seconds > 0, ticksPerSecond > 0 else { return [] }
        var busy: [BusyProcess] = []
        for (processID, later) in after {
            guard let earlier = before[processID], later.ticks >= earlier.ticks else { continue }
            let percent = Double(later.ticks - earlier.ticks) / ticksPerSecond / seconds * 100
            if percent >= threshold { busy.append(BusyProcess(processID: processID, name: later.name, percent: percent)) }
        }
        return busy.sorted { $0.percent != $1.percent ? $0.percent > $1.percent : $0.processID < $1.processID }
    }

    /// The warning for `busy`, nil when it is empty.
    public static func warning(_ busy: [BusyProcess]) -> String? {
        guard !busy.isEmpty else { return nil }
        let named = busy.prefix(5).map { "\($0.name) (pid \($0.processID), \(Int($0.percent.rounded()))% of a core)" }
        return "warning: the host is not idle before the run: " + named.joined(separator: ", ")
            + "; every number of this sitting shares the host with them (stop them, or compare only within the sitting)"
    }

    /// The name of a `/proc/PID/stat` line: between the first `(` and the last `)` (a name may
    /// hold either); nil when the line has none.
    public static func name(statLine: String) -> String? {
        guard let open = statLine.firstIndex(of: "("), let close = statLine.lastIndex(of: ")"), open < close else { return nil }
        return String(statLine[statLine.index(after: open)..<close])
    }

    /// Every process's CPU time now, from /proc (those that cannot be read are left out).
    public static func snapshot() -> [Int: HostThreadTime] {
        var processes: [Int: HostThreadTime] = [:]
        for processID in numberedEntries(of: "/proc") ?? [] {
            guard let line = readProcFile("/proc/\(processID)/stat"),
                  let ticks = HostThreadTime.ticks(statLine: line), let comm = Self.name(statLine: line) else { continue }
            processes[processID] = HostThreadTime(name: comm, ticks: ticks)
        }
        return processes
    }

    /// The busy processes over `seconds` from now, leaving out `excluding` (the lab itself).
    public static func measure(seconds: Double = 1, excluding: Set<Int> = []) -> [BusyProcess] {
        let before = snapshot()
        usleep(UInt32(seconds * 1_000_000))
        let after = snapshot().filter { !excluding.contains($0.key) }
        return busyProcesses(before: before, after: after, seconds: seconds, ticksPerSecond: HostCPUSample.clockTicksPerSecond)
    }
}
