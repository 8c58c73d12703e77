/// Tests of the small pieces of a run: the verdict (failed runs report no rate), pcap cutting, progress and ETA text, and the report of a results directory.
import ExperimentKit
import Foundation
import XCTest

final class LabRunPiecesTests: XCTestCase {
    private func record(target: String = "a", repetition: Int = 1, requests: Int, errors: ErrorCounts = ErrorCounts(),
                        metrics: [String: Double]) -> RunRecord {
        RunRecord(runKey: "http/cpus=2/connections=4/rate=0/r\(repetition)/\(target)", experiment: "x", target: target,
                  targetKind: .swiglet, load: "http", loadKind: .httpKeepAlive, cpus: 2,
                  parameters: [.connections: 4, .rate: 0], repetition: repetition, started: Date(timeIntervalSince1970: 0),
                  seconds: 2, requests: requests, errors: errors, metrics: metrics)
    }

    func testAFailedRunReportsNoRateButKeepsItsCounters() {
        var wrong = record(requests: 0, errors: ErrorCounts(wrongLength: 4520),
                           metrics: ["requests_per_second": 2255, "p50_us": 900, "app_share_cpu1": 0.3, "interrupts_cpu1": 10])
        wrong.conclude(errorThreshold: 0.01)
        XCTAssertEqual(wrong.status, .failed)
        XCTAssertTrue(wrong.reason.contains("100.00%") && wrong.reason.contains("4520 wrong length"), wrong.reason)
        XCTAssertEqual(wrong.metrics, ["app_share_cpu1": 0.3, "interrupts_cpu1": 10])

        var fine = record(requests: 1000, errors: ErrorCounts(timeouts: 5), metrics: ["requests_per_second": 500])
        fine.conclude(errorThreshold: 0.01)
        XCTAssertEqual(fine.status, .ok, "0.5% of errors is under 1%")
        XCTAssertEqual(fine.metrics["requests_per_second"], 500)

        var silent = record(requests: 0, metrics: ["requests_per_second": 0])
        silent.conclude(errorThreshold: 0.01)
        XCTAssertEqual(silent.status, .failed)
        XCTAssertEqual(silent.reason, "no request answered")
        XCTAssertEqual(silent.metrics, [:])

        var skipped = record(requests: 0, metrics: ["p99_us": 3])
        skipped.fail("not measured: no tool")
        XCTAssertEqual(skipped.status, .failed)
        XCTAssertEqual(skipped.metrics, [:])
    }

    /// A pcap of `frames` frames of the given captured lengths, little-endian.
    private func pcap(_ frames: [Int]) -> [UInt8] {
        var bytes: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + [0, 0, 4, 0, 1, 0, 0, 0]
        for length in frames {
            let field = [UInt8(length & 255), UInt8(length >> 8 & 255), 0, 0]
            bytes += [UInt8](repeating: 0, count: 8) + field + field + [UInt8](repeating: 0xAA, count: length)
        }
        return bytes
    }

    func testPcapIsCutAtAFrameBoundary() {
        let file = pcap([100, 200, 300])  // records end at 24+116=140, 356, 672
        XCTAssertEqual(PcapTrim.cutLength(file, limit: 10_000), 672, "within the limit: whole")
        XCTAssertEqual(PcapTrim.cutLength(file, limit: 400), 356)
        XCTAssertEqual(PcapTrim.cutLength(file, limit: 356), 356)
        XCTAssertEqual(PcapTrim.cutLength(file, limit: 355), 140)
        XCTAssertEqual(PcapTrim.cutLength(file, limit: 30), 24, "only the header")
        XCTAssertEqual(PcapTrim.cutLength(Array(file.prefix(500)), limit: 10_000), 356, "a head read that ends mid-frame")
        var bigEndian = file
        bigEndian.replaceSubrange(0..<4, with: [0xA1, 0xB2, 0xC3, 0xD4])
        for offset in [24, 140, 356] { bigEndian[offset + 8..<offset + 12].reverse(); bigEndian[offset + 12..<offset + 16].reverse() }
        XCTAssertEqual(PcapTrim.cutLength(bigEndian, limit: 400), 356)
        XCTAssertNil(PcapTrim.cutLength([UInt8](repeating: 0, count: 100), limit: 50))
    }

    func testProgressLineAndDurations() throws {
        let experiment = try ExperimentParser.parse("""
            [target a]
            kind = swiglet
            [load http]
            kind = http-keepalive
            connections = 4, 16
            duration = 10
            warmup = 2
            """, file: "p.exp")
        let plan = ExperimentPlan(experiment)
        let run = plan.runs[1]
        XCTAssertEqual(LabProgress.line(run: run, done: 1, total: 10, bootNumber: 1, boots: 5, etaSeconds: 100),
                       "[2/10] r1 cpus=2 a: http connections=16 rate=0 (boot 1/5) ETA 1m40s")
        XCTAssertEqual(LabProgress.duration(45), "45s")
        XCTAssertEqual(LabProgress.duration(185), "3m05s")
        XCTAssertEqual(LabProgress.duration(7800), "2h10m")
        // 10 runs of 12 s and 5 boots of 20 s before anything ran; then the mean so far.
        XCTAssertEqual(LabProgress.estimate(plan: plan, completed: [], secondsSoFar: 0, runsSoFar: 0), 10 * 12 + 5 * 20)
        let done: Set<String> = [plan.runs[0].key, plan.runs[1].key]
        XCTAssertEqual(LabProgress.estimate(plan: plan, completed: done, secondsSoFar: 60, runsSoFar: 2), 8 * 30)
    }

    func testReportDividesByTheBaselineOnlyWhenItHasRuns() throws {
        let experiment = try ExperimentParser.parse("""
            baseline = b
            [target a]
            kind = swiglet
            [target b]
            kind = swiglet
            [load http]
            kind = http-keepalive
            connections = 4
            """, file: "experiments/r.exp")
        let metadata = RunMetadata(experiment: "r", experimentFile: "experiments/r.exp", experimentText: experiment.sourceText,
                                   commit: "fd44a1079178ee", dirty: true, qemuVersion: "q", hostCPUModel: "m", hostCores: 2,
                                   loadAverage: [], bootOptions: [:], started: Date(timeIntervalSince1970: 1_796_473_800))
        let both = [record(target: "a", requests: 10, metrics: ["requests_per_second": 300]),
                    record(target: "b", requests: 10, metrics: ["requests_per_second": 200])]
        let report = ResultsReport(records: both, experiment: experiment, metadata: metadata, resultsPath: "results/r/x")
        XCTAssertEqual(report.baseline, "b")
        XCTAssertEqual(report.ratios.first?.ratio, 1.5)
        XCTAssertTrue(report.markdown.contains("| a | b | a/b |"), report.markdown)
        XCTAssertTrue(report.markdown.contains("commit fd44a1079178 (dirty), results in results/r/x"), report.markdown)
        XCTAssertTrue(report.ratiosCSV.hasPrefix("target,baseline,"))
        let alone = ResultsReport(records: [both[0]], experiment: experiment, metadata: metadata, resultsPath: "results/r/x")
        XCTAssertNil(alone.baseline)
        XCTAssertEqual(alone.ratios, [])
        XCTAssertEqual(alone.ratiosCSV, RatioCSV.text([]))
    }
}
