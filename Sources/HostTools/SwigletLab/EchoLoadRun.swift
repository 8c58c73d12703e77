/// Echo loads through swiglet-bench: UDP echo (every reply checked byte for byte), TCP echo request and answer (swiglet-bench tcp-rr), and tcp-bulk (streams through the TCP echo port, every byte checked).

import ExperimentKit
import Foundation
import Synchronization

/// Measures one udp-echo run: a warm-up of the same load, then swiglet-bench with no warm-up of
/// its own between two snapshots of the guest's counters, so the snapshots frame the measurement.
enum UDPEchoRun {
    static func measure(_ context: RunContext, record: inout RunRecord) throws {
        let load = context.load
        let size = context.parameters[.size] ?? 64
        let window = context.parameters[.window] ?? 1
        let rate = context.parameters[.rate] ?? 0
        let endpoint = "\(context.guestAddress):\(load.port)"
        // A long probe: the program may still be starting after the ready line.
        let common = [context.tools.bench, "--quiet", "--probe-seconds", "60", "--warmup", "0", "--sizes", String(size),
                      "--windows", String(window), "--rate", String(rate), "--label", context.target.name]
        if load.warmup > 0 {
            _ = try runTool(context.namespace.inside(common + ["--duration", String(load.warmup), endpoint]),
                            timeout: load.warmup + 90, outputPath: context.logPrefix + "-warmup-bench.txt")
        }
        try Interruption.check()
        let saved = context.logPrefix + "-bench-results.txt"
        try? FileManager.default.removeItem(atPath: saved)
        let (status, output) = try withCounters(context, record: &record) {
            try runTool(context.namespace.inside(common + ["--duration", String(load.duration), "--save", saved, endpoint]),
                        timeout: load.duration + 90, outputPath: context.logPrefix + "-bench.txt")
        }
        try Interruption.check()
        let text = (try? String(contentsOfFile: saved, encoding: .utf8)) ?? ""
        guard let measurement = UDPEchoMeasurement.parse(savedResults: text, size: size, window: window) else {
            return record.fail("swiglet-bench measured nothing (status \(status.map(String.init) ?? "timeout")): \(lastLines(output, 2))")
        }
        record.seconds = measurement.seconds
        record.requests = measurement.replies
        record.errors = measurement.errors
        record.metrics.merge(measurement.metrics(measurements: load.measurements)) { _, new in new }
    }
}

/// Measures one tcp-echo run: `swiglet-bench tcp-rr` (request and answer over `connections`
/// connections, `window` outstanding on each, at the offered `rate` or closed loop, every
/// answer compared byte for byte) after a warm-up of the same load, between two snapshots of
/// the guest's counters.
enum TCPEchoRun {
    static func measure(_ context: RunContext, record: inout RunRecord) throws {
        let load = context.load
        let endpoint = "\(context.guestAddress):\(load.port)"
        let common = [context.tools.bench, "tcp-rr", "--connections", String(context.parameters[.connections] ?? 1),
                      "--size", String(context.parameters[.size] ?? 64), "--window", String(context.parameters[.window] ?? 1),
                      "--rate", String(context.parameters[.rate] ?? 0), "--warmup", "0"]
        // The program may still be starting after the ready line: wait until it echoes once.
        if !context.bootState.ready.contains(load.name) {
            let deadline = monotonicSeconds() + 60
            var answered = false
            repeat {
                let (status, _) = try runTool(context.namespace.inside(common + ["--duration", "0.2", endpoint]), timeout: 30)
                answered = status == 0
                if !answered { try Interruption.sleep(0.5) }
            } while !answered && monotonicSeconds() < deadline
            guard answered else { return record.fail("TCP echo at \(endpoint) did not answer within 60 s") }
            context.bootState.ready.insert(load.name)
        }
        if load.warmup > 0 {
            _ = try runTool(context.namespace.inside(common + ["--duration", String(load.warmup), endpoint]),
                            timeout: load.warmup + 90, outputPath: context.logPrefix + "-warmup-bench.txt")
        }
        try Interruption.check()
        let (status, output) = try withCounters(context, record: &record) {
            try runTool(context.namespace.inside(common + ["--duration", String(load.duration), endpoint]),
                        timeout: load.duration + 90, outputPath: context.logPrefix + "-bench.txt")
        }
        try Interruption.check()
        guard let measurement = TCPRequestMeasurement.parse(output) else {
            return record.fail("swiglet-bench tcp-rr measured nothing (status \(status.map(String.init) ?? "timeout")): \(lastLines(output, 2))")
        }
        record.seconds = measurement.seconds
        record.requests = measurement.requests
        record.errors = measurement.errors
        record.metrics.merge(measurement.metrics(measurements: load.measurements)) { _, new in new }
    }
}

/// Measures one tcp-bulk run: `connections` streams at once, each `swiglet-bench tcp-echo
/// --duration SECONDS --chunk SIZE` (one connection streaming through the echo port for the
/// whole duration, every echoed byte compared). A stream stops sending when the time is up and
/// then waits for the echo of what it sent, so the measured time, from the start to the last
/// stream's end, overshoots the duration by that drain.
enum TCPBulkRun {
    static func measure(_ context: RunContext, record: inout RunRecord) throws {
        let load = context.load
        let connections = context.parameters[.connections] ?? 1
        let size = context.parameters[.size] ?? 65536
        guard size <= 1_048_576 else {
            return record.fail("not measured: swiglet-bench tcp-echo writes at most 1 MiB per send (size = \(size))")
        }
        let endpoint = "\(context.guestAddress):\(load.port)"
        // One connection per `connections`, each streaming for the whole phase (swiglet-bench
        // --duration): the rate is one connection's, not diluted by connects, closes and the
        // start of a process per stream (4 MiB streams, one process each, lost a third of the
        // time between streams).
        let stream = context.namespace.inside([context.tools.bench, "tcp-echo", "--duration", "0",
                                               "--chunk", String(size), "--timeout", "10", endpoint])
        if load.warmup > 0 {
            _ = try streams(stream, connections: connections, seconds: load.warmup, logPrefix: context.logPrefix + "-warmup")
        }
        try Interruption.check()
        let outcome = try withCounters(context, record: &record) {
            try streams(stream, connections: connections, seconds: load.duration, logPrefix: context.logPrefix)
        }
        try Interruption.check()
        var errors = ErrorCounts()
        for failure in outcome.failures {
            switch failure {
            case .connectFailed: errors.connectFailed += 1
            case .wrongBytes: errors.wrongLength += 1
            case .timeout: errors.timeouts += 1
            case .other: errors.other += 1
            }
        }
        record.seconds = outcome.seconds
        record.requests = outcome.bytes / size
        record.errors = errors
        // A broken stream (a wrong byte, a stall, a reset) is never within an error threshold:
        // the run fails and reports no rate.
        guard outcome.failures.isEmpty else {
            return record.fail("\(outcome.failures.count) of the streams failed (\(record.errorKinds)): see \(context.logPrefix)-stream*.txt")
        }
        if load.measurements.contains(.throughput), outcome.seconds > 0 {
            record.metrics[MetricName.bytesPerSecond] = Double(outcome.bytes) / outcome.seconds
        }
    }

    /// What the streams of one phase did.
    struct Outcome: Sendable {
        var bytes = 0
        var seconds = 0.0
        var failures: [TCPEchoStream.FailureKind] = []
    }

    /// Runs `connections` streams side by side for `seconds` (`stream` is the command of one;
    /// its `--duration` value is set to the time left, so that a stream that ends early with
    /// status 0 is followed by another for the rest, if 0.1 s or more are left; a failed one is
    /// not); the bytes of the streams that completed, the time from the start to the last one's
    /// end, and the failed streams' kinds.
    private static func streams(_ stream: [String], connections: Int, seconds: Double, logPrefix: String) throws -> Outcome {
        let start = monotonicSeconds()
        let deadline = start + seconds
        let tally = StreamTally()
        var workers: [Thread] = []
        for index in 0..<connections {
            let worker = Thread {
                while deadline - monotonicSeconds() >= 0.1, !Interruption.wasRequested {
                    do {
                        var command = stream
                        if let flag = command.firstIndex(of: "--duration"), flag + 1 < command.count {
                            command[flag + 1] = String(format: "%.3f", deadline - monotonicSeconds())
                        }
                        let (status, output) = try runTool(command, timeout: seconds + 60, outputPath: "\(logPrefix)-stream\(index).txt")
                        tally.streamEnded(status: status, output: output)
                        // A failed stream fails the run: keep its log rather than start another.
                        if status != 0 { return }
                    } catch {
                        tally.launchProblem.withLock { $0 = "\(error)" }
                        return
                    }
                }
            }
            workers.append(worker)
            worker.start()
        }
        // Thread has no join: wait for every worker's last stream to end.
        while workers.contains(where: { !$0.isFinished }) { usleep(50_000) }
        try Interruption.check()
        if let problem = tally.launchProblem.withLock({ $0 }) { throw LaunchError(description: problem) }
        var outcome = tally.outcome.withLock { $0 }
        outcome.seconds = tally.lastEnd.withLock { $0 } - start
        return outcome
    }
}

/// The streams' results, added up by their threads.
private final class StreamTally: Sendable {
    let outcome = Mutex(TCPBulkRun.Outcome())
    let lastEnd = Mutex(0.0)
    let launchProblem = Mutex<String?>(nil)

    /// One stream ended with `status` and `output`.
    func streamEnded(status: Int32?, output: String) {
        let now = monotonicSeconds()
        lastEnd.withLock { $0 = max($0, now) }
        if status == 0, let result = TCPEchoStream.parse(output) {
            outcome.withLock { $0.bytes += result.bytes }
        } else if !Interruption.wasRequested {
            outcome.withLock { $0.failures.append(TCPEchoStream.failureKind(output)) }
        }
    }
}
