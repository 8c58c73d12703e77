/// The experiment file parser: `experiments/NAME.exp` into a checked `Experiment`.

import Foundation

/// Reads experiment files. The format, line by line (experiments/README.md has the same with
/// examples):
///
/// ```
/// # a comment; '#' after a space or tab also starts one
/// description = HTTP keep-alive under rising load
/// repetitions = 5                 # runs of every (point, target), default 5
/// error-threshold = 0             # failed-request fraction above which a run fails (default 0: any error)
/// baseline = linux                # ratios are other targets' medians over this one's
/// boots = shared                  # or per-run: a fresh guest for every run
/// measure = throughput, latency   # default for loads that do not say
///
/// [machine]
/// cpus = 2, 4                     # a list is a sweep
/// memory = 256M
/// nic = tap                       # or user
/// queues = 1
/// icount = off                    # or auto, or a shift 0...10
/// qemu-options = -global virtio-net-pci.csum=off
///
/// [target dedicated]
/// kind = swiglet                  # or linux
/// boot = net-mode=dedicated       # Swiglet boot options; checked by the kernel's parser
///
/// [load keepalive]
/// kind = http-keepalive           # udp-echo, tcp-echo, http-keepalive, http-close, tcp-bulk
/// connections = 1, 4, 16          # sweeps: connections, size, window, rate
/// duration = 10
/// ```
///
/// Top-level keys come before the first section. Every key is known or the file is refused, so
/// a typo cannot silently measure a default; so are values out of range, a sweep listing a value
/// twice, a parameter the load's kind does not take, duplicate names, a file without targets or
/// loads, and `boot` on a Linux target.
public enum ExperimentParser {
    /// Keys of each scope, for "unknown key" messages and their hints.
    static let topLevelKeys = ["description", "repetitions", "error-threshold", "baseline", "boots", "measure"]
    static let machineKeys = ["cpus", "memory", "nic", "queues", "icount", "qemu-options"]
    static let targetKeys = ["kind", "boot", "image", "qemu-options"]
    static let loadKeys = ["kind", "connections", "size", "window", "rate", "duration", "warmup", "port", "path",
                           "expected-status", "expected-length", "measure", "boot"]

    /// Parses the file at `path`; the experiment is named after the file.
    public static func parse(contentsOf path: String) throws(ExperimentFileError) -> Experiment {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ExperimentFileError(file: path, line: nil, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses `text`. `file` names the file in errors and, without its directory and `.exp`,
    /// names the experiment.
    public static func parse(_ text: String, file: String) throws(ExperimentFileError) -> Experiment {
        let syntax = try ExperimentFileSyntax.read(text, file: file)
        var experiment = Experiment(name: experimentName(file), targets: [], loads: [], sourceText: text)

        var defaultMeasurements = Measurement.defaults
        var baselineEntry: ExperimentFileEntry?
        for entry in syntax.topLevel {
            let value = EntryValueReader(file: file, entry: entry)
            switch entry.key {
            case "description": experiment.description = entry.value
            case "repetitions": experiment.repetitions = try value.integer(in: 1...1000)
            case "error-threshold": experiment.errorThreshold = try value.number(in: 0...1)
            case "baseline": baselineEntry = entry
            case "boots": experiment.boots = try value.choice(BootSharing.self)
            case "measure": defaultMeasurements = try value.choiceList(Measurement.self)
            default: throw unknownKey(entry, in: "at the top level", known: topLevelKeys, file: file)
            }
        }

        // The machine first, wherever its section is: targets are checked against its CPUs.
        let machineSection = syntax.sections.first { $0.kind == .machine }
        if let machineSection { experiment.machine = try machine(machineSection, file: file) }
        var bootLines: [String: Int] = [:]
        for section in syntax.sections {
            switch section.kind {
            case .machine: continue
            case .target:
                let (target, bootLine) = try target(section, machine: experiment.machine, file: file)
                experiment.targets.append(target)
                bootLines[target.name] = bootLine
            case .load:
                let (load, bootLine) = try load(section, defaultMeasurements: defaultMeasurements, file: file)
                experiment.loads.append(load)
                bootLines["load " + load.name] = bootLine
            }
        }

        guard !experiment.targets.isEmpty else {
            throw ExperimentFileError(file: file, line: nil, message: "no [target NAME] section: nothing to measure")
        }
        guard !experiment.loads.isEmpty else {
            throw ExperimentFileError(file: file, line: nil, message: "no [load NAME] section: nothing to measure with")
        }
        if let baselineEntry {
            guard experiment.target(named: baselineEntry.value) != nil else {
                let names = experiment.targets.map(\.name).joined(separator: ", ")
                throw EntryValueReader(file: file, entry: baselineEntry)
                    .fail("baseline '\(baselineEntry.value)' is not a target (targets: \(names))")
            }
            experiment.baseline = baselineEntry.value
        }
        // A load's extra boot options are checked together with every Swiglet target's, on
        // every machine size: `run=udp-echo@1` is fine with net-mode=symmetric, not with net-cpu=1.
        for load in experiment.loads where !load.swigletBootOptions.isEmpty {
            for target in experiment.targets where target.kind == .swiglet {
                for cpus in experiment.machine.cpus {
                    let options = [target.bootOptions, load.swigletBootOptions].filter { !$0.isEmpty }.joined(separator: " ")
                    if let problem = BootOptionsCheck.problem(with: options, cpus: cpus, queues: experiment.machine.queues) {
                        throw ExperimentFileError(file: file, line: bootLines["load " + load.name],
                                                  message: "[load \(load.name)] with target \(target.name): \(problem)")
                    }
                }
            }
        }
        return experiment
    }

    /// `experiments/http.exp` → `http`.
    static func experimentName(_ file: String) -> String {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        return base.hasSuffix(".exp") ? String(base.dropLast(4)) : base
    }

    private static func machine(_ section: ExperimentFileSection, file: String) throws(ExperimentFileError) -> MachineSettings {
        var machine = MachineSettings()
        var queuesEntry: ExperimentFileEntry?
        for entry in section.entries {
            let value = EntryValueReader(file: file, entry: entry)
            switch entry.key {
            case "cpus": machine.cpus = try value.integerList(in: 1...255)
            case "memory":
                // QEMU's -m: a number of MiB or one with a K, M, G or T suffix.
                let digits = entry.value.dropLast(entry.value.last.map { "KMGTkmgt".contains($0) } == true ? 1 : 0)
                guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else {
                    throw value.fail("'memory' must be a size such as 256M or 1G, not '\(entry.value)'")
                }
                machine.memory = entry.value
            case "nic": machine.nic = try value.choice(NICKind.self)
            case "queues":
                machine.queues = try value.integer(in: 1...8)
                queuesEntry = entry
            case "icount":
                switch entry.value {
                case "off": machine.icount = .off
                case "auto": machine.icount = .auto
                default:
                    guard let shift = Int(entry.value), (0...10).contains(shift) else {
                        throw value.fail("'icount' must be off, auto or a shift from 0 to 10, not '\(entry.value)'")
                    }
                    machine.icount = .shift(shift)
                }
            case "qemu-options": machine.qemuOptions = try value.arguments()
            default: throw unknownKey(entry, in: section.title, known: machineKeys, file: file)
            }
        }
        if let queuesEntry, machine.queues > 1, machine.nic == .user {
            throw EntryValueReader(file: file, entry: queuesEntry)
                .fail("queues = \(machine.queues) needs nic = tap: QEMU's user networking has one queue pair")
        }
        return machine
    }

    /// The target and the line of its `boot`, if any.
    private static func target(_ section: ExperimentFileSection, machine: MachineSettings,
                               file: String) throws(ExperimentFileError) -> (Target, Int?) {
        let name = section.name!
        let kind = try kind(of: section, TargetKind.self, file: file)
        var target = Target(name: name, kind: kind)
        var bootLine: Int?
        for entry in section.entries {
            let value = EntryValueReader(file: file, entry: entry)
            switch entry.key {
            case "kind": continue
            case "boot":
                guard kind == .swiglet else {
                    throw value.fail("a linux target takes no 'boot' (boot options are Swiglet's; the Linux guest's are fixed)")
                }
                for cpus in machine.cpus {
                    if let problem = BootOptionsCheck.problem(with: entry.value, cpus: cpus, queues: machine.queues) {
                        throw value.fail(problem)
                    }
                }
                target.bootOptions = entry.value
                bootLine = entry.line
            case "image":
                guard kind == .swiglet else {
                    throw value.fail("a linux target takes no 'image' (it boots images/linux/; 'image' is a Swiglet ISO)")
                }
                guard !entry.value.isEmpty, !entry.value.contains(where: \.isWhitespace) else {
                    throw value.fail("'image' is one path to an ISO, without spaces (e.g. images/before.iso)")
                }
                target.image = entry.value
            case "qemu-options": target.qemuOptions = try value.arguments()
            default: throw unknownKey(entry, in: section.title, known: targetKeys, file: file)
            }
        }
        return (target, bootLine)
    }

    /// The load and the line of its `boot`, if any.
    private static func load(_ section: ExperimentFileSection, defaultMeasurements: Set<Measurement>,
                             file: String) throws(ExperimentFileError) -> (Load, Int?) {
        let kind = try kind(of: section, LoadKind.self, file: file)
        var load = Load(name: section.name!, kind: kind, measurements: defaultMeasurements)
        var bootLine: Int?
        for entry in section.entries {
            let value = EntryValueReader(file: file, entry: entry)
            func refuse() -> ExperimentFileError {
                value.fail("load kind '\(kind.rawValue)' takes no '\(entry.key)'")
            }
            if let parameter = LoadParameter(rawValue: entry.key) {
                guard kind.parameters.contains(parameter) else {
                    let taken = kind.parameters.map(\.rawValue).joined(separator: ", ")
                    throw value.fail("load kind '\(kind.rawValue)' takes no '\(entry.key)' (its parameters: \(taken))")
                }
                load.sweeps[parameter] = try value.integerList(in: range(of: parameter, for: kind),
                                                              byteSuffixes: parameter == .size)
                continue
            }
            switch entry.key {
            case "kind": continue
            case "duration": load.duration = try value.number(in: 0.001...86_400)
            case "warmup": load.warmup = try value.number(in: 0...86_400)
            case "port": load.port = try value.integer(in: 1...65535)
            case "measure": load.measurements = try value.choiceList(Measurement.self)
            case "boot":
                // Checked against the targets once they are all known (see `parse`).
                load.swigletBootOptions = entry.value
                bootLine = entry.line
            case "path":
                guard kind.isHTTP else { throw refuse() }
                guard entry.value.hasPrefix("/"), !entry.value.contains(where: \.isWhitespace) else {
                    throw value.fail("'path' must start with '/' and hold no spaces, not '\(entry.value)'")
                }
                load.path = entry.value
            case "expected-status":
                guard kind.isHTTP else { throw refuse() }
                load.expectedStatus = try value.integer(in: 100...599)
            case "expected-length":
                guard kind.isHTTP else { throw refuse() }
                switch entry.value {
                case "auto": load.expectedLength = .learned
                case "any": load.expectedLength = .any
                default:
                    guard entry.value.allSatisfy({ ("0"..."9").contains($0) }) else {
                        throw value.fail("'expected-length' must be a number of bytes, auto or any, not '\(entry.value)'")
                    }
                    load.expectedLength = .bytes(try value.integer(in: 0...Int(Int32.max)))
                }
            default: throw unknownKey(entry, in: section.title, known: loadKeys, file: file)
            }
        }
        return (load, bootLine)
    }

    /// The values a sweep of `parameter` may take.
    private static func range(of parameter: LoadParameter, for kind: LoadKind) -> ClosedRange<Int> {
        switch parameter {
        case .connections: 1...1_000_000
        // swiglet-bench's datagram header is 20 bytes; 1472 fills a 1500-byte frame unfragmented.
        case .size: kind == .udpEcho ? 20...1472 : 1...(64 << 20)
        case .window: 1...1024
        case .rate: 0...100_000_000
        }
    }

    /// The section's required `kind`.
    private static func kind<Kind: RawRepresentable & CaseIterable>(of section: ExperimentFileSection, _: Kind.Type,
                                                                    file: String) throws(ExperimentFileError) -> Kind
    where Kind.RawValue == String {
        guard let entry = section.entries.first(where: { $0.key == "kind" }) else {
            let names = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ExperimentFileError(file: file, line: section.line, message: "\(section.title) needs 'kind = ' one of \(names)")
        }
        return try EntryValueReader(file: file, entry: entry).choice(Kind.self)
    }

    /// "unknown key", with the likely intended key or the section the key belongs in.
    private static func unknownKey(_ entry: ExperimentFileEntry, in scope: String, known: [String],
                                   file: String) -> ExperimentFileError {
        var message = "unknown key '\(entry.key)' \(scope.hasPrefix("[") ? "in " : "")\(scope)"
        if let close = closestKey(to: entry.key, among: known), close != entry.key {
            message += " (did you mean '\(close)'?)"
        } else {
            let homes = [("the top level", topLevelKeys), ("[machine]", machineKeys),
                         ("[target NAME]", targetKeys), ("[load NAME]", loadKeys)]
            if let home = homes.first(where: { $0.1.contains(entry.key) }) {
                message += " ('\(entry.key)' belongs \(home.0 == "the top level" ? "at the top level, before any section" : "in " + home.0))"
            }
        }
        return ExperimentFileError(file: file, line: entry.line, message: message)
    }
}
