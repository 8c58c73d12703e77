/// Tests of what run options do to an experiment (--quick, --repetitions, --only), results directory names, and when a results directory may be continued.
import ExperimentKit
import Foundation
import XCTest

final class ExperimentAdjustmentsTests: XCTestCase {
    private let text = """
        description = d
        repetitions = 5
        baseline = linux
        [machine]
        cpus = 4, 2
        [target dedicated]
        kind = swiglet
        [target linux]
        kind = linux
        [load http]
        kind = http-keepalive
        connections = 64, 1, 16
        duration = 10
        warmup = 3
        [load udp]
        kind = udp-echo
        size = 1024, 64
        window = 32, 1
        """

    private func experiment() throws -> Experiment { try ExperimentParser.parse(text, file: "experiments/x.exp") }

    func testQuickKeepsTheFirstValueOfEverySweep() throws {
        let quick = ExperimentAdjustments.quick(try experiment())
        XCTAssertEqual(quick.repetitions, 1)
        XCTAssertEqual(quick.machine.cpus, [4])
        XCTAssertEqual(quick.loads[0].sweeps[.connections], [64])
        XCTAssertEqual(quick.loads[1].sweeps[.size], [1024])
        XCTAssertEqual(quick.loads[1].sweeps[.window], [32])
        XCTAssertTrue(quick.loads.allSatisfy { $0.duration == 2 && $0.warmup == 1 })
        let plan = ExperimentPlan(quick)
        // One point per load, on every target.
        XCTAssertEqual(plan.points.count, 2)
        XCTAssertEqual(plan.runs.count, 4)
        XCTAssertEqual(quick.sourceText, text, "the file's text is kept: resume compares it")
    }

    func testRepetitionsAndOnly() throws {
        var options = LabRunOptions(file: "experiments/x.exp")
        options.quick = true
        options.repetitions = 3
        options.only = "dedicated"
        let adjusted = try ExperimentAdjustments.apply(options, to: try experiment())
        XCTAssertEqual(adjusted.repetitions, 3, "--repetitions wins over --quick")
        XCTAssertEqual(adjusted.targets.map(\.name), ["dedicated"])
        XCTAssertNil(adjusted.baseline, "nothing to divide by without the baseline")
        options.only = "linux"
        XCTAssertEqual(try ExperimentAdjustments.apply(options, to: try experiment()).baseline, "linux")
        options.only = "symmetric"
        XCTAssertThrowsError(try ExperimentAdjustments.apply(options, to: try experiment())) { error in
            XCTAssertTrue("\(error)".contains("--only 'symmetric'"), "\(error)")
            XCTAssertTrue("\(error)".contains("dedicated, linux"), "\(error)")
        }
        XCTAssertEqual(ExperimentAdjustments.planNote(LabRunOptions(file: "f")), "quick=no repetitions=file only=all")
    }

    func testDefaultResultsDirectory() {
        let date = Date(timeIntervalSince1970: 1_796_473_800)  // 2026-12-05 12:30 UTC
        let utc = TimeZone(identifier: "UTC")!
        XCTAssertEqual(ResultsLocation.defaultDirectory(experiment: "intrusion", date: date,
                                                        commit: "fd44a1079178ee1529bf77cbf918455c248428c3", dirty: false, timeZone: utc),
                       "results/intrusion/2026-12-05-1230-fd44a10")
        XCTAssertEqual(ResultsLocation.defaultDirectory(experiment: "smoke", date: date, commit: "fd44a10791", dirty: true, timeZone: utc),
                       "results/smoke/2026-12-05-1230-fd44a10-dirty")
    }

    func testResumeOnlyTheSameTextAndOptions() throws {
        let experiment = try experiment()
        let note = ExperimentAdjustments.planNote(LabRunOptions(file: "experiments/x.exp"))
        let metadata = RunMetadata(experiment: "x", experimentFile: "experiments/x.exp", experimentText: text, commit: "c", dirty: false,
                                   qemuVersion: "q", hostCPUModel: "m", hostCores: 2, loadAverage: [], bootOptions: [:],
                                   started: Date(), notes: ["lab-options": note])
        XCTAssertNil(ResultsLocation.resumeProblem(metadata: metadata, experimentText: experiment.sourceText, planNote: note))
        let changed = ResultsLocation.resumeProblem(metadata: metadata, experimentText: text + "\n# changed", planNote: note)
        XCTAssertTrue(changed?.contains("different experiment text") == true, changed ?? "accepted")
        var quick = LabRunOptions(file: "experiments/x.exp")
        quick.quick = true
        let options = ResultsLocation.resumeProblem(metadata: metadata, experimentText: text, planNote: ExperimentAdjustments.planNote(quick))
        XCTAssertTrue(options?.contains("quick=yes") == true, options ?? "accepted")
    }
}
