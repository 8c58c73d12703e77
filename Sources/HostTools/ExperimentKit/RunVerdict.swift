/// The last step of every run: judged against the error threshold, and a failed run's rates and latencies taken out.

import Foundation

extension RunRecord {
    /// The metrics a failed run must not report: its rate and latency describe a system that
    /// answered wrongly or not at all, so raw.csv keeps only its error counts and the kernel's
    /// counters (`cpu-share` and the like, which say what the guest did meanwhile).
    public static let rateMetrics: Set<String> = Set(Summary.leadingMetrics)

    /// Judges the run (`judge(errorThreshold:)`) and, when it failed, drops its rate and latency
    /// metrics. Returns the record for chaining.
    public mutating func conclude(errorThreshold: Double) {
        // Errors first: a run whose every answer was wrong failed because of them, and its
        // reason should say which kind, not only that nothing was answered right.
        if status == .ok, errors.total > 0, errorFraction > errorThreshold {
            status = .failed
            reason = String(format: "errors %.2f%% > %.2f%% of %d requests (%@)", errorFraction * 100, errorThreshold * 100,
                            requests + errors.total, errorKinds)
        }
        judge(errorThreshold: errorThreshold)
        if status == .failed {
            metrics = metrics.filter { !Self.rateMetrics.contains($0.key) }
        }
    }

    /// The kinds of errors there were: `4520 wrong length, 2 timeouts`.
    public var errorKinds: String {
        [(errors.wrongLength, "wrong length"), (errors.wrongStatus, "wrong status"), (errors.timeouts, "timeouts"),
         (errors.connectFailed, "connects failed"), (errors.other, "other")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    }

    /// Marks the run failed with `reason` (nothing could be measured), keeping what is there
    /// but its rates.
    public mutating func fail(_ reason: String) {
        status = .failed
        self.reason = reason
        metrics = metrics.filter { !Self.rateMetrics.contains($0.key) }
    }
}
