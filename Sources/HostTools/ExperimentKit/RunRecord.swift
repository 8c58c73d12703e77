/// What one run measured: the row raw.csv holds for it.

import Foundation

/// Failed requests of one run, by why they failed.
public struct ErrorCounts: Equatable, Sendable {
    /// An answer of the wrong length (HTTP body, echo) or with the wrong bytes.
    public var wrongLength: Int
    /// An HTTP answer whose status is not the expected one.
    public var wrongStatus: Int
    /// No answer in time (UDP: lost or late).
    public var timeouts: Int
    /// A connection refused, reset before it was established, or not made in time.
    public var connectFailed: Int
    /// Anything else (a reset mid-request, an unexpected datagram, a read or write error).
    public var other: Int

    public init(wrongLength: Int = 0, wrongStatus: Int = 0, timeouts: Int = 0, connectFailed: Int = 0, other: Int = 0) {
        self.wrongLength = wrongLength
        self.wrongStatus = wrongStatus
        self.timeouts = timeouts
        self.connectFailed = connectFailed
        self.other = other
    }

    public var total: Int { wrongLength + wrongStatus + timeouts + connectFailed + other }
}

/// Whether a run's numbers count.
public enum RunStatus: String, Equatable, Sendable, CaseIterable {
    case ok
    /// Too many failed requests, or the run could not be measured at all (`reason` says which).
    /// Its metrics are kept in raw.csv but left out of every statistic.
    case failed
}

/// One run: which point, target and repetition, when, and what it measured.
public struct RunRecord: Equatable, Sendable {
    /// `PlannedRun.key`, for resuming.
    public var runKey: String
    /// The experiment's name.
    public var experiment: String
    public var target: String
    public var targetKind: TargetKind
    public var load: String
    public var loadKind: LoadKind
    public var cpus: Int
    /// The load's parameters at this point (every parameter its kind takes).
    public var parameters: [LoadParameter: Int]
    /// 1-based.
    public var repetition: Int
    /// When the measurement (after the warm-up) started.
    public var started: Date
    /// Seconds measured.
    public var seconds: Double
    /// Requests answered correctly (for tcp-bulk: writes echoed intact).
    public var requests: Int
    /// Requests that failed, by reason.
    public var errors: ErrorCounts
    /// Named numbers: `requests_per_second`, `p50_us`, `p99_us`, `app_share_cpu1`,
    /// `interrupts_per_second_cpu0`... Names are letters, digits, `_`, `.` and `-`.
    public var metrics: [String: Double]
    public var status: RunStatus
    /// Why the run failed (empty when ok): `errors 3.2% > 1%`, `guest did not boot`...
    public var reason: String

    public init(runKey: String, experiment: String, target: String, targetKind: TargetKind, load: String,
                loadKind: LoadKind, cpus: Int, parameters: [LoadParameter: Int], repetition: Int, started: Date,
                seconds: Double, requests: Int, errors: ErrorCounts = ErrorCounts(), metrics: [String: Double] = [:],
                status: RunStatus = .ok, reason: String = "") {
        self.runKey = runKey
        self.experiment = experiment
        self.target = target
        self.targetKind = targetKind
        self.load = load
        self.loadKind = loadKind
        self.cpus = cpus
        self.parameters = parameters
        self.repetition = repetition
        self.started = started
        self.seconds = seconds
        self.requests = requests
        self.errors = errors
        self.metrics = metrics
        self.status = status
        self.reason = reason
    }

    /// A record of `run` of `plan`, filled from the plan; the runner adds the measurements.
    public init(_ run: PlannedRun, of plan: ExperimentPlan, started: Date) {
        self.init(runKey: run.key, experiment: plan.experiment.name, target: run.target,
                  targetKind: plan.experiment.target(named: run.target)?.kind ?? .swiglet,
                  load: run.point.load, loadKind: run.point.loadKind, cpus: run.point.cpus,
                  parameters: run.point.parameters, repetition: run.repetition, started: started,
                  seconds: 0, requests: 0)
    }

    /// The point this run measured.
    public var point: PlannedPoint {
        PlannedPoint(load: load, loadKind: loadKind, cpus: cpus, parameters: parameters)
    }

    /// Failed requests over all requests tried; 0 when none was tried.
    public var errorFraction: Double {
        let tried = requests + errors.total
        return tried == 0 ? 0 : Double(errors.total) / Double(tried)
    }

    /// Marks the run failed when more than `threshold` of its requests failed, or when it
    /// answered none at all (a run without answers has no rate to report). A run already
    /// failed keeps its reason.
    public mutating func judge(errorThreshold threshold: Double) {
        guard status == .ok else { return }
        if requests == 0 {
            status = .failed
            reason = "no request answered"
        } else if errorFraction > threshold {
            status = .failed
            reason = "errors \(percent(errorFraction)) > \(percent(threshold)) of requests"
        }
    }

    private func percent(_ fraction: Double) -> String {
        String(format: "%.2f%%", fraction * 100)
    }
}
