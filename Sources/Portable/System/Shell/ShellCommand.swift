// The console shell's commands: one typed line parsed into a command, or a clear error naming what is wrong.

/// A command typed at the console shell.
public enum ShellCommand: Equatable, Sendable {
    /// An empty line: nothing to do.
    case empty
    /// `help`: the commands.
    case help
    /// `ps`: the programs.
    case processes
    /// `run NAME [@CPU]`: start a program, on `cpu` or the least-loaded application CPU.
    case run(name: [UInt8], cpu: Int?)
    /// `kill ID`: stop a program.
    case kill(id: Int)
    /// `meter`: the intrusion meter.
    case meter
    /// `net`: the network counters.
    case network
    /// `fault nic`: fault injection — break the NIC's ring protocol so that the device sets
    /// DEVICE_NEEDS_RESET and the kernel must reset it (a test of recovery).
    case injectNICFault

    /// The commands, one per line, for `help`.
    public static let helpText: StaticString = """
        help            this list
        ps              programs: id, name, cpu, state, cpu time, channel, sockets, connections
        run NAME [@CPU] start a program (on CPU, or the least-loaded application CPU)
        kill ID         stop program ID (its connections are reset, its memory given back)
        meter           the intrusion meter, per CPU and per program
        net             the network counters
        fault nic       break the NIC's ring on purpose: it needs a reset, which the kernel does
        c               (alone at the start of a line) the network counters, as before
        """

    /// The longest program name (`ProgramNameTable.maximumLength`).
    public static let maximumNameLength = 31

    /// Parses one line: words separated by spaces.
    public static func parse(_ line: [UInt8]) -> Result<ShellCommand, ShellError> {
        let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { Array($0) }
        guard let first = words.first else { return .success(.empty) }
        let arguments = Array(words.dropFirst())
        if first == Array("help".utf8) || first == [UInt8(ascii: "?")] { return noArguments(.help, arguments, usage: .help) }
        if first == Array("ps".utf8) { return noArguments(.processes, arguments, usage: .processes) }
        if first == Array("meter".utf8) { return noArguments(.meter, arguments, usage: .meter) }
        if first == Array("net".utf8) { return noArguments(.network, arguments, usage: .network) }
        if first == Array("kill".utf8) {
            guard arguments.count == 1 else { return .failure(.usage(.kill)) }
            guard let id = decimal(arguments[0]) else { return .failure(.badNumber(arguments[0], what: .programID)) }
            return .success(.kill(id: id))
        }
        if first == Array("run".utf8) { return parseRun(arguments) }
        if first == Array("fault".utf8) {
            return arguments == [Array("nic".utf8)] ? .success(.injectNICFault) : .failure(.usage(.fault))
        }
        return .failure(.unknownCommand(first))
    }

    private static func noArguments(_ command: ShellCommand, _ arguments: [[UInt8]], usage: ShellError.Usage)
        -> Result<ShellCommand, ShellError> {
        arguments.isEmpty ? .success(command) : .failure(.usage(usage))
    }

    /// `run NAME`, `run NAME@CPU`, `run NAME @CPU` or `run NAME CPU`.
    private static func parseRun(_ arguments: [[UInt8]]) -> Result<ShellCommand, ShellError> {
        guard !arguments.isEmpty, arguments.count <= 2 else { return .failure(.usage(.run)) }
        var name = arguments[0]
        var cpuText: [UInt8]? = arguments.count == 2 ? arguments[1] : nil
        if let at = name.firstIndex(of: UInt8(ascii: "@")) {
            guard cpuText == nil else { return .failure(.usage(.run)) }
            cpuText = Array(name[(at + 1)...])
            name = Array(name[..<at])
        }
        guard !name.isEmpty else { return .failure(.usage(.run)) }
        guard name.count <= maximumNameLength else { return .failure(.nameTooLong(name)) }
        guard let text = cpuText else { return .success(.run(name: name, cpu: nil)) }
        let digits = text.first == UInt8(ascii: "@") ? Array(text.dropFirst()) : text
        guard let cpu = decimal(digits), cpu < 256 else { return .failure(.badNumber(text, what: .cpu)) }
        return .success(.run(name: name, cpu: cpu))
    }

    /// A non-negative decimal of at most 9 digits.
    private static func decimal(_ text: [UInt8]) -> Int? {
        guard !text.isEmpty, text.count <= 9 else { return nil }
        var value = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// Why a line is not a command; `message` says it in words that name the culprit.
public enum ShellError: Error, Equatable, Sendable {
    /// Which command's usage to show.
    public enum Usage: Equatable, Sendable { case help, processes, meter, network, kill, run, fault }
    /// What a number was for.
    public enum Number: Equatable, Sendable { case programID, cpu }

    case unknownCommand([UInt8])
    case usage(Usage)
    case badNumber([UInt8], what: Number)
    case nameTooLong([UInt8])

    /// One line for the console (ASCII; anything else in the input shows as '?').
    public var message: [UInt8] {
        switch self {
        case .unknownCommand(let word):
            return Self.text("unknown command '") + Self.printable(word) + Self.text("' (try help)")
        case .usage(let usage):
            let form: StaticString = switch usage {
            case .help: "help"
            case .processes: "ps"
            case .meter: "meter"
            case .network: "net"
            case .kill: "kill ID"
            case .run: "run NAME [@CPU]"
            case .fault: "fault nic"
            }
            return Self.text("usage: ") + Self.text(form)
        case .badNumber(let word, let what):
            return Self.text("'") + Self.printable(word) + Self.text(what == .cpu ? "' is not a CPU number" : "' is not a program id")
        case .nameTooLong(let name):
            return Self.text("program name '") + Self.printable(name) + Self.text("' is longer than 31 bytes")
        }
    }

    private static func text(_ literal: StaticString) -> [UInt8] {
        Array(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    private static func printable(_ bytes: [UInt8]) -> [UInt8] {
        bytes.prefix(40).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }
    }
}
