/// The Markdown table of a summary (for `make results-table`): one row per point and metric, one column per target, ratios last.

import Foundation

/// Where a table's numbers come from, for its caption line.
public struct TableCaption: Equatable, Sendable {
    public var experiment: String
    /// When the experiment started.
    public var date: Date
    public var commit: String
    public var dirty: Bool
    /// The results directory (`results/intrusion/2026-12-05-121956-fd44a10`).
    public var resultsPath: String

    public init(experiment: String, date: Date, commit: String, dirty: Bool, resultsPath: String) {
        self.experiment = experiment
        self.date = date
        self.commit = commit
        self.dirty = dirty
        self.resultsPath = resultsPath
    }

    /// From metadata.json's model.
    public init(_ metadata: RunMetadata, resultsPath: String) {
        self.init(experiment: metadata.experiment, date: metadata.started, commit: metadata.commit,
                  dirty: metadata.dirty, resultsPath: resultsPath)
    }
}

/// Writes the table. A cell is `median [ci95 low–high]`, `failed` when every run of that
/// target failed, with `(k failed)` after it when some did; a ratio cell is `ratio (low–high)`.
/// The caption line says which experiment, when, which commit and where the raw data is.
public enum MarkdownTable {
    /// The table, caption last. `metrics` limits and orders the metrics (default: all, in
    /// `Summary.orderedMetrics` order); `targets` orders the columns (default: as the summary has them).
    public static func text(summary: [SummaryRow], ratios: [RatioRow] = [], caption: TableCaption,
                            metrics: [String]? = nil, targets: [String]? = nil) -> String {
        var targetOrder = targets ?? []
        for row in summary where !targetOrder.contains(row.target) { targetOrder.append(row.target) }
        var ratioColumns: [String] = []  // "target/baseline"
        for row in ratios where !ratioColumns.contains("\(row.target)/\(row.baseline)") {
            ratioColumns.append("\(row.target)/\(row.baseline)")
        }
        let varying = varyingParameters(summary.map(\.point))

        var pointOrder: [PlannedPoint] = []
        for row in summary where !pointOrder.contains(where: { $0.key == row.point.key }) { pointOrder.append(row.point) }

        var lines: [String] = []
        lines.append("| point | metric | " + (targetOrder + ratioColumns).joined(separator: " | ") + " |")
        lines.append("| --- | --- |" + String(repeating: " --- |", count: targetOrder.count + ratioColumns.count))
        for point in pointOrder {
            let rows = summary.filter { $0.point.key == point.key }
            let present = Summary.orderedMetrics(Set(rows.map(\.metric).filter { !$0.isEmpty }))
            var shown = metrics.map { $0.filter(present.contains) } ?? present
            // A point where nothing succeeded still gets a line, saying so.
            if present.isEmpty { shown = [""] }
            for metric in shown {
                var cells = [label(point, varying: varying[point.load] ?? []), metric.isEmpty ? "—" : metric]
                for target in targetOrder {
                    let targetRows = rows.filter { $0.target == target }
                    if targetRows.isEmpty {
                        cells.append("")
                    } else if let row = targetRows.first(where: { $0.metric == metric }), let statistics = row.statistics {
                        let interval = statistics.medianConfidenceInterval
                        var text = "\(number(statistics.median)) [\(number(interval.low))–\(number(interval.high))]"
                        if row.failedRuns > 0 { text += " (\(row.failedRuns) failed)" }
                        cells.append(text)
                    } else {
                        let failed = targetRows[0].failedRuns
                        cells.append(failed == targetRows[0].runs ? "failed" : "—")
                    }
                }
                for column in ratioColumns {
                    let ratio = ratios.first { "\($0.target)/\($0.baseline)" == column && $0.point.key == point.key && $0.metric == metric }
                    if let ratio, let value = ratio.ratio {
                        var text = String(format: "%.2f", value)
                        if let low = ratio.low, let high = ratio.high { text += String(format: " (%.2f–%.2f)", low, high) }
                        cells.append(text)
                    } else {
                        cells.append(ratio?.status == .failed ? "—" : "")
                    }
                }
                lines.append("| " + cells.map(escaped).joined(separator: " | ") + " |")
            }
        }
        lines.append("")
        lines.append("*\(captionText(caption)) Cells: median [95% confidence interval of the median, order statistics; the same as [min–max] below 9 runs]; ratios: of the medians (range min/max–max/min).*")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `Experiment intrusion, 2026-12-05 12:19 UTC, commit fd44a10 (dirty), results in results/intrusion/...`.
    public static func captionText(_ caption: TableCaption) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let commit = String(caption.commit.prefix(12)) + (caption.dirty ? " (dirty)" : "")
        return "Experiment \(caption.experiment), \(formatter.string(from: caption.date)) UTC, commit \(commit), results in \(caption.resultsPath)."
    }

    /// `29,709`, `812`, `52.4`, `4.21`, `0.0523`: thousands separated, about three significant digits below 100.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let magnitude = abs(value)
        if magnitude >= 100 {
            let rounded = Int(value.rounded())
            let digits = String(abs(rounded))
            var grouped = ""
            for (index, digit) in digits.enumerated() {
                if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(",") }
                grouped.append(digit)
            }
            return (rounded < 0 ? "-" : "") + grouped
        }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        if magnitude >= 1 || magnitude == 0 { return String(format: "%.2f", value) }
        return String(format: "%.3g", value)
    }

    /// `keepalive connections=16`, or with `cpus=2` when the CPUs vary: only what tells the
    /// load's points apart.
    private static func label(_ point: PlannedPoint, varying: [String]) -> String {
        var words = [point.load]
        if varying.contains("cpus") { words.append("cpus=\(point.cpus)") }
        for parameter in point.parameters.keys.sorted() where varying.contains(parameter.rawValue) {
            words.append("\(parameter.rawValue)=\(point.parameters[parameter]!)")
        }
        return words.joined(separator: " ")
    }

    /// For each load, the names of what differs between its points (`cpus` and parameters).
    private static func varyingParameters(_ points: [PlannedPoint]) -> [String: [String]] {
        var values: [String: [String: Set<Int>]] = [:]
        for point in points {
            values[point.load, default: [:]]["cpus", default: []].insert(point.cpus)
            for (parameter, value) in point.parameters {
                values[point.load, default: [:]][parameter.rawValue, default: []].insert(value)
            }
        }
        return values.mapValues { $0.filter { $0.value.count > 1 }.map(\.key) }
    }

    /// A cell's text with `|` escaped, so it cannot end the cell.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }
}
