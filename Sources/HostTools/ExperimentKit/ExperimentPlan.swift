/// The plan of an experiment: its sweeps expanded into points, runs and the boots that serve them, targets interleaved.

/// One combination of a load's swept parameters on one machine size: what a table row shows.
public struct PlannedPoint: Hashable, Sendable {
    /// The load's name.
    public var load: String
    /// The load's kind.
    public var loadKind: LoadKind
    /// Virtual CPUs of the machine.
    public var cpus: Int
    /// A value for every parameter the load's kind takes (swept or default).
    public var parameters: [LoadParameter: Int]

    public init(load: String, loadKind: LoadKind, cpus: Int, parameters: [LoadParameter: Int]) {
        self.load = load
        self.loadKind = loadKind
        self.cpus = cpus
        self.parameters = parameters
    }

    /// `keepalive/cpus=2/connections=16/rate=0`: the load, the CPUs, then every parameter in
    /// `LoadParameter` order. Stable across runs of the same file, so it can identify the point
    /// in raw.csv and summary.csv.
    public var key: String {
        ([load, "cpus=\(cpus)"] + parameters.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" })
            .joined(separator: "/")
    }
}

/// One measurement: a point on one target in one repetition.
public struct PlannedRun: Hashable, Sendable {
    public var point: PlannedPoint
    /// 1-based.
    public var repetition: Int
    /// The target's name.
    public var target: String

    public init(point: PlannedPoint, repetition: Int, target: String) {
        self.point = point
        self.repetition = repetition
        self.target = target
    }

    /// `keepalive/cpus=2/connections=16/rate=0/r3/linux`: identifies the run in raw.csv, so an
    /// interrupted experiment resumes by skipping the keys it already has.
    public var key: String { "\(point.key)/r\(repetition)/\(target)" }

    /// The key with `/` and `=` taken out, for file names: `keepalive-cpus2-connections16-rate0-r3-linux`.
    public var fileLabel: String { fileSafe(key) }
}

/// One guest boot and the runs it serves, in order.
public struct PlannedBoot: Hashable, Sendable {
    /// 1-based.
    public var repetition: Int
    /// The target's name.
    public var target: String
    public var cpus: Int
    /// The Swiglet boot options: the target's, then the load's (empty for Linux).
    public var bootOptions: String
    /// The runs, in the order to measure them.
    public var runs: [PlannedRun]

    public init(repetition: Int, target: String, cpus: Int, bootOptions: String, runs: [PlannedRun]) {
        self.repetition = repetition
        self.target = target
        self.cpus = cpus
        self.bootOptions = bootOptions
        self.runs = runs
    }

    /// `r3/cpus=2/dedicated/keepalive+udp`: the repetition, the machine, the target and the
    /// loads it serves.
    public var key: String {
        var loads: [String] = []
        for run in runs where !loads.contains(run.point.load) { loads.append(run.point.load) }
        return "r\(repetition)/cpus=\(cpus)/\(target)/\(loads.joined(separator: "+"))"
    }

    /// The key for file names: `r3-cpus2-dedicated-keepalive+udp`.
    public var fileLabel: String { fileSafe(key) }
}

/// What to measure, in which order, in which boots.
///
/// The order interleaves the targets so that drift on a busy host (another process starting, the
/// host warming up) hits them all alike: repetition by repetition, every target runs every point
/// once, and the order of the targets rotates with the repetition (A B C, then B C A, then C A B),
/// so no target is always first after a boot or always last.
///
/// With `boots = shared` (the default) a boot serves every point of one machine size whose
/// boot options are the same, one after another, in file order:
///
///     for repetition r:  for cpus c:  for target t in the order of r:  for each boot-options group g:
///         boot (r, c, t, g) and measure its points
///
/// so a (point, repetition) has its targets' runs one boot apart, not back to back; booting
/// QEMU per run would cost more than most runs. With `boots = per-run` every run boots its own
/// guest and the targets of a (point, repetition) do run back to back.
public struct ExperimentPlan: Sendable {
    public let experiment: Experiment
    /// Every point, load by load (file order), then machine size, then parameter values with
    /// the first parameter (`LoadParameter` order) changing slowest.
    public let points: [PlannedPoint]
    /// Every boot, in the order to run them.
    public let boots: [PlannedBoot]

    public init(_ experiment: Experiment) {
        self.experiment = experiment
        var points: [PlannedPoint] = []
        for load in experiment.loads {
            for cpus in experiment.machine.cpus {
                for combination in Self.combinations(of: load) {
                    points.append(PlannedPoint(load: load.name, loadKind: load.kind, cpus: cpus, parameters: combination))
                }
            }
        }
        self.points = points

        var boots: [PlannedBoot] = []
        for repetition in 1...max(experiment.repetitions, 1) {
            let order = Self.targetOrder(experiment.targets, repetition: repetition)
            switch experiment.boots {
            case .shared:
                for cpus in experiment.machine.cpus {
                    for target in order {
                        for (options, loads) in Self.bootGroups(of: experiment, for: target) {
                            let runs = points.filter { $0.cpus == cpus && loads.contains($0.load) }
                                .map { PlannedRun(point: $0, repetition: repetition, target: target.name) }
                            guard !runs.isEmpty else { continue }
                            boots.append(PlannedBoot(repetition: repetition, target: target.name, cpus: cpus,
                                                     bootOptions: options, runs: runs))
                        }
                    }
                }
            case .perRun:
                for point in points {
                    for target in order {
                        let load = experiment.load(named: point.load)!
                        boots.append(PlannedBoot(repetition: repetition, target: target.name, cpus: point.cpus,
                                                 bootOptions: Self.bootOptions(of: target, with: load),
                                                 runs: [PlannedRun(point: point, repetition: repetition, target: target.name)]))
                    }
                }
            }
        }
        self.boots = boots
    }

    /// Every run, in order.
    public var runs: [PlannedRun] { boots.flatMap(\.runs) }

    /// The targets in the order repetition `repetition` (1-based) runs them: rotated left by
    /// `repetition - 1`.
    public func targetOrder(repetition: Int) -> [Target] {
        Self.targetOrder(experiment.targets, repetition: repetition)
    }

    /// The Swiglet boot options a run of `load` on `target` boots with: the target's, then the
    /// load's (later words win in the kernel's parser). Empty for Linux.
    public static func bootOptions(of target: Target, with load: Load) -> String {
        guard target.kind == .swiglet else { return "" }
        return [target.bootOptions, load.swigletBootOptions].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The runs not in `completed` (the keys raw.csv holds, ok or failed), in order.
    public func remainingRuns(completed: Set<String>) -> [PlannedRun] {
        runs.filter { !completed.contains($0.key) }
    }

    /// How many runs are not in `completed`.
    public func remainingRunCount(completed: Set<String>) -> Int {
        boots.reduce(0) { sum, boot in sum + boot.runs.count { !completed.contains($0.key) } }
    }

    /// The boots still needed, each with only its runs not in `completed`; boots with nothing
    /// left are dropped. This is what a resumed experiment does.
    public func remainingBoots(completed: Set<String>) -> [PlannedBoot] {
        boots.compactMap { boot in
            var remaining = boot
            remaining.runs = boot.runs.filter { !completed.contains($0.key) }
            return remaining.runs.isEmpty ? nil : remaining
        }
    }

    /// Seconds until the end: the remaining runs at `meanSecondsPerRun` each (measured so far,
    /// boots included), plus `secondsPerBoot` for each remaining boot when the mean excludes them.
    public func estimatedSecondsRemaining(completed: Set<String>, meanSecondsPerRun: Double,
                                          secondsPerBoot: Double = 0) -> Double {
        Double(remainingRunCount(completed: completed)) * meanSecondsPerRun
            + Double(remainingBoots(completed: completed).count) * secondsPerBoot
    }

    /// The seconds of load the remaining runs will apply (warm-up plus duration each): a lower
    /// bound on the time left, for before any run has been timed.
    public func nominalSecondsRemaining(completed: Set<String>) -> Double {
        remainingRuns(completed: completed).reduce(0) { sum, run in
            let load = experiment.load(named: run.point.load)!
            return sum + load.warmup + load.duration
        }
    }

    private static func targetOrder(_ targets: [Target], repetition: Int) -> [Target] {
        guard !targets.isEmpty else { return [] }
        let shift = (repetition - 1) % targets.count
        return Array(targets[shift...] + targets[..<shift])
    }

    /// The loads of `experiment` grouped by the boot options they need on `target`, groups in
    /// the order of their first load. Linux targets have one group: loads add Swiglet options only.
    private static func bootGroups(of experiment: Experiment, for target: Target) -> [(String, [String])] {
        var groups: [(String, [String])] = []
        for load in experiment.loads {
            let options = bootOptions(of: target, with: load)
            if let index = groups.firstIndex(where: { $0.0 == options }) {
                groups[index].1.append(load.name)
            } else {
                groups.append((options, [load.name]))
            }
        }
        return groups
    }

    /// Every combination of the load's sweeps, the first parameter changing slowest.
    private static func combinations(of load: Load) -> [[LoadParameter: Int]] {
        var result: [[LoadParameter: Int]] = [[:]]
        for parameter in load.kind.parameters {
            let values = load.sweeps[parameter] ?? [load.kind.defaultValue(of: parameter)]
            result = result.flatMap { partial in
                values.map { value in
                    var extended = partial
                    extended[parameter] = value
                    return extended
                }
            }
        }
        return result
    }
}

/// `a/b=1` → `a-b1`: no slashes or equals signs in file names.
func fileSafe(_ key: String) -> String {
    String(key.compactMap { $0 == "/" ? "-" : $0 == "=" ? nil : $0 })
}
