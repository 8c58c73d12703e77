/// Ratios against the baseline target: each other target's median over the baseline's, with the range the runs allow.

/// One metric of one point: a target against the baseline.
public struct RatioRow: Equatable, Sendable {
    public var target: String
    public var baseline: String
    public var point: PlannedPoint
    /// Empty when neither side has any metric (both failed every run).
    public var metric: String
    /// The target's median over the baseline's; nil when a side has no value or the baseline's is 0.
    public var ratio: Double?
    /// The smallest and largest ratio of one target run to one baseline run: target min over
    /// baseline max, and target max over baseline min (for positive values). Not a confidence
    /// interval: the extremes the repetitions allow. Nil where `ratio` is, or when the
    /// baseline's range includes 0.
    public var low: Double?
    public var high: Double?
    /// The median of the per-repetition ratios (target run over baseline run of the same
    /// repetition, both ok): runs of one repetition are close in time (the plan interleaves
    /// them), so pairing them cancels drift the ratio of medians keeps. Nil without records or pairs.
    public var pairedMedian: Double?
    /// How many repetitions gave a pair.
    public var pairs: Int
    /// `failed` when either side has no value; `partial` when either side lost runs; else `ok`.
    public var status: PointStatus

    public init(target: String, baseline: String, point: PlannedPoint, metric: String, ratio: Double?,
                low: Double?, high: Double?, pairedMedian: Double? = nil, pairs: Int = 0, status: PointStatus) {
        self.target = target
        self.baseline = baseline
        self.point = point
        self.metric = metric
        self.ratio = ratio
        self.low = low
        self.high = high
        self.pairedMedian = pairedMedian
        self.pairs = pairs
        self.status = status
    }
}

extension Summary {
    /// For every point and metric, each target other than `baseline` against it, in the
    /// summary's order. A metric only one side has gets a `failed` row, so a target that failed
    /// where the baseline did not (or the reverse) shows in the ratios too. With the `records`
    /// the summary was made from, rows also get the paired, per-repetition ratios.
    public static func ratios(_ summary: [SummaryRow], baseline: String, records: [RunRecord] = []) -> [RatioRow] {
        // The ok runs by (target, point, repetition), for pairing.
        var okRuns: [String: RunRecord] = [:]
        var repetitions: [String: Set<Int>] = [:]
        for record in records where record.status == .ok {
            let pointKey = record.point.key
            okRuns["\(record.target)\u{0}\(pointKey)\u{0}\(record.repetition)"] = record
            repetitions[pointKey, default: []].insert(record.repetition)
        }
        var result: [RatioRow] = []
        var pointOrder: [String] = []
        var byPoint: [String: [SummaryRow]] = [:]
        for row in summary {
            if byPoint[row.point.key] == nil { pointOrder.append(row.point.key) }
            byPoint[row.point.key, default: []].append(row)
        }
        for pointKey in pointOrder {
            let rows = byPoint[pointKey]!
            let point = rows[0].point
            let baseRows = rows.filter { $0.target == baseline }
            var targets: [String] = []
            for row in rows where row.target != baseline && !targets.contains(row.target) { targets.append(row.target) }
            for target in targets {
                let targetRows = rows.filter { $0.target == target }
                let metrics = orderedMetrics(Set((targetRows + baseRows).map(\.metric).filter { !$0.isEmpty }))
                if metrics.isEmpty {
                    result.append(RatioRow(target: target, baseline: baseline, point: point, metric: "", ratio: nil,
                                           low: nil, high: nil, status: .failed))
                }
                for metric in metrics {
                    let mine = targetRows.first { $0.metric == metric }
                    let theirs = baseRows.first { $0.metric == metric }
                    var row = ratio(target: target, baseline: baseline, point: point, metric: metric, mine: mine, theirs: theirs)
                    if row.status != .failed {
                        let paired = (repetitions[pointKey] ?? []).compactMap { repetition -> Double? in
                            guard let a = okRuns["\(target)\u{0}\(pointKey)\u{0}\(repetition)"]?.metrics[metric],
                                  let b = okRuns["\(baseline)\u{0}\(pointKey)\u{0}\(repetition)"]?.metrics[metric],
                                  b != 0 else { return nil }
                            return a / b
                        }
                        row.pairedMedian = Statistics(paired)?.median
                        row.pairs = paired.count
                    }
                    result.append(row)
                }
            }
        }
        return result
    }

    private static func ratio(target: String, baseline: String, point: PlannedPoint, metric: String,
                              mine: SummaryRow?, theirs: SummaryRow?) -> RatioRow {
        guard let mine, let theirs, let a = mine.statistics, let b = theirs.statistics else {
            return RatioRow(target: target, baseline: baseline, point: point, metric: metric, ratio: nil, low: nil,
                            high: nil, status: .failed)
        }
        let status: PointStatus = mine.status == .ok && theirs.status == .ok ? .ok : .partial
        let ratio = b.median == 0 ? nil : a.median / b.median
        var low: Double?
        var high: Double?
        // Every quotient of an extreme by an extreme; their range bounds every run-by-run ratio
        // as long as the baseline's values keep one sign.
        if ratio != nil && (b.minimum > 0 || b.maximum < 0) {
            let quotients = [a.minimum / b.minimum, a.minimum / b.maximum, a.maximum / b.minimum, a.maximum / b.maximum]
            low = quotients.min()
            high = quotients.max()
        }
        return RatioRow(target: target, baseline: baseline, point: point, metric: metric, ratio: ratio, low: low,
                        high: high, status: status)
    }
}
