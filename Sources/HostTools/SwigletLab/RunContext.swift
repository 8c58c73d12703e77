/// What a run's measurement needs: its plan entry, the guest and its namespace, where logs go, and the tools.

import ExperimentKit
import Foundation

/// Everything one run is measured with.
struct RunContext {
    let experiment: Experiment
    let load: Load
    let run: PlannedRun
    let target: Target
    let namespace: LabNamespace
    let guest: Guest
    let counters: GuestCounterReader
    /// The tools' outputs of this run go to files starting with this path (`logs/LABEL`).
    let logPrefix: String
    let tools: LabTools
    /// Facts learned once per boot and load (a page's length, that a service answers).
    let bootState: BootState

    var guestAddress: String { GuestLaunch.guestAddress }
    var parameters: [LoadParameter: Int] { run.point.parameters }
}

/// The tools a run may use: found and checked before anything boots.
struct LabTools {
    /// swiglet-bench (release build).
    var bench: String
    /// scripts/wrk-verify.lua.
    var wrkScript: String
    /// scripts/wrk-paced.lua: wrk-verify.lua's checks at an offered rate.
    var wrkPacedScript: String
}

/// What the runs of one boot learn and share.
final class BootState {
    /// Loads whose service answered once in this boot.
    var ready: Set<String> = []
    /// `expected-length = auto`: the length learned per load.
    var learnedLength: [String: Int] = [:]
}

/// Measures `body` (the measurement proper: `record.started` is set when it begins) between two
/// snapshots of the guest's counters when the load records anything from them, and of the
/// host's /proc for `host-cpu`; adds their metrics to `record` (none, with a note, when a
/// snapshot could not be taken: missing, never zero).
func withCounters<Result>(_ context: RunContext, record: inout RunRecord, _ body: () throws -> Result) throws -> Result {
    let guestCounters = CPUShares.needsSnapshots(context.load.measurements)
    let hostCPU = context.load.measurements.contains(.hostCPU)
    let before = guestCounters ? try context.counters.snapshot() : nil
    let hostBefore = hostCPU ? HostCPUSample.take(processID: Int(context.guest.pid)) : nil
    record.started = Date()
    let result = try body()
    let hostAfter = hostCPU ? HostCPUSample.take(processID: Int(context.guest.pid)) : nil
    if hostCPU {
        if let hostBefore, let hostAfter, let usage = HostCPUUsage(from: hostBefore, to: hostAfter) {
            record.metrics.merge(usage.metrics) { _, new in new }
        } else {
            say("  host CPU: /proc/\(context.guest.pid) could not be read: host shares missing for this run")
        }
    }
    guard guestCounters else { return result }
    let after = try context.counters.snapshot()
    if let before, let after {
        let metrics = context.counters.metrics(before: before, after: after, measurements: context.load.measurements)
        record.metrics.merge(metrics) { _, new in new }
        if metrics.isEmpty { say("  counters: \(context.counters.lastProblem): CPU shares missing for this run") }
    } else {
        say("  counters: \(context.counters.lastProblem): CPU shares missing for this run")
    }
    return result
}
