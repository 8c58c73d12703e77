/// Tests of the summary (failed runs counted, not averaged), the ratios against the baseline, their CSV files and the Markdown table.
import ExperimentKit
import Foundation
import XCTest

final class SummaryTests: XCTestCase {
    private let keepalive16 = PlannedPoint(load: "http", loadKind: .httpKeepAlive, cpus: 2, parameters: [.connections: 16, .rate: 0])
    private let keepalive256 = PlannedPoint(load: "http", loadKind: .httpKeepAlive, cpus: 2, parameters: [.connections: 256, .rate: 0])

    private func run(_ point: PlannedPoint, _ target: String, _ repetition: Int, rate: Double, p50: Double,
                     status: RunStatus = .ok, extra: [String: Double] = [:]) -> RunRecord {
        RunRecord(runKey: "\(point.key)/r\(repetition)/\(target)", experiment: "test", target: target,
                  targetKind: target == "linux" ? .linux : .swiglet, load: point.load, loadKind: point.loadKind,
                  cpus: point.cpus, parameters: point.parameters, repetition: repetition,
                  started: Date(timeIntervalSince1970: 1_796_473_269), seconds: 10, requests: Int(rate * 10),
                  metrics: ["requests_per_second": rate, "p50_us": p50].merging(extra) { $1 }, status: status,
                  reason: status == .failed ? "errors 5.00% > 1.00% of requests" : "")
    }

    /// Swiglet: three good runs and one failed at 16 connections, every run failed at 256.
    /// Linux: three good runs at 16, two at 256.
    private var records: [RunRecord] {
        [
            run(keepalive16, "swiglet", 1, rate: 100, p50: 10, extra: ["app_share_cpu1": 0.9]),
            run(keepalive16, "linux", 1, rate: 50, p50: 20),
            run(keepalive16, "swiglet", 2, rate: 5, p50: 900, status: .failed),
            run(keepalive16, "linux", 2, rate: 60, p50: 22),
            run(keepalive16, "swiglet", 3, rate: 120, p50: 12, extra: ["app_share_cpu1": 0.7]),
            run(keepalive16, "linux", 3, rate: 55, p50: 21),
            run(keepalive16, "swiglet", 4, rate: 110, p50: 11),
            run(keepalive256, "swiglet", 1, rate: 3, p50: 1_000_000, status: .failed),
            run(keepalive256, "linux", 1, rate: 40, p50: 300),
            run(keepalive256, "swiglet", 2, rate: 2, p50: 2_000_000, status: .failed),
            run(keepalive256, "linux", 2, rate: 44, p50: 310),
        ]
    }

    func testFailedRunsAreCountedNotAveraged() throws {
        let rows = Summary.rows(records)
        XCTAssertEqual(rows.map { "\($0.point.key) \($0.target) \($0.metric)" }, [
            "http/cpus=2/connections=16/rate=0 swiglet requests_per_second",
            "http/cpus=2/connections=16/rate=0 swiglet p50_us",
            "http/cpus=2/connections=16/rate=0 swiglet app_share_cpu1",
            "http/cpus=2/connections=16/rate=0 linux requests_per_second",
            "http/cpus=2/connections=16/rate=0 linux p50_us",
            "http/cpus=2/connections=256/rate=0 swiglet ",
            "http/cpus=2/connections=256/rate=0 linux requests_per_second",
            "http/cpus=2/connections=256/rate=0 linux p50_us",
        ])
        let rate = rows[0]
        XCTAssertEqual(rate.runs, 4)
        XCTAssertEqual(rate.failedRuns, 1)
        XCTAssertEqual(rate.status, .partial)
        XCTAssertEqual(rate.statistics?.sorted, [100, 110, 120], "the failed run's 5 req/s is left out")
        XCTAssertEqual(rate.statistics?.median, 110)
        // Only two good runs recorded the CPU share.
        XCTAssertEqual(rows[2].statistics?.sorted, [0.7, 0.9])
        XCTAssertEqual(rows[3].status, .ok)
        XCTAssertEqual(rows[3].statistics?.median, 55)

        let failed = rows[5]
        XCTAssertNil(failed.statistics, "no rate for a point where every run failed")
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.runs, 2)
        XCTAssertEqual(failed.failedRuns, 2)
    }

    func testOrderFollowsTheExperimentWhenGiven() throws {
        let experiment = try ExperimentParser.parse("""
            [target linux]
            kind = linux
            [target swiglet]
            kind = swiglet
            [load http]
            kind = http-keepalive
            connections = 256, 16
            """, file: "t.exp")
        let rows = Summary.rows(records, experiment: experiment)
        XCTAssertEqual(rows.first?.point.key, keepalive256.key)
        XCTAssertEqual(rows.first?.target, "linux")
    }

    func testRatiosAgainstTheBaseline() throws {
        let ratios = Summary.ratios(Summary.rows(records), baseline: "linux")
        XCTAssertEqual(ratios.map { "\($0.point.key) \($0.target)/\($0.baseline) \($0.metric) \($0.status)" }, [
            "http/cpus=2/connections=16/rate=0 swiglet/linux requests_per_second partial",
            "http/cpus=2/connections=16/rate=0 swiglet/linux p50_us partial",
            "http/cpus=2/connections=16/rate=0 swiglet/linux app_share_cpu1 failed",
            "http/cpus=2/connections=256/rate=0 swiglet/linux requests_per_second failed",
            "http/cpus=2/connections=256/rate=0 swiglet/linux p50_us failed",
        ])
        // Medians 110 and 55; extremes 100–120 against 50–60.
        let rate = ratios[0]
        XCTAssertEqual(rate.ratio, 2)
        XCTAssertEqual(try XCTUnwrap(rate.low), 100.0 / 60, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(rate.high), 120.0 / 50, accuracy: 1e-12)
        // Medians 11 and 21; extremes 10–12 against 20–22.
        let latency = ratios[1]
        XCTAssertEqual(try XCTUnwrap(latency.ratio), 11.0 / 21, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(latency.low), 10.0 / 22, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(latency.high), 12.0 / 20, accuracy: 1e-12)
        // Where Swiglet failed every run there is no ratio.
        XCTAssertNil(ratios[3].ratio)
        XCTAssertNil(ratios[3].low)
        // Without the records there are no pairs.
        XCTAssertNil(rate.pairedMedian)
        XCTAssertEqual(rate.pairs, 0)
    }

    /// Repetitions 1 and 3 have both runs ok: 100/50 = 2 and 120/55; repetition 2 lost
    /// Swiglet's run and repetition 4 has no Linux run.
    func testPairedRatiosUseRunsOfTheSameRepetition() throws {
        let ratios = Summary.ratios(Summary.rows(records), baseline: "linux", records: records)
        XCTAssertEqual(ratios[0].pairs, 2)
        XCTAssertEqual(try XCTUnwrap(ratios[0].pairedMedian), (2 + 120.0 / 55) / 2, accuracy: 1e-12)
        XCTAssertEqual(ratios[1].pairs, 2)
        XCTAssertEqual(try XCTUnwrap(ratios[1].pairedMedian), (10.0 / 20 + 12.0 / 21) / 2, accuracy: 1e-12)
        XCTAssertEqual(ratios[3].pairs, 0, "no pairs where Swiglet failed every run")
        XCTAssertNil(ratios[3].pairedMedian)
    }

    func testRatiosWhenBothSidesFailedOrTheBaselineIsZero() {
        let point = keepalive16
        let failedBoth = [
            run(point, "a", 1, rate: 1, p50: 1, status: .failed),
            run(point, "b", 1, rate: 1, p50: 1, status: .failed),
        ]
        let both = Summary.ratios(Summary.rows(failedBoth), baseline: "b")
        XCTAssertEqual(both.count, 1)
        XCTAssertEqual(both[0].metric, "")
        XCTAssertEqual(both[0].status, .failed)

        let zero = [run(point, "a", 1, rate: 10, p50: 1), run(point, "b", 1, rate: 0, p50: 1)]
        let ratios = Summary.ratios(Summary.rows(zero), baseline: "b")
        XCTAssertNil(ratios[0].ratio, "no ratio over a zero median")
        XCTAssertEqual(ratios[0].status, .ok)
        XCTAssertEqual(ratios[1].ratio, 1)
    }

    /// The CSV text read back by column name.
    private func table(_ text: String) throws -> [[String: String]] {
        let rows = try CSV.parse(text, file: "t.csv").rows
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
    }

    func testSummaryCSV() throws {
        let text = SummaryCSV.text(Summary.rows(records))
        XCTAssertTrue(text.hasPrefix(SummaryCSV.columns.joined(separator: ",") + "\n"))
        let rows = try table(text)
        XCTAssertEqual(rows.count, 8)
        let linuxRate = rows[3]
        XCTAssertEqual(linuxRate["target"], "linux")
        XCTAssertEqual(linuxRate["point"], "http/cpus=2/connections=16/rate=0")
        XCTAssertEqual(linuxRate["connections"], "16")
        XCTAssertEqual(linuxRate["size"], "")
        XCTAssertEqual(linuxRate["metric"], "requests_per_second")
        XCTAssertEqual(linuxRate["n"], "3")
        XCTAssertEqual(linuxRate["median"], "55.0")
        XCTAssertEqual(linuxRate["min"], "50.0")
        XCTAssertEqual(linuxRate["max"], "60.0")
        // Three runs: [min, max] at 1 − 2/8.
        XCTAssertEqual(linuxRate["ci95_low"], "50.0")
        XCTAssertEqual(linuxRate["ci95_high"], "60.0")
        XCTAssertEqual(linuxRate["ci_level"], "0.75")
        XCTAssertEqual(linuxRate["mean"], "55.0")
        XCTAssertEqual(Double(try XCTUnwrap(linuxRate["cv"])) ?? 0, 5.0 / 55, accuracy: 1e-12)
        XCTAssertEqual(linuxRate["failed_runs"], "0")
        XCTAssertEqual(linuxRate["status"], "ok")

        XCTAssertEqual(rows[0]["failed_runs"], "1")
        XCTAssertEqual(rows[0]["runs"], "4")
        XCTAssertEqual(rows[0]["status"], "partial")

        let failed = rows[5]
        XCTAssertEqual(failed["metric"], "")
        XCTAssertEqual(failed["n"], "0")
        XCTAssertEqual(failed["median"], "")
        XCTAssertEqual(failed["ci95_low"], "")
        XCTAssertEqual(failed["failed_runs"], "2")
        XCTAssertEqual(failed["status"], "failed")
    }

    func testRatioCSV() throws {
        let rows = try table(RatioCSV.text(Summary.ratios(Summary.rows(records), baseline: "linux", records: records)))
        XCTAssertEqual(rows.count, 5)
        XCTAssertEqual(rows[0]["target"], "swiglet")
        XCTAssertEqual(rows[0]["baseline"], "linux")
        XCTAssertEqual(rows[0]["metric"], "requests_per_second")
        XCTAssertEqual(rows[0]["ratio"], "2.0")
        XCTAssertEqual(rows[0]["ratio_high"], "2.4")
        XCTAssertEqual(rows[0]["paired_median"], "\((2 + 120.0 / 55) / 2)")
        XCTAssertEqual(rows[0]["pairs"], "2")
        XCTAssertEqual(rows[3]["paired_median"], "")
        XCTAssertEqual(rows[3]["pairs"], "0")
        XCTAssertEqual(rows[0]["status"], "partial")
        XCTAssertEqual(rows[3]["ratio"], "")
        XCTAssertEqual(rows[3]["status"], "failed")
    }

    func testMarkdownTable() {
        let summary = Summary.rows(records)
        let caption = TableCaption(experiment: "http", date: Date(timeIntervalSince1970: 1_796_473_269),
                                   commit: "fd44a1079178ee1529bf77cbf918455c248428c3", dirty: true,
                                   resultsPath: "results/http/2026-12-05-122109-fd44a10")
        let text = MarkdownTable.text(summary: summary, ratios: Summary.ratios(summary, baseline: "linux"), caption: caption,
                                      metrics: ["requests_per_second", "p50_us"])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "| point | metric | swiglet | linux | swiglet/linux |")
        XCTAssertEqual(lines[1], "| --- | --- | --- | --- | --- |")
        XCTAssertEqual(lines[2], "| http connections=16 | requests_per_second | 110 [100–120] (1 failed) | 55.0 [50.0–60.0] | 2.00 (1.67–2.40) |")
        XCTAssertEqual(lines[3], "| http connections=16 | p50_us | 11.0 [10.0–12.0] (1 failed) | 21.0 [20.0–22.0] | 0.52 (0.45–0.60) |")
        XCTAssertEqual(lines[4], "| http connections=256 | requests_per_second | failed | 42.0 [40.0–44.0] | — |")
        XCTAssertEqual(lines[5], "| http connections=256 | p50_us | failed | 305 [300–310] | — |")
        XCTAssertEqual(lines[6], "")
        XCTAssertTrue(lines[7].hasPrefix("*Experiment http, 2026-12-05 12:21 UTC, commit fd44a1079178 (dirty), results in results/http/2026-12-05-122109-fd44a10."), lines[7])
    }

    func testMarkdownTableOfAPointWhereEverythingFailed() {
        let summary = Summary.rows([run(keepalive16, "a", 1, rate: 1, p50: 1, status: .failed)])
        let caption = TableCaption(experiment: "x", date: Date(timeIntervalSince1970: 0), commit: "abc", dirty: false, resultsPath: "r")
        let text = MarkdownTable.text(summary: summary, caption: caption)
        XCTAssertTrue(text.contains("| http | — | failed |"), text)
        XCTAssertTrue(text.contains("commit abc, results in r."), text)
    }

    func testNumbersInTables() {
        XCTAssertEqual(MarkdownTable.number(29709.4), "29,709")
        XCTAssertEqual(MarkdownTable.number(1_234_567), "1,234,567")
        XCTAssertEqual(MarkdownTable.number(-4321), "-4,321")
        XCTAssertEqual(MarkdownTable.number(812.6), "813")
        XCTAssertEqual(MarkdownTable.number(52.44), "52.4")
        XCTAssertEqual(MarkdownTable.number(4.214), "4.21")
        XCTAssertEqual(MarkdownTable.number(0), "0.00")
        XCTAssertEqual(MarkdownTable.number(0.05234), "0.0523")
    }
}
