/// `swiglet-lab run`: the experiment's boots one after another, each in its own namespace, its runs measured and appended to raw.csv as they end.

import ExperimentKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a planned experiment into a results directory.
final class ExperimentRunner {
    let experiment: Experiment
    let plan: ExperimentPlan
    let options: LabRunOptions
    let results: ResultsDirectory
    let tools: LabTools
    /// Runs measured in this invocation, and the seconds they took (boots included): the ETA.
    private var runsSoFar = 0
    private var secondsSoFar = 0.0
    /// Set by the first failure when --keep-going is not given.
    private var stopRequested = false

    init(experiment: Experiment, options: LabRunOptions, results: ResultsDirectory, tools: LabTools) {
        self.experiment = experiment
        plan = ExperimentPlan(experiment)
        self.options = options
        self.results = results
        self.tools = tools
    }

    /// Measures every boot not yet measured; then writes the summary, the table and the plots.
    func run() -> LabExitStatus {
        let boots = plan.remainingBoots(completed: results.raw.completedKeys)
        let total = plan.runs.count
        let done = total - plan.remainingRunCount(completed: results.raw.completedKeys)
        say("\(experiment.name): \(total) runs in \(plan.boots.count) boots\(done > 0 ? ", \(done) already in raw.csv" : "")"
            + "; results in \(results.path)")
        var interrupted = false
        do {
            for (index, boot) in boots.enumerated() {
                try Interruption.check()
                try runBoot(boot, number: index + 1, of: boots.count)
                if stopRequested {
                    say("stopping after the first failure (--keep-going measures the rest; continue with \(resumeCommand))")
                    break
                }
            }
        } catch is Interrupted {
            interrupted = true
        } catch {
            say("error: \(error)")
            stopRequested = true
        }
        return finish(interrupted: interrupted)
    }

    /// One boot: namespace, QEMU, its runs, cleanup (always, through `defer`).
    private func runBoot(_ boot: PlannedBoot, number: Int, of count: Int) throws {
        let started = monotonicSeconds()
        defer { secondsSoFar += monotonicSeconds() - started }
        guard let target = experiment.target(named: boot.target) else { return }

        let runs = boot.runs
        guard !runs.isEmpty else { return }

        say("boot \(number)/\(count): \(boot.key)\(boot.bootOptions.isEmpty ? "" : " with '\(boot.bootOptions)'")")
        let label = boot.fileLabel
        let namespace: LabNamespace
        do {
            namespace = try LabNamespace(name: "swlab-\(getpid())-\(number)", queues: experiment.machine.queues)
        } catch {
            return try failAll(runs, reason: "no namespace: \(error)")
        }
        defer { namespace.delete() }
        let pcap = "\(results.pcaps)/\(label).pcap"
        let launch = GuestLaunch(kind: target.kind, cpus: boot.cpus, memory: experiment.machine.memory,
                                 queues: experiment.machine.queues, icount: experiment.machine.icount,
                                 bootOptions: boot.bootOptions, consolePath: "\(results.consoles)/\(label)-console.log",
                                 pcapPath: pcap, pcapFrameBytes: Capture.frameBytes, name: target.name,
                                 extraArguments: experiment.machine.qemuOptions + target.qemuOptions,
                                 swigletImage: target.swigletImage ?? Target.defaultSwigletImage)
        if !launch.capturesFrames && number == 1 {
            say("  no pcap: QEMU's filter-dump does not support a multiqueue tap (queues = \(launch.queues))")
        }
        results.addCommandLine(boot: boot.key, target: target.name, arguments: launch.arguments)
        try results.saveMetadata()
        let guest: Guest
        do {
            guest = try Guest(launch: launch, namespace: namespace, qemuLogPath: "\(results.consoles)/\(label)-qemu.log")
        } catch {
            return try failAll(runs, reason: "QEMU did not start: \(error)")
        }
        var allOk = true
        defer {
            guest.stop()
            say("  " + Capture.finish(pcap, keep: !allOk))
        }
        let bootStarted = monotonicSeconds()
        do {
            try guest.waitUntilReady(timeout: options.readyTimeout)
        } catch let failure as BootFailure {
            allOk = false
            say("  guest did not boot: \(failure) (console: \(launch.consolePath))")
            say("  console's last lines: \(lastLines(guest.console, 8))")
            return try failAll(runs, reason: "guest did not boot: \(failure)")
        }
        say("  ready after \(Int(monotonicSeconds() - bootStarted)) s: \(guest.readyLine.trimmingCharacters(in: .whitespaces))")

        let counters = GuestCounterReader(kind: target.kind, namespace: namespace)
        if target.kind == .swiglet, case .swiglet(let samples, _)? = try? counters.snapshot() {
            results.note("roles \(boot.key)", CPUShares.roles(samples))
        }
        let state = BootState()
        for (index, run) in runs.enumerated() {
            try Interruption.check()
            let completed = results.raw.completedKeys
            let eta = LabProgress.estimate(plan: plan, completed: completed, secondsSoFar: secondsSoFar + monotonicSeconds() - started,
                                           runsSoFar: runsSoFar)
            say(LabProgress.line(run: run, done: plan.runs.count - plan.remainingRunCount(completed: completed),
                                 total: plan.runs.count, bootNumber: number, boots: count, etaSeconds: eta))
            var record = RunRecord(run, of: plan, started: Date())
            if guest.isRunning {
                let context = RunContext(experiment: experiment, load: experiment.load(named: run.point.load)!, run: run,
                                         target: target, namespace: namespace, guest: guest, counters: counters,
                                         logPrefix: "\(results.logs)/\(run.fileLabel)", tools: tools, bootState: state)
                do {
                    try measure(context, record: &record)
                } catch let error as LaunchError {
                    record.fail("\(error)")
                }
                if !guest.isRunning && record.status == .ok {
                    record.fail("QEMU exited during the run (console: \(launch.consolePath))")
                }
            } else {
                record.fail("QEMU exited before the run (console: \(launch.consolePath))")
            }
            record.conclude(errorThreshold: experiment.errorThreshold)
            try results.append(record)
            runsSoFar += 1
            say("  " + summaryLine(record))
            if record.status == .failed {
                allOk = false
                if !options.keepGoing {
                    stopRequested = true
                    // The rest of this boot is not measured; a resume measures it.
                    if index + 1 < runs.count { say("  \(runs.count - index - 1) more runs of this boot left unmeasured") }
                    break
                }
            }
        }
        for (load, length) in state.learnedLength {
            results.note("expected-length \(load) \(boot.key)", "\(length) bytes (learned with curl)")
        }
        try results.saveMetadata()
    }

    /// The load's measurement.
    private func measure(_ context: RunContext, record: inout RunRecord) throws {
        switch context.load.kind {
        case .httpKeepAlive, .httpClose: try HTTPLoadRun.measure(context, record: &record)
        case .udpEcho: try UDPEchoRun.measure(context, record: &record)
        case .tcpBulk: try TCPBulkRun.measure(context, record: &record)
        case .tcpEcho: try TCPEchoRun.measure(context, record: &record)
        }
    }

    /// Records every run of `runs` as failed with `reason` (a boot that did not happen).
    private func failAll(_ runs: [PlannedRun], reason: String) throws {
        for run in runs {
            var record = RunRecord(run, of: plan, started: Date())
            record.fail(reason)
            try results.append(record)
        }
        if !options.keepGoing { stopRequested = true }
    }

    /// `ok: 2,345 requests_per_second, p50 1.2 ms...` or `FAILED: reason`.
    private func summaryLine(_ record: RunRecord) -> String {
        let errors = record.errors
        let counts = "\(record.requests) requests, errors: \(errors.wrongLength) wrong length, \(errors.wrongStatus) wrong status, "
            + "\(errors.timeouts) timeouts, \(errors.connectFailed) connects failed, \(errors.other) other"
        guard record.status == .ok else { return "FAILED: \(record.reason) (\(counts))" }
        let shown = Summary.orderedMetrics(Set(record.metrics.keys)).prefix(4)
            .map { "\($0) \(MarkdownTable.number(record.metrics[$0]!))" }
        return "ok: " + shown.joined(separator: ", ") + " (\(counts))"
    }

    /// The command that continues this results directory: the same plan options, its path.
    private var resumeCommand: String {
        var words = ["swiglet-lab", "run", options.file, "--results", results.path]
        if options.quick { words.append("--quick") }
        if let repetitions = options.repetitions { words += ["--repetitions", String(repetitions)] }
        if let only = options.only { words += ["--only", only] }
        return words.joined(separator: " ")
    }

    /// The summary, ratios, metadata, table and plots of what raw.csv holds; the exit status.
    private func finish(interrupted: Bool) -> LabExitStatus {
        let remaining = plan.remainingRunCount(completed: results.raw.completedKeys)
        do {
            try results.saveMetadata(finished: remaining == 0 && !interrupted)
            let report = try results.writeSummary(experiment: experiment)
            print(report.markdown)
        } catch {
            say("error: \(error)")
        }
        if interrupted {
            say("plots skipped: interrupted")
        } else {
            Plots.draw(results.path)
        }
        let keys = Set(plan.runs.map(\.key))
        let failed = results.raw.records.filter { keys.contains($0.runKey) && $0.status == .failed }.count
        let kept = ((try? FileManager.default.contentsOfDirectory(atPath: results.pcaps)) ?? []).isEmpty ? "" : ", pcaps/"
        say("results: \(results.path) (raw.csv, summary.csv, ratios.csv, metadata.json, consoles/, logs/\(kept))"
            + "; \(plan.runs.count - remaining) of \(plan.runs.count) runs recorded, \(failed) failed")
        if interrupted {
            say("interrupted: continue with \(resumeCommand)")
            return .interrupted
        }
        return failed > 0 || remaining > 0 ? .failedRuns : .ok
    }
}
