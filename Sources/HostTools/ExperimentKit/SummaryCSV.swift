/// summary.csv and ratios.csv: the summary and the ratios against the baseline, one row per metric.

/// The columns the summary and the ratios share to say which point a row is about.
private let pointColumns = ["point", "load", "load_kind", "cpus"] + LoadParameter.allCases.map(\.rawValue)

private func pointFields(_ point: PlannedPoint) -> [String] {
    [point.key, point.load, point.loadKind.rawValue, String(point.cpus)]
        + LoadParameter.allCases.map { point.parameters[$0].map(String.init) ?? "" }
}

/// An optional number as a cell: empty when absent.
private func cell(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }

/// summary.csv: one row per (target, point, metric), in `Summary.rows` order.
///
/// | column | meaning |
/// | --- | --- |
/// | `target` | the target |
/// | `point`, `load`, `load_kind`, `cpus`, `connections`, `size`, `window`, `rate` | the point (parameters empty when its kind takes none) |
/// | `metric` | the metric; empty on the row of a point every run of which failed |
/// | `n` | ok runs that recorded the metric |
/// | `median`, `min`, `max` | over those runs |
/// | `ci95_low`, `ci95_high`, `ci_level` | the median's order-statistic confidence interval and its actual coverage (`Statistics`) |
/// | `mean`, `cv` | the mean and the coefficient of variation (standard deviation over mean) |
/// | `runs`, `failed_runs` | all runs of the (target, point), and how many failed (left out of the numbers) |
/// | `status` | `ok`, `partial` (some runs failed) or `failed` (all did: the numbers are empty) |
public enum SummaryCSV {
    public static let columns = ["target"] + pointColumns + [
        "metric", "n", "median", "min", "max", "ci95_low", "ci95_high", "ci_level", "mean", "cv",
        "runs", "failed_runs", "status",
    ]

    /// The whole file: header and rows.
    public static func text(_ rows: [SummaryRow]) -> String {
        CSV.row(columns) + rows.map(row).joined()
    }

    /// One row, with its line break.
    public static func row(_ row: SummaryRow) -> String {
        let statistics = row.statistics
        let interval = statistics?.medianConfidenceInterval
        return CSV.row([row.target] + pointFields(row.point) + [
            row.metric, String(statistics?.count ?? 0), cell(statistics?.median), cell(statistics?.minimum),
            cell(statistics?.maximum), cell(interval?.low), cell(interval?.high), cell(interval?.level),
            cell(statistics?.mean), cell(statistics?.coefficientOfVariation), String(row.runs), String(row.failedRuns),
            row.status.rawValue,
        ])
    }
}

/// ratios.csv: one row per (target other than the baseline, point, metric), in `Summary.ratios` order.
///
/// | column | meaning |
/// | --- | --- |
/// | `target`, `baseline` | the two targets: ratios are target / baseline |
/// | `point` ... `rate` | the point, as in summary.csv |
/// | `metric` | the metric; empty when both sides failed every run |
/// | `ratio` | the ratio of the medians |
/// | `ratio_low`, `ratio_high` | the ratio's range from the extremes: target min / baseline max to target max / baseline min |
/// | `paired_median`, `pairs` | the median of the per-repetition ratios (both runs of a repetition ok), and how many pairs there were |
/// | `status` | `ok`; `partial` if either side lost runs; `failed` (empty numbers) if either side has no value |
public enum RatioCSV {
    public static let columns = ["target", "baseline"] + pointColumns + ["metric", "ratio", "ratio_low", "ratio_high",
                                                                         "paired_median", "pairs", "status"]

    /// The whole file: header and rows.
    public static func text(_ rows: [RatioRow]) -> String {
        CSV.row(columns) + rows.map(row).joined()
    }

    /// One row, with its line break.
    public static func row(_ row: RatioRow) -> String {
        CSV.row([row.target, row.baseline] + pointFields(row.point) + [
            row.metric, cell(row.ratio), cell(row.low), cell(row.high), cell(row.pairedMedian), String(row.pairs),
            row.status.rawValue,
        ])
    }
}
