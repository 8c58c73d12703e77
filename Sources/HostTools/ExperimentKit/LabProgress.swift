/// The progress line swiglet-lab prints on stderr before each run: where it is, how much is done, and how long the rest should take.

/// Formats progress. The estimate is `ExperimentPlan`'s: before any run has been timed, the
/// nominal load time of the remaining runs plus a guess per boot; afterwards the mean time per
/// run so far (boots included) times the runs left.
public enum LabProgress {
    /// `[3/8] r1 cpus=2 dedicated: http connections=4 (boot 2/4) ETA 1m40s`.
    public static func line(run: PlannedRun, done: Int, total: Int, bootNumber: Int, boots: Int,
                            etaSeconds: Double?) -> String {
        let parameters = run.point.parameters.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }
        let what = ([run.point.load] + parameters).joined(separator: " ")
        let eta = etaSeconds.map { " ETA \(duration($0))" } ?? ""
        return "[\(done + 1)/\(total)] r\(run.repetition) cpus=\(run.point.cpus) \(run.target): \(what) (boot \(bootNumber)/\(boots))\(eta)"
    }

    /// The time left: measured runs' mean when there are any, else the nominal time plus
    /// `secondsPerBoot` for each boot left.
    public static func estimate(plan: ExperimentPlan, completed: Set<String>, secondsSoFar: Double, runsSoFar: Int,
                                secondsPerBoot: Double = 20) -> Double {
        if runsSoFar > 0 {
            return plan.estimatedSecondsRemaining(completed: completed, meanSecondsPerRun: secondsSoFar / Double(runsSoFar))
        }
        return plan.nominalSecondsRemaining(completed: completed)
            + Double(plan.remainingBoots(completed: completed).count) * secondsPerBoot
    }

    /// `45s`, `3m05s`, `2h10m`.
    public static func duration(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds).rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m" + pad(whole % 60) + "s" }
        return "\(whole / 3600)h" + pad(whole % 3600 / 60) + "m"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
