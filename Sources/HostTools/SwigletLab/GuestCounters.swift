/// The guest kernel's own counters around a run: Swiglet's /metrics (port 9090), Linux's /proc/stat (served on port 80).

import ExperimentKit
import Foundation

/// One reading of the counters and the host time it was taken at (the middle of the request).
enum CounterSnapshot {
    case swiglet(PrometheusSamples, at: Double)
    case linux(LinuxCPUStat, at: Double)

    var time: Double {
        switch self {
        case .swiglet(_, let at), .linux(_, let at): at
        }
    }
}

/// Reads a guest's counters from inside the namespace with curl.
final class GuestCounterReader {
    let kind: TargetKind
    let namespace: LabNamespace
    /// Why the last snapshot is missing, for the run's record and the log.
    private(set) var lastProblem = ""

    init(kind: TargetKind, namespace: LabNamespace) {
        self.kind = kind
        self.namespace = namespace
    }

    /// The URL of the counters: Swiglet's metrics endpoint, or the Linux guest's /proc/stat on
    /// its HTTP port (linux-echo-server serves the guest's file there).
    var url: String {
        switch kind {
        case .swiglet: "http://\(GuestLaunch.guestAddress):9090/metrics"
        case .linux: "http://\(GuestLaunch.guestAddress)/proc/stat"
        }
    }

    /// A snapshot, or nil (with `lastProblem` set) when the guest does not answer or its answer is
    /// not the counters: then the run's shares are missing, never zero.
    func snapshot() throws -> CounterSnapshot? {
        for attempt in 1...3 {
            try Interruption.check()
            let start = monotonicSeconds()
            let (status, output) = try runTool(namespace.inside(["curl", "-sf", "--max-time", "5", url]), timeout: 15)
            let middle = (start + monotonicSeconds()) / 2
            if status == 0 {
                switch kind {
                case .swiglet:
                    let samples = PrometheusSamples(text: output)
                    if samples.sum("swiglet_cpu_user_seconds_total") != nil { return .swiglet(samples, at: middle) }
                    lastProblem = "\(url) has no swiglet_cpu_user_seconds_total"
                case .linux:
                    do {
                        return .linux(try LinuxCPUStat(parsing: output), at: middle)
                    } catch {
                        lastProblem = "\(url) is not /proc/stat: \(error)"
                        return nil
                    }
                }
            } else if kind == .linux && status == 22 {
                // curl -f: an HTTP error (404 from a Linux guest built before /proc/stat was served).
                lastProblem = "the Linux guest does not serve \(url) (rebuild it: scripts/build-linux-guest.sh)"
                return nil
            } else {
                lastProblem = "GET \(url) failed (curl status \(status.map(String.init) ?? "timeout"))"
            }
            if attempt < 3 { try Interruption.sleep(1) }
        }
        return nil
    }

    /// The run's metrics from two snapshots (empty, with `lastProblem` set, when they cannot be
    /// compared).
    func metrics(before: CounterSnapshot, after: CounterSnapshot, measurements: Set<ExperimentKit.Measurement>) -> [String: Double] {
        let seconds = after.time - before.time
        switch (before, after) {
        case (.swiglet(let a, _), .swiglet(let b, _)):
            return CPUShares.swiglet(before: a, after: b, seconds: seconds, measurements: measurements)
        case (.linux(let a, _), .linux(let b, _)):
            do {
                return try CPUShares.linux(before: a, after: b, seconds: seconds, measurements: measurements)
            } catch {
                lastProblem = "\(error)"
                return [:]
            }
        default:
            return [:]
        }
    }
}
