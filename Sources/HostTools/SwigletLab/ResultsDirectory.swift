/// A results directory on disk: created or resumed, raw.csv appended to, metadata.json rewritten as boots happen, the derived files written at the end.

import ExperimentKit
import Foundation

/// Why a results directory cannot be used (it belongs to another experiment, or cannot be written).
struct ResultsDirectoryError: Error, CustomStringConvertible {
    var description: String
}

/// `results/NAME/DATE-COMMIT/` with raw.csv, summary.csv, ratios.csv, metadata.json, consoles/,
/// pcaps/ (failed boots only) and logs/ (the load generators' outputs).
final class ResultsDirectory {
    let path: String
    private(set) var metadata: RunMetadata
    private(set) var raw: RawCSVFile
    /// Whether an earlier run's directory is being continued.
    let resumed: Bool

    var consoles: String { path + "/consoles" }
    var pcaps: String { path + "/pcaps" }
    var logs: String { path + "/logs" }

    /// Opens `options.results`, or makes the default directory (a fresh one: `-2`, `-3`... when a
    /// run of the same minute has it). An existing directory with a metadata.json is resumed
    /// when the experiment text and plan options are the same, refused otherwise.
    init(options: LabRunOptions, experiment: Experiment, build: MeasuredBuild) throws {
        let manager = FileManager.default
        let planNote = ExperimentAdjustments.planNote(options)
        var path: String
        if let given = options.results {
            path = given.hasSuffix("/") && given.count > 1 ? String(given.dropLast()) : given
        } else {
            let base = ResultsLocation.defaultDirectory(experiment: experiment.name, date: Date(), commit: build.commit, dirty: build.dirty)
            path = base
            var number = 2
            while manager.fileExists(atPath: path) { path = "\(base)-\(number)"; number += 1 }
        }
        self.path = path
        let metadataPath = path + "/metadata.json"
        if let data = manager.contents(atPath: metadataPath) {
            let earlier: RunMetadata
            do {
                earlier = try RunMetadata.decode(data)
            } catch {
                throw ResultsDirectoryError(description: "\(metadataPath) cannot be read (\(error)): not a swiglet-lab results directory")
            }
            if let problem = ResultsLocation.resumeProblem(metadata: earlier, experimentText: experiment.sourceText, planNote: planNote) {
                throw ResultsDirectoryError(description: "cannot continue \(path): \(problem)")
            }
            metadata = earlier
            metadata.finished = nil
            let stamp = ISO8601DateFormatter().string(from: Date())
            metadata.notes["resumed " + stamp] = "commit \(build.commit)\(build.dirty ? " (dirty)" : "")"
            if earlier.commit != build.commit || earlier.dirty != build.dirty {
                say("warning: \(path) was started at commit \(earlier.commit.prefix(12))\(earlier.dirty ? " (dirty)" : ""); "
                    + "now \(build.commit.prefix(12))\(build.dirty ? " (dirty)" : ""): its runs mix two builds")
            }
            resumed = true
        } else {
            if manager.fileExists(atPath: path + "/raw.csv") {
                throw ResultsDirectoryError(description: "\(path) has a raw.csv but no metadata.json: not a swiglet-lab results directory")
            }
            metadata = RunMetadata(experiment: experiment.name, experimentFile: options.file, experimentText: experiment.sourceText,
                                   commit: build.commit, dirty: build.dirty, qemuVersion: build.qemuVersion,
                                   hostCPUModel: HostFacts.cpuModel(), hostCores: HostFacts.cores,
                                   loadAverage: HostFacts.loadAverage(),
                                   bootOptions: Dictionary(uniqueKeysWithValues: experiment.targets.map { ($0.name, $0.bootOptions) }),
                                   started: Date(), notes: ["lab-options": planNote])
            resumed = false
        }
        do {
            for directory in [path, path + "/consoles", path + "/pcaps", path + "/logs"] {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw ResultsDirectoryError(description: "cannot create \(path): \(error.localizedDescription)")
        }
        do {
            raw = try RawCSVFile(path: path + "/raw.csv")
        } catch {
            throw ResultsDirectoryError(description: "\(error)")
        }
        if let discarded = raw.discardedRow {
            say("raw.csv ended in a partial row (an interrupted write), dropped: \(discarded.prefix(80))")
        }
        try saveMetadata()
    }

    /// Appends a run's row to raw.csv at once: an interruption loses at most the run under way.
    func append(_ record: RunRecord) throws {
        do {
            try raw.append(record)
        } catch {
            throw ResultsDirectoryError(description: "\(error)")
        }
    }

    /// Records a boot's QEMU command line (written out with the next `saveMetadata`).
    func addCommandLine(boot: String, target: String, arguments: [String]) {
        metadata.qemuCommandLines.append(RunMetadata.QEMUCommandLine(boot: boot, target: target, arguments: arguments))
    }

    func note(_ key: String, _ value: String) { metadata.notes[key] = value }

    /// Rewrites metadata.json (atomically: an interruption leaves the old or the new one).
    func saveMetadata(finished: Bool = false) throws {
        if finished { metadata.finished = Date() }
        do {
            try metadata.json().write(to: URL(fileURLWithPath: path + "/metadata.json"), options: .atomic)
        } catch {
            throw ResultsDirectoryError(description: "cannot write \(path)/metadata.json: \(error.localizedDescription)")
        }
    }

    /// Writes summary.csv and ratios.csv from every record in raw.csv; returns the report.
    @discardableResult
    func writeSummary(experiment: Experiment) throws -> ResultsReport {
        let report = ResultsReport(records: raw.records, experiment: experiment, metadata: metadata, resultsPath: path)
        do {
            try report.summaryCSV.write(toFile: path + "/summary.csv", atomically: true, encoding: .utf8)
            try report.ratiosCSV.write(toFile: path + "/ratios.csv", atomically: true, encoding: .utf8)
        } catch {
            throw ResultsDirectoryError(description: "cannot write the summary in \(path): \(error.localizedDescription)")
        }
        return report
    }
}
