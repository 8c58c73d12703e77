/// An experiment as its `.exp` file describes it: the machine and the systems measured (loads are in Load.swift).

/// One experiment file, parsed and checked (see `ExperimentParser` for the format). Every
/// sweep is a list; nothing here is expanded yet (that is `ExperimentPlan`'s job).
public struct Experiment: Equatable, Sendable {
    /// The file's base name without `.exp` (`intrusion` for `experiments/intrusion.exp`); it
    /// names the results directory and appears in every record.
    public var name: String
    /// What the experiment is for, one line.
    public var description: String
    /// How often every (point, target) is measured.
    public var repetitions: Int
    /// The fraction of failed requests above which a run counts as failed (0.01 = 1%). The
    /// default, 0, fails a run for any error: a rate is never reported for a run that had one.
    public var errorThreshold: Double
    /// The target every other target's medians are divided by, if any.
    public var baseline: String?
    /// How runs share guests: see `BootSharing`.
    public var boots: BootSharing
    /// The virtual machine, the same for every target.
    public var machine: MachineSettings
    /// The systems measured, in file order.
    public var targets: [Target]
    /// The loads applied to each of them, in file order.
    public var loads: [Load]
    /// The file's text, verbatim, for metadata.json (so a result says exactly what was asked).
    public var sourceText: String

    public init(name: String, description: String = "", repetitions: Int = 5, errorThreshold: Double = 0,
                baseline: String? = nil, boots: BootSharing = .shared, machine: MachineSettings = MachineSettings(),
                targets: [Target], loads: [Load], sourceText: String = "") {
        self.name = name
        self.description = description
        self.repetitions = repetitions
        self.errorThreshold = errorThreshold
        self.baseline = baseline
        self.boots = boots
        self.machine = machine
        self.targets = targets
        self.loads = loads
        self.sourceText = sourceText
    }

    /// The target called `name`.
    public func target(named name: String) -> Target? { targets.first { $0.name == name } }

    /// The load called `name`.
    public func load(named name: String) -> Load? { loads.first { $0.name == name } }
}

/// Whether a guest serves several runs or one.
public enum BootSharing: String, Equatable, Sendable, CaseIterable {
    /// One boot per (repetition, cpus, target, boot options): the guest serves every point that
    /// needs the same boot, one after another. Booting under TCG takes seconds to minutes, so
    /// this is the default; a point can then see state a previous point left (open connections,
    /// a full table), which is why points run in file order, the same in every boot.
    case shared
    /// A fresh guest for every run: slower, but no run sees another's leftovers.
    case perRun = "per-run"
}

/// The QEMU machine every target boots in.
public struct MachineSettings: Equatable, Sendable {
    /// Virtual CPU counts, a sweep (`cpus = 2, 4`).
    public var cpus: [Int]
    /// Guest memory in QEMU's `-m` syntax (`256M`).
    public var memory: String
    /// How the guest's NIC reaches the load generator.
    public var nic: NICKind
    /// NIC queue pairs (more than 1 needs a multiqueue tap).
    public var queues: Int
    /// Instruction counting (`-icount`): off, or a shift that makes guest time deterministic.
    public var icount: InstructionCounting
    /// Extra QEMU arguments for every target, split on spaces as a shell would without quotes.
    public var qemuOptions: [String]

    public init(cpus: [Int] = [2], memory: String = "256M", nic: NICKind = .tap, queues: Int = 1,
                icount: InstructionCounting = .off, qemuOptions: [String] = []) {
        self.cpus = cpus
        self.memory = memory
        self.nic = nic
        self.queues = queues
        self.icount = icount
        self.qemuOptions = qemuOptions
    }
}

/// The guest NIC's backend.
public enum NICKind: String, Equatable, Sendable, CaseIterable {
    /// A tap device in a network namespace: the only backend fit for numbers.
    case tap
    /// QEMU's user-mode networking with host forwards: no root needed, but it accepts one pending
    /// connection at a time and adds latency spikes (docs/benchmarks.md), so only for trials.
    case user
}

/// QEMU's `-icount`: guest time from counted instructions instead of the host clock.
public enum InstructionCounting: Equatable, Sendable {
    /// Guest time follows the host clock (the default).
    case off
    /// `-icount shift=auto`: QEMU adjusts the shift to keep guest time near host time.
    case auto
    /// `-icount shift=N`: one instruction takes 2^N ns of guest time (QEMU accepts 0...10).
    case shift(Int)

    /// As the file and QEMU write it: `off`, `auto` or the shift.
    public var text: String {
        switch self {
        case .off: "off"
        case .auto: "auto"
        case .shift(let shift): String(shift)
        }
    }
}

/// A system under test.
public struct Target: Equatable, Sendable {
    /// The name used in records, run keys and tables (`dedicated`, `linux`).
    public var name: String
    /// Which image boots.
    public var kind: TargetKind
    /// Swiglet boot options (`net-mode=symmetric app-wait=spin`); empty for Linux.
    public var bootOptions: String
    /// Extra QEMU arguments for this target only, after the machine's.
    public var qemuOptions: [String]
    /// The ISO a Swiglet target boots when not `defaultSwigletImage` (key `image`): another
    /// build, to compare two builds in one sitting. Nil for Linux.
    public var image: String?

    /// What `make image` builds and a Swiglet target boots unless it names an `image`.
    public static let defaultSwigletImage = "images/swiglet.iso"

    public init(name: String, kind: TargetKind, bootOptions: String = "", qemuOptions: [String] = [], image: String? = nil) {
        self.name = name
        self.kind = kind
        self.bootOptions = bootOptions
        self.qemuOptions = qemuOptions
        self.image = image
    }

    /// The ISO this target boots (nil for Linux).
    public var swigletImage: String? {
        kind == .swiglet ? image ?? Self.defaultSwigletImage : nil
    }
}

/// The image a target boots.
public enum TargetKind: String, Equatable, Sendable, CaseIterable {
    /// images/swiglet.iso (or the target's `image`) with the target's boot options.
    case swiglet
    /// The Linux guest (scripts/build-linux-guest.sh) running linux-echo-server.
    case linux
}
