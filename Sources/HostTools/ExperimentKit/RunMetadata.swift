/// metadata.json: what was measured, on what, with which command lines — everything needed to judge or repeat a result.

import Foundation

/// The facts of one experiment run, written as metadata.json beside raw.csv. Written at the
/// start (without `finished`) and again at the end, so an interrupted run still has one.
public struct RunMetadata: Codable, Equatable, Sendable {
    /// One guest boot's exact QEMU command line.
    public struct QEMUCommandLine: Codable, Equatable, Sendable {
        /// `PlannedBoot.key`.
        public var boot: String
        public var target: String
        /// The arguments, the program first, as QEMU was started (not re-quoted for a shell).
        public var arguments: [String]

        public init(boot: String, target: String, arguments: [String]) {
            self.boot = boot
            self.target = target
            self.arguments = arguments
        }
    }

    /// The experiment's name.
    public var experiment: String
    /// The experiment file's path and its text, verbatim.
    public var experimentFile: String
    public var experimentText: String
    /// The commit measured (`git rev-parse HEAD`) and whether the tree had uncommitted changes.
    public var commit: String
    public var dirty: Bool
    /// `qemu-system-x86_64 --version`'s first line.
    public var qemuVersion: String
    /// The host's CPU model (/proc/cpuinfo) and online cores.
    public var hostCPUModel: String
    public var hostCores: Int
    /// The host's 1, 5 and 15 minute load averages at the start (/proc/loadavg).
    public var loadAverage: [Double]
    /// Every target's Swiglet boot options (empty for Linux), by target name.
    public var bootOptions: [String: String]
    /// Every boot's QEMU command line, in the order of the boots.
    public var qemuCommandLines: [QEMUCommandLine]
    public var started: Date
    /// Nil while the experiment runs or when it was interrupted.
    public var finished: Date?
    /// Anything else worth keeping (tool versions, the image's checksum...), by name.
    public var notes: [String: String]

    public init(experiment: String, experimentFile: String, experimentText: String, commit: String, dirty: Bool,
                qemuVersion: String, hostCPUModel: String, hostCores: Int, loadAverage: [Double],
                bootOptions: [String: String], qemuCommandLines: [QEMUCommandLine] = [], started: Date,
                finished: Date? = nil, notes: [String: String] = [:]) {
        self.experiment = experiment
        self.experimentFile = experimentFile
        self.experimentText = experimentText
        self.commit = commit
        self.dirty = dirty
        self.qemuVersion = qemuVersion
        self.hostCPUModel = hostCPUModel
        self.hostCores = hostCores
        self.loadAverage = loadAverage
        self.bootOptions = bootOptions
        self.qemuCommandLines = qemuCommandLines
        self.started = started
        self.finished = finished
        self.notes = notes
    }

    /// JSON with sorted keys, indented, dates in ISO 8601: stable enough to diff two runs'.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Reads what `json()` wrote.
    public static func decode(_ data: Data) throws -> RunMetadata {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(RunMetadata.self, from: data)
    }
}

/// Facts about the host for metadata.json, read from Linux's /proc.
public enum HostFacts {
    /// The first `model name` of /proc/cpuinfo, or "unknown".
    public static func cpuModel(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String {
        for line in (cpuinfo ?? "").split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingSpaces }
        }
        return "unknown"
    }

    /// The 1, 5 and 15 minute load averages of /proc/loadavg, or none.
    public static func loadAverage(loadavg: String? = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) -> [Double] {
        Array((loadavg ?? "").split(separator: " ").prefix(3).compactMap { Double($0) })
    }

    /// Online cores.
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
