/// The plot script's fixture (Tests/Fixtures/experiment-results) is what ExperimentKit writes:
/// its summary.csv and ratios.csv are made from its raw.csv by ExperimentKit, and its
/// metadata.json decodes as RunMetadata, so the script is tested on the real formats.
import ExperimentKit
import Foundation
import XCTest

final class PlotFixtureTests: XCTestCase {
    private let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/experiment-results")

    func testFixtureIsWhatExperimentKitWrites() throws {
        let metadataData = try Data(contentsOf: directory.appendingPathComponent("metadata.json"))
        let metadata = try RunMetadata.decode(metadataData)
        XCTAssertEqual(metadata.experiment, "intrusion-mini")
        let experiment = try ExperimentParser.parse(metadata.experimentText, file: metadata.experimentFile)
        let baseline = try XCTUnwrap(experiment.baseline)

        let (records, incomplete) = try RawCSV.read(path: directory.appendingPathComponent("raw.csv").path)
        XCTAssertNil(incomplete)
        XCTAssertEqual(records.count, ExperimentPlan(experiment).runs.count, "one record per planned run")
        XCTAssertEqual(records.filter { $0.status == .failed }.count, 4)

        let summary = Summary.rows(records, experiment: experiment)
        let expected = [
            ("summary.csv", SummaryCSV.text(summary)),
            ("ratios.csv", RatioCSV.text(Summary.ratios(summary, baseline: baseline, records: records))),
        ]
        for (name, text) in expected {
            let file = directory.appendingPathComponent(name)
            let actual = try? String(contentsOf: file, encoding: .utf8)
            if actual != text {
                // Regenerating the fixture: copy the file this leaves over the fixture's.
                let made = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-fixture-\(name)")
                try text.write(to: made, atomically: true, encoding: .utf8)
                XCTFail("\(file.path) is not what ExperimentKit makes of raw.csv; its version is in \(made.path)")
            }
        }
        // The point the plot test looks at: symmetric failed every run at 4 CPUs and 256 connections.
        let failed = summary.filter { $0.status == .failed }
        XCTAssertEqual(failed.map { "\($0.target) \($0.point.key) '\($0.metric)'" },
                       ["symmetric keepalive/cpus=4/connections=256/rate=0 ''"])
        XCTAssertNil(failed.first?.statistics)
    }
}
