/// The subcommands: run (the experiment), check (parse files, print plan sizes), table (a results directory's Markdown table).

import ExperimentKit
import Foundation

enum Commands {
    /// `swiglet-lab run`.
    static func run(_ options: LabRunOptions) -> LabExitStatus {
        let experiment: Experiment
        do {
            let parsed = try ExperimentParser.parse(contentsOf: options.file)
            experiment = try ExperimentAdjustments.apply(options, to: parsed)
        } catch let error as ExperimentFileError {
            say("\(error)")
            return .usage
        } catch {
            say("\(error) (see swiglet-lab run --help)")
            return .usage
        }
        let problems = Preflight.problems(experiment, options: options)
        guard problems.isEmpty else {
            for problem in problems { say("cannot run: \(problem)") }
            return .cannotRun
        }
        let build = MeasuredBuild.read()
        let results: ResultsDirectory
        do {
            results = try ResultsDirectory(options: options, experiment: experiment, build: build)
        } catch {
            say("cannot run: \(error)")
            return .cannotRun
        }
        // A sitting shares the host with whatever else runs: look before booting anything. A
        // warning, not a refusal: a trial may not care, and the note stays with the results.
        if let warning = BusyHost.warning(BusyHost.measure(excluding: [Int(getpid()), Int(getppid())])) {
            say(warning)
            // Saved with the metadata before the first boot, resumed or not.
            results.note(results.resumed ? "busy host at a resumption" : "busy host at the start", warning)
        }
        if !results.resumed {
            results.note("namespace", "each boot in its own network namespace; QEMU's tap0 there has 10.0.2.2/24, the guest 10.0.2.15")
            results.note("swiglet-bench", options.bench)
            if experiment.loads.contains(where: \.kind.isHTTP) { results.note("wrk", toolVersion(["wrk", "--version"])) }
            for image in Set(experiment.targets.compactMap(\.swigletImage)).sorted() {
                results.note("\(image) sha256", sha256(image))
            }
            if experiment.targets.contains(where: { $0.kind == .linux }) {
                results.note("images/linux/initramfs.cpio.gz sha256", sha256("images/linux/initramfs.cpio.gz"))
            }
            try? results.saveMetadata()
        }
        if options.quick { say("--quick: one short point per target and load, 1 repetition: for trials, not for numbers") }
        Interruption.install()
        let runner = ExperimentRunner(experiment: experiment, options: options, results: results,
                                      tools: LabTools(bench: options.bench, wrkScript: "scripts/wrk-verify.lua",
                                                      wrkPacedScript: "scripts/wrk-paced.lua"))
        return runner.run()
    }

    /// `swiglet-lab check`.
    static func check(_ files: [String]) -> LabExitStatus {
        var status = LabExitStatus.ok
        for file in files {
            do {
                let experiment = try ExperimentParser.parse(contentsOf: file)
                let plan = ExperimentPlan(experiment)
                let nominal = LabProgress.duration(plan.nominalSecondsRemaining(completed: []))
                print("\(file): \(count(plan.points.count, "point")), \(count(plan.runs.count, "run")) in \(count(plan.boots.count, "boot")) "
                      + "(\(count(experiment.targets.count, "target")), \(count(experiment.repetitions, "repetition"))), \(nominal) of load without boots")
            } catch {
                say("\(error)")
                status = .usage
            }
        }
        return status
    }

    /// `1 point`, `2 points`.
    private static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    /// `swiglet-lab table`.
    static func table(_ directory: String) -> LabExitStatus {
        let path = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        guard let data = FileManager.default.contents(atPath: path + "/metadata.json") else {
            say("\(path)/metadata.json is missing: not a swiglet-lab results directory")
            return .usage
        }
        do {
            let metadata = try RunMetadata.decode(data)
            let experiment = try? ExperimentParser.parse(metadata.experimentText, file: metadata.experimentFile)
            let (records, _) = try RawCSV.read(path: path + "/raw.csv")
            guard !records.isEmpty else {
                say("\(path)/raw.csv has no runs")
                return .failedRuns
            }
            print(ResultsReport(records: records, experiment: experiment, metadata: metadata, resultsPath: path).markdown,
                  terminator: "")
            return .ok
        } catch {
            say("\(path): \(error)")
            return .usage
        }
    }
}
