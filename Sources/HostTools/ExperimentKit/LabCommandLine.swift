/// swiglet-lab's command line: the subcommand and its options, parsed and checked before anything runs.

/// What `swiglet-lab` was asked to do.
public enum LabCommand: Equatable, Sendable {
    /// `--help` of the tool (nil) or of one subcommand.
    case help(LabSubcommand?)
    case run(LabRunOptions)
    /// `check FILE...`: parse the files and print each plan's size.
    case check([String])
    /// `table RESULTS_DIR`: print the Markdown table of a results directory.
    case table(String)
}

/// The subcommands, by the word that names them.
public enum LabSubcommand: String, Equatable, Sendable, CaseIterable {
    case run, check, table
}

/// The options of `swiglet-lab run`.
public struct LabRunOptions: Equatable, Sendable {
    /// The experiment file.
    public var file: String
    /// One short point per target and load (`ExperimentAdjustments.quick`).
    public var quick = false
    /// Repetitions instead of the file's.
    public var repetitions: Int?
    /// The results directory itself (not its parent); an existing one is resumed.
    public var results: String?
    /// Measure only this target.
    public var only: String?
    /// Go on after a failed run or boot instead of stopping there.
    public var keepGoing = false
    /// How long a guest may take to print its ready line, in seconds.
    public var readyTimeout: Double = 180
    /// The swiglet-bench executable (built in release into .build-bench by `make experiment`).
    public var bench = ".build-bench/release/swiglet-bench"

    public init(file: String) {
        self.file = file
    }
}

/// A command line swiglet-lab refuses; the message names the option.
public struct LabUsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// The subcommand whose `--help` to point at.
    public var subcommand: LabSubcommand?

    public init(_ message: String, subcommand: LabSubcommand? = nil) {
        self.message = message
        self.subcommand = subcommand
    }

    public var description: String { message }
}

/// swiglet-lab's exit statuses (its `--help` lists them).
public enum LabExitStatus: Int32, Sendable {
    /// Every run measured and ok; every file checked parsed; the table printed.
    case ok = 0
    /// Some run or boot failed (or could not be measured); what was measured is written.
    case failedRuns = 1
    /// A bad command line or experiment file.
    case usage = 2
    /// Cannot run at all: not root, a tool or image missing, a results directory that belongs to
    /// another experiment.
    case cannotRun = 3
    /// Stopped by Ctrl-C or SIGTERM (guest stopped, namespace deleted, results kept).
    case interrupted = 130
}

extension LabCommand {
    /// Parses the arguments after the program's name.
    public static func parse(_ arguments: [String]) throws(LabUsageError) -> LabCommand {
        guard let first = arguments.first else {
            throw LabUsageError("no subcommand: give run, check or table")
        }
        if first == "-h" || first == "--help" || first == "help" {
            if first == "help", arguments.count > 1 {
                guard let subcommand = LabSubcommand(rawValue: arguments[1]) else {
                    throw LabUsageError("unknown subcommand '\(arguments[1])' (known: run, check, table)")
                }
                return .help(subcommand)
            }
            return .help(nil)
        }
        guard let subcommand = LabSubcommand(rawValue: first) else {
            throw LabUsageError("unknown subcommand '\(first)' (known: run, check, table)")
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") { return .help(subcommand) }
        switch subcommand {
        case .run: return .run(try parseRun(rest))
        case .check:
            try refuseOptions(rest, subcommand: .check)
            guard !rest.isEmpty else { throw LabUsageError("check needs at least one experiment file", subcommand: .check) }
            return .check(rest)
        case .table:
            try refuseOptions(rest, subcommand: .table)
            guard rest.count == 1 else {
                throw LabUsageError("table needs exactly one results directory, not \(rest.count) arguments", subcommand: .table)
            }
            return .table(rest[0])
        }
    }

    private static func refuseOptions(_ arguments: [String], subcommand: LabSubcommand) throws(LabUsageError) {
        if let option = arguments.first(where: { $0.hasPrefix("-") && $0.count > 1 }) {
            throw LabUsageError("unknown option '\(option)' for \(subcommand.rawValue)", subcommand: subcommand)
        }
    }

    private static func parseRun(_ arguments: [String]) throws(LabUsageError) -> LabRunOptions {
        var file: String?
        var options = LabRunOptions(file: "")
        var index = 0
        func value(_ name: String) throws(LabUsageError) -> String {
            index += 1
            guard index < arguments.count, !arguments[index].isEmpty else {
                throw LabUsageError("\(name) needs a value", subcommand: .run)
            }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            // `--option=value` is accepted as well as `--option value`.
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            func take() throws(LabUsageError) -> String {
                if let inline {
                    guard !inline.isEmpty else { throw LabUsageError("\(name) needs a value", subcommand: .run) }
                    return inline
                }
                return try value(name)
            }
            func flag() throws(LabUsageError) {
                if inline != nil { throw LabUsageError("\(name) takes no value", subcommand: .run) }
            }
            switch name {
            case "--quick": try flag(); options.quick = true
            case "--keep-going": try flag(); options.keepGoing = true
            case "--repetitions":
                let text = try take()
                guard let count = Int(text), (1...1000).contains(count) else {
                    throw LabUsageError("--repetitions '\(text)' is not a whole number from 1 to 1000", subcommand: .run)
                }
                options.repetitions = count
            case "--results": options.results = try take()
            case "--only": options.only = try take()
            case "--ready-timeout":
                let text = try take()
                guard let seconds = Double(text), seconds.isFinite, seconds >= 1, seconds <= 3600 else {
                    throw LabUsageError("--ready-timeout '\(text)' is not a number of seconds from 1 to 3600", subcommand: .run)
                }
                options.readyTimeout = seconds
            case "--bench": options.bench = try take()
            default:
                if argument.hasPrefix("-") && argument.count > 1 {
                    throw LabUsageError("unknown option '\(argument)' for run", subcommand: .run)
                }
                guard file == nil else {
                    throw LabUsageError("run takes one experiment file, got '\(file!)' and '\(argument)'", subcommand: .run)
                }
                file = argument
            }
            index += 1
        }
        guard let file else { throw LabUsageError("run needs an experiment file (experiments/NAME.exp)", subcommand: .run) }
        options.file = file
        return options
    }
}
