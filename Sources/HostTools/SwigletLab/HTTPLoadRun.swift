/// HTTP loads (http-keepalive, http-close) through wrk and scripts/wrk-verify.lua: every answer's status and length checked.

import ExperimentKit
import Foundation

/// Measures one HTTP run: wrk with `--latency` and the verifying script, after a warm-up of
/// the same load, between two snapshots of the guest's counters.
enum HTTPLoadRun {
    static func measure(_ context: RunContext, record: inout RunRecord) throws {
        let load = context.load
        let connections = context.parameters[.connections] ?? 16
        let url = "http://\(context.guestAddress)\(load.port == 80 ? "" : ":\(load.port)")\(load.path)"

        // The program may still be starting after the ready line: wait until it answers at all.
        if !context.bootState.ready.contains(load.name) {
            guard let first = try firstAnswer(context, url: url, within: 60) else {
                return record.fail("GET \(url) got no HTTP answer within 60 s")
            }
            context.bootState.ready.insert(load.name)
            if case .learned = load.expectedLength {
                guard first.status == load.expectedStatus else {
                    return record.fail("expected-length = auto: GET \(load.path) answered \(first.status), not \(load.expectedStatus)")
                }
                context.bootState.learnedLength[load.name] = first.bytes
                say("  GET \(load.path): \(first.status), \(first.bytes) bytes: every answer must have these")
            }
        }
        let expectedLength: Int
        switch load.expectedLength {
        case .any: expectedLength = -1
        case .bytes(let bytes): expectedLength = bytes
        case .learned: expectedLength = context.bootState.learnedLength[load.name] ?? -1
        }

        // wrk cannot have more threads than connections; two threads keep up with TCG guests.
        let threads = min(2, connections)
        let rate = context.parameters[.rate] ?? 0
        // An offered rate: wrk-paced.lua (wrk-verify.lua's checks plus a schedule in delay()).
        var base = ["wrk", "-t\(threads)", "-c\(connections)", "--timeout", "5s", "--latency",
                    "-s", rate > 0 ? context.tools.wrkPacedScript : context.tools.wrkScript]
        if load.kind == .httpClose { base += ["-H", "Connection: close"] }
        var scriptArguments = [url, "--", String(load.expectedStatus), String(expectedLength)]
        if rate > 0 { scriptArguments += [String(rate), String(threads)] }
        if load.warmup > 0 {
            _ = try runTool(context.namespace.inside(base + ["-d", "\(wholeSeconds(load.warmup))s"] + scriptArguments),
                            timeout: load.warmup + 60, outputPath: context.logPrefix + "-warmup-wrk.txt")
        }
        try Interruption.check()
        let measured = wholeSeconds(load.duration)
        let (status, output) = try withCounters(context, record: &record) {
            try runTool(context.namespace.inside(base + ["-d", "\(measured)s"] + scriptArguments),
                        timeout: Double(measured) + 60, outputPath: context.logPrefix + "-wrk.txt")
        }
        try Interruption.check()
        guard status == 0 else {
            return record.fail("wrk \(status.map { "exited with status \($0)" } ?? "did not end") (\(lastLines(output, 2)))")
        }
        let result: WrkOutput
        do {
            result = try WrkOutput.parse(output)
        } catch {
            return record.fail("wrk's output: \(error)")
        }
        record.seconds = result.seconds
        record.requests = result.good
        record.errors = result.errors
        let throughput = load.kind == .httpClose ? MetricName.connectionsPerSecond : MetricName.requestsPerSecond
        record.metrics.merge(result.metrics(throughputName: throughput, measurements: load.measurements)) { _, new in new }
    }

    /// wrk takes whole seconds: a fraction is rounded up (and the run records wrk's own seconds).
    static func wholeSeconds(_ seconds: Double) -> Int { max(1, Int(seconds.rounded(.up))) }

    /// The first answer to one GET of `url` (status and body bytes), retried for up to `within`
    /// seconds; nil when nothing answered.
    private static func firstAnswer(_ context: RunContext, url: String, within: Double) throws -> (status: Int, bytes: Int)? {
        let deadline = monotonicSeconds() + within
        repeat {
            let (_, output) = try runTool(context.namespace.inside(["curl", "-s", "-o", "/dev/null", "--max-time", "5",
                                                                    "-w", "%{http_code} %{size_download}", url]), timeout: 15)
            let words = output.split(separator: " ")
            if words.count == 2, let status = Int(words[0]), status != 0, let bytes = Int(words[1]) {
                return (status, bytes)
            }
            try Interruption.sleep(0.5)
        } while monotonicSeconds() < deadline
        return nil
    }
}
