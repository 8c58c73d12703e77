/// The summary of an experiment's runs: per (target, point) and metric, statistics over the runs that did not fail.

/// How many of a (target, point)'s runs counted.
public enum PointStatus: String, Equatable, Sendable, CaseIterable {
    /// Every run ok.
    case ok
    /// Some runs failed: the statistics are over the others (`failedRuns` says how many).
    case partial
    /// Every run failed: there is no rate, only this status.
    case failed
}

/// One metric of one (target, point), over its runs.
public struct SummaryRow: Equatable, Sendable {
    public var target: String
    public var point: PlannedPoint
    /// The metric's name; empty on the one row of a point every run of which failed.
    public var metric: String
    /// Over the ok runs that recorded the metric; nil when every run failed.
    public var statistics: Statistics?
    /// All runs of the (target, point), ok or failed.
    public var runs: Int
    public var failedRuns: Int
    public var status: PointStatus

    public init(target: String, point: PlannedPoint, metric: String, statistics: Statistics?, runs: Int,
                failedRuns: Int, status: PointStatus) {
        self.target = target
        self.point = point
        self.metric = metric
        self.statistics = statistics
        self.runs = runs
        self.failedRuns = failedRuns
        self.status = status
    }
}

/// Summaries of records.
public enum Summary {
    /// Metrics listed first, in this order, in summaries and tables; the others follow by name.
    public static let leadingMetrics = [MetricName.requestsPerSecond, MetricName.bytesPerSecond,
                                        MetricName.connectionsPerSecond, MetricName.p50Microseconds, "p90_us",
                                        MetricName.p99Microseconds, "p999_us"]

    /// The summary rows of `records`: for each (target, point), one row per metric any ok run
    /// recorded, or a single `failed` row without a metric when no run was ok. Failed runs are
    /// counted, never averaged in: a run that hit its error threshold measured something else.
    ///
    /// Rows go point by point (in `experiment`'s plan order when given, else as the points first
    /// appear), targets in file order (else as they appear), metrics `leadingMetrics` first.
    public static func rows(_ records: [RunRecord], experiment: Experiment? = nil) -> [SummaryRow] {
        var groups: [String: [RunRecord]] = [:]
        var pointOrder: [String] = []
        var targetOrder: [String] = []
        var points: [String: PlannedPoint] = [:]
        if let experiment {
            pointOrder = ExperimentPlan(experiment).points.map(\.key)
            targetOrder = experiment.targets.map(\.name)
        }
        for record in records {
            let point = record.point
            if points[point.key] == nil {
                points[point.key] = point
                if !pointOrder.contains(point.key) { pointOrder.append(point.key) }
            }
            if !targetOrder.contains(record.target) { targetOrder.append(record.target) }
            groups[groupKey(record.target, point.key), default: []].append(record)
        }

        var rows: [SummaryRow] = []
        for pointKey in pointOrder {
            guard let point = points[pointKey] else { continue }
            for target in targetOrder {
                guard let runs = groups[groupKey(target, pointKey)] else { continue }
                let ok = runs.filter { $0.status == .ok }
                let failed = runs.count - ok.count
                guard !ok.isEmpty else {
                    rows.append(SummaryRow(target: target, point: point, metric: "", statistics: nil, runs: runs.count,
                                           failedRuns: failed, status: .failed))
                    continue
                }
                let status: PointStatus = failed == 0 ? .ok : .partial
                for metric in orderedMetrics(Set(ok.flatMap(\.metrics.keys))) {
                    let values = ok.compactMap { $0.metrics[metric] }
                    rows.append(SummaryRow(target: target, point: point, metric: metric, statistics: Statistics(values),
                                           runs: runs.count, failedRuns: failed, status: status))
                }
            }
        }
        return rows
    }

    /// `names` with `leadingMetrics` first, in their order, then the rest by name.
    public static func orderedMetrics(_ names: Set<String>) -> [String] {
        leadingMetrics.filter(names.contains) + names.subtracting(leadingMetrics).sorted()
    }

    private static func groupKey(_ target: String, _ point: String) -> String { target + "\u{0}" + point }
}
