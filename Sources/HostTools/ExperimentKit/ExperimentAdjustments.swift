/// What swiglet-lab's run options change in an experiment before it is planned: --quick, --repetitions, --only.

import Foundation

/// The experiment as a run measures it. Each change is a pure function of the parsed file, so a
/// resumed run plans exactly what the first one did when given the same options.
public enum ExperimentAdjustments {
    /// `--quick`: one short point per target and load — the first value of every sweep (CPUs
    /// included), one repetition, 2 s measured after 1 s of warm-up. For trying a file or the
    /// machinery, never for numbers.
    public static func quick(_ experiment: Experiment) -> Experiment {
        var quick = experiment
        quick.repetitions = 1
        quick.machine.cpus = Array(experiment.machine.cpus.prefix(1))
        quick.loads = experiment.loads.map { load in
            var short = load
            short.sweeps = load.sweeps.mapValues { Array($0.prefix(1)) }
            short.duration = 2
            short.warmup = 1
            return short
        }
        return quick
    }

    /// Applies `options`: --quick, then --repetitions (which wins over --quick's one), then
    /// --only, which keeps one target (and drops the baseline if it was another: there is
    /// nothing to divide by). Throws when --only names no target.
    public static func apply(_ options: LabRunOptions, to experiment: Experiment) throws(LabUsageError) -> Experiment {
        var adjusted = options.quick ? quick(experiment) : experiment
        if let repetitions = options.repetitions { adjusted.repetitions = repetitions }
        if let only = options.only {
            guard let target = experiment.target(named: only) else {
                let names = experiment.targets.map(\.name).joined(separator: ", ")
                throw LabUsageError("--only '\(only)' is not a target of \(experiment.name) (targets: \(names))", subcommand: .run)
            }
            adjusted.targets = [target]
            if adjusted.baseline != only { adjusted.baseline = nil }
        }
        return adjusted
    }

    /// The options that shape the plan, as metadata.json's `lab-options` note keeps them, so a
    /// resumed run can be refused when they differ: `quick=yes repetitions=3 only=dedicated`.
    public static func planNote(_ options: LabRunOptions) -> String {
        "quick=\(options.quick ? "yes" : "no") repetitions=\(options.repetitions.map(String.init) ?? "file") only=\(options.only ?? "all")"
    }
}

/// Where results go, and whether an existing results directory may be continued.
public enum ResultsLocation {
    /// `results/NAME/DATE-COMMIT`: DATE like `2026-12-05-1230` (local time), COMMIT the short
    /// hash, with `-dirty` when the working tree had uncommitted changes.
    public static func defaultDirectory(root: String = "results", experiment: String, date: Date, commit: String,
                                        dirty: Bool, timeZone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd-HHmm"
        let short = commit == "unknown" ? commit : String(commit.prefix(7))
        return "\(root)/\(experiment)/\(formatter.string(from: date))-\(short)\(dirty ? "-dirty" : "")"
    }

    /// Why the results directory whose metadata.json holds `metadata` cannot be continued by a
    /// run of `experimentText` with `planNote`, or nil when it can: runs of another experiment
    /// file, or of the same one planned differently, must never be mixed in one raw.csv.
    public static func resumeProblem(metadata: RunMetadata, experimentText: String, planNote: String) -> String? {
        if metadata.experimentText != experimentText {
            return "it holds runs of a different experiment text (\(metadata.experimentFile) as it was then; "
                + "metadata.json's experimentText differs from the file now): start a new results directory"
        }
        let earlier = metadata.notes["lab-options"] ?? ""
        if earlier != planNote {
            return "it was run with options '\(earlier)', not '\(planNote)': give the same --quick, --repetitions and --only"
        }
        return nil
    }
}
