/// raw.csv: one row per run, written as runs end and read back to resume an interrupted experiment.

import Foundation

/// The format of raw.csv. A header row, then one row per run in the order the runs ended.
/// The columns, always all of them, in this order:
///
/// | column | meaning |
/// | --- | --- |
/// | `run_key` | `PlannedRun.key`, e.g. `keepalive/cpus=2/connections=16/rate=0/r3/linux` |
/// | `experiment` | the experiment's name (its file's) |
/// | `target`, `target_kind` | the target's name and `swiglet` or `linux` |
/// | `load`, `load_kind` | the load's name and kind (`http-keepalive`...) |
/// | `point` | `PlannedPoint.key`: the load, cpus and parameters |
/// | `cpus` | virtual CPUs |
/// | `connections`, `size`, `window`, `rate` | the load's parameters; empty when its kind takes none |
/// | `repetition` | 1-based |
/// | `started` | UTC start of the measurement, ISO 8601 with milliseconds |
/// | `seconds` | seconds measured |
/// | `status`, `reason` | `ok` or `failed`, and why it failed |
/// | `requests` | requests answered correctly |
/// | `errors_wrong_length`, `errors_wrong_status`, `errors_timeout`, `errors_connect_failed`, `errors_other` | failed requests by reason |
/// | `metrics` | every metric as `name=value`, `;`-separated, sorted by name: `p50_us=208.7;requests_per_second=2336.3` |
///
/// Metrics share one column because which exist depends on the run (`app_share_cpu3` only with
/// 4 CPUs), and a file appended to over an interrupted experiment cannot grow columns. Numbers
/// are written in Swift's shortest form that reads back to the same value.
public enum RawCSV {
    public static let columns = [
        "run_key", "experiment", "target", "target_kind", "load", "load_kind", "point", "cpus",
        "connections", "size", "window", "rate", "repetition", "started", "seconds", "status", "reason", "requests",
        "errors_wrong_length", "errors_wrong_status", "errors_timeout", "errors_connect_failed", "errors_other", "metrics",
    ]

    /// The header row, with its line break.
    public static var header: String { CSV.row(columns) }

    /// The record's row, with its line break. Fails on a metric name that would not read back.
    public static func row(_ record: RunRecord) throws(CSVError) -> String {
        for name in record.metrics.keys where !isMetricName(name) {
            throw CSVError(file: "raw.csv", line: nil,
                           message: "metric name '\(name)' of run \(record.runKey): use letters, digits, '_', '.' and '-'")
        }
        let metrics = record.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        let parameters = LoadParameter.allCases.map { record.parameters[$0].map(String.init) ?? "" }
        let errors = record.errors
        let fields: [String] = [
            record.runKey, record.experiment, record.target, record.targetKind.rawValue, record.load,
            record.loadKind.rawValue, record.point.key, String(record.cpus),
        ] + parameters + [
            String(record.repetition), timestampText(record.started), "\(record.seconds)", record.status.rawValue,
            record.reason, String(record.requests), String(errors.wrongLength), String(errors.wrongStatus),
            String(errors.timeouts), String(errors.connectFailed), String(errors.other), metrics,
        ]
        return CSV.row(fields)
    }

    /// The records of a raw.csv's text. A last row without its line break (the runner was
    /// stopped while writing it) is not a record: `incompleteRow` holds it.
    public static func parse(_ text: String, file: String = "raw.csv") throws(CSVError) -> (records: [RunRecord], incompleteRow: String?) {
        let (rows, lines, incomplete) = try CSV.parse(text, file: file)
        guard let header = rows.first else { return ([], incomplete) }
        guard header == columns else {
            throw CSVError(file: file, line: 1, message: "the header is not raw.csv's: expected \(columns.joined(separator: ","))")
        }
        var records: [RunRecord] = []
        for (row, line) in zip(rows, lines).dropFirst() {
            records.append(try record(row, file: file, line: line))
        }
        return (records, incomplete)
    }

    /// The records of the raw.csv at `path`; none when there is no file.
    public static func read(path: String) throws(CSVError) -> (records: [RunRecord], incompleteRow: String?) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], nil) }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CSVError(file: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    private static func record(_ row: [String], file: String, line: Int) throws(CSVError) -> RunRecord {
        func fail(_ message: String) -> CSVError { CSVError(file: file, line: line, message: message) }
        guard row.count == columns.count else {
            throw fail("\(row.count) fields, expected \(columns.count)")
        }
        var cell: [String: String] = [:]
        for (name, value) in zip(columns, row) { cell[name] = value }
        func integer(_ column: String) throws(CSVError) -> Int {
            guard let value = Int(cell[column]!) else { throw fail("'\(column)' is not a whole number: '\(cell[column]!)'") }
            return value
        }
        func choice<Choice: RawRepresentable>(_ column: String, _: Choice.Type) throws(CSVError) -> Choice
        where Choice.RawValue == String {
            guard let value = Choice(rawValue: cell[column]!) else { throw fail("bad '\(column)': '\(cell[column]!)'") }
            return value
        }

        var parameters: [LoadParameter: Int] = [:]
        for parameter in LoadParameter.allCases where !cell[parameter.rawValue]!.isEmpty {
            parameters[parameter] = try integer(parameter.rawValue)
        }
        guard let started = timestamp(cell["started"]!) else { throw fail("bad 'started': '\(cell["started"]!)'") }
        guard let seconds = Double(cell["seconds"]!) else { throw fail("bad 'seconds': '\(cell["seconds"]!)'") }
        var metrics: [String: Double] = [:]
        for pair in cell["metrics"]!.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]) else { throw fail("bad metric '\(pair)'") }
            metrics[String(parts[0])] = value
        }
        let errors = ErrorCounts(wrongLength: try integer("errors_wrong_length"), wrongStatus: try integer("errors_wrong_status"),
                                 timeouts: try integer("errors_timeout"), connectFailed: try integer("errors_connect_failed"),
                                 other: try integer("errors_other"))
        return RunRecord(runKey: cell["run_key"]!, experiment: cell["experiment"]!, target: cell["target"]!,
                         targetKind: try choice("target_kind", TargetKind.self), load: cell["load"]!,
                         loadKind: try choice("load_kind", LoadKind.self), cpus: try integer("cpus"),
                         parameters: parameters, repetition: try integer("repetition"), started: started,
                         seconds: seconds, requests: try integer("requests"), errors: errors, metrics: metrics,
                         status: try choice("status", RunStatus.self), reason: cell["reason"]!)
    }

    private static func isMetricName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)
        }
    }

    /// `2026-12-05T12:21:09.125Z`.
    static func timestampText(_ date: Date) -> String {
        timestampFormatter().string(from: date)
    }

    static func timestamp(_ text: String) -> Date? {
        timestampFormatter().date(from: text)
    }

    /// A new formatter per use: ISO8601DateFormatter is not Sendable, and rows are few.
    private static func timestampFormatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }
}
