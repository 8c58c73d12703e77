/// Parses a boot command line (`key=value` and bare flags, separated by spaces) into BootOptions.
import InternetAddress

/// One thing wrong with a command line, pointing at the offending word.
public struct BootOptionProblem: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The option's name is not one the kernel knows.
        case unknownOption
        /// A known option with a value it does not accept (or a missing/unwanted value).
        case badValue
    }
    public var kind: Kind
    /// Where the whole `key=value` word is in the command line.
    public var wordStart: Int
    public var wordLength: Int
}

/// The command line grammar: words separated by spaces or tabs; a word is `name` or
/// `name=value`. Later words override earlier ones, so fw_cfg options (parsed after the boot
/// loader's) win.
public enum CommandLineParser {
    /// Every option with its accepted values, for error messages.
    public static let summary: StaticString = """
        log=debug|info|warn|error test=cpus|page-fault|invalid-opcode|stack-overflow|heap-stress|clock|ipi|memory \
        fault-cpu=N acpi-dump net=on|off net-mode=dedicated|symmetric net-cpu=N net-cpus=N+N|N-N \
        ip=A.B.C.D/P gateway=A.B.C.D|none net-stats=SECONDS \
        run=NAME@CPU|NAME|none slice=MS app-wait=spin|sleep net-idle=poll|halt|interrupt[:PASSES[:MICROSECONDS]] \
        impair|impair-rx|impair-tx=none|drop=PERCENT:dup=PERCENT:reorder=PERCENT:gap=FRAMES:delay=MICROSECONDS \
        impair-seed=N offload=all|none|csum+guest-csum+tso4+guest-tso4+event-idx tcp-send=lend|copy \
        record=on|off
        """

    /// Applies every word of `commandLine` to `options` and calls `report` for each problem.
    public static func parse(_ commandLine: UnsafeRawBufferPointer, into options: inout BootOptions,
                             report: (BootOptionProblem) -> Void) {
        var position = 0
        while position < commandLine.count {
            while position < commandLine.count && isSpace(commandLine[position]) { position += 1 }
            let start = position
            while position < commandLine.count && !isSpace(commandLine[position]) { position += 1 }
            guard position > start else { continue }
            let word = UnsafeRawBufferPointer(rebasing: commandLine[start..<position])
            if let kind = apply(word, to: &options) {
                report(BootOptionProblem(kind: kind, wordStart: start, wordLength: position - start))
            }
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == 0
    }

    /// Applies one word; returns what was wrong with it, if anything.
    private static func apply(_ word: UnsafeRawBufferPointer, to options: inout BootOptions) -> BootOptionProblem.Kind? {
        let equals = word.firstIndex(of: UInt8(ascii: "="))
        let name = UnsafeRawBufferPointer(rebasing: word[..<(equals ?? word.count)])
        let value: UnsafeRawBufferPointer? = equals.map { UnsafeRawBufferPointer(rebasing: word[($0 + 1)...]) }

        if matches(name, "log") {
            guard let value else { return .badValue }
            if matches(value, "debug") { options.logLevel = .debug }
            else if matches(value, "info") { options.logLevel = .info }
            else if matches(value, "warn") || matches(value, "warning") { options.logLevel = .warning }
            else if matches(value, "error") { options.logLevel = .error }
            else { return .badValue }
        } else if matches(name, "test") {
            guard let value, let test = SelfTest.allCases.first(where: { matches(value, $0.name) }) else { return .badValue }
            options.selfTest = test
        } else if matches(name, "acpi-dump") {
            guard value == nil else { return .badValue }
            options.dumpACPITables = true
        } else if matches(name, "fault-cpu") {
            guard let value, let number = decimal(value), number < 256 else { return .badValue }
            options.faultCPU = number
        } else if matches(name, "net") {
            guard let value else { return .badValue }
            if matches(value, "on") { options.networkEnabled = true }
            else if matches(value, "off") { options.networkEnabled = false }
            else { return .badValue }
        } else if matches(name, "net-mode") {
            guard let value else { return .badValue }
            if matches(value, NetworkMode.dedicated.name) { options.networkMode = .dedicated }
            else if matches(value, NetworkMode.symmetric.name) { options.networkMode = .symmetric }
            else { return .badValue }
        } else if matches(name, "net-cpu") {
            guard let value, let number = decimal(value), number < 256 else { return .badValue }
            options.networkCPU = number
            options.networkCPUsGiven = true
        } else if matches(name, "net-cpus") {
            guard let value, let list = cpuList(value) else { return .badValue }
            options.networkCPUs = list
            options.networkCPUsGiven = true
        } else if matches(name, "ip") {
            guard let value, let slash = value.firstIndex(of: UInt8(ascii: "/")),
                  let address = ipv4(UnsafeRawBufferPointer(rebasing: value[..<slash])),
                  let prefix = decimal(UnsafeRawBufferPointer(rebasing: value[(slash + 1)...])),
                  prefix >= 1 && prefix <= 30 else { return .badValue }
            options.address = address
            options.prefixLength = prefix
        } else if matches(name, "gateway") {
            guard let value else { return .badValue }
            if matches(value, "none") { options.gateway = nil }
            else if let address = ipv4(value) { options.gateway = address }
            else { return .badValue }
        } else if matches(name, "run") {
            guard let value else { return .badValue }
            if matches(value, "none") {
                options.programs = []
                return nil
            }
            guard let at = value.firstIndex(of: UInt8(ascii: "@")) else {
                // No CPU: the kernel places it.
                guard value.count >= 1, value.count <= 31 else { return .badValue }
                options.programs = (options.programs ?? []) + [ProgramAssignment(name: Array(value), cpu: nil)]
                return nil
            }
            guard at > 0, at <= 31,
                  let cpu = decimal(UnsafeRawBufferPointer(rebasing: value[(at + 1)...])), cpu < 256 else { return .badValue }
            let assignment = ProgramAssignment(name: Array(value[..<at]), cpu: cpu)
            options.programs = (options.programs ?? []) + [assignment]
        } else if matches(name, "net-idle") {
            guard let value, let setting = networkIdle(value) else { return .badValue }
            options.networkIdle = setting.policy
            options.networkIdlePasses = setting.passes
            options.networkIdleHaltMicroseconds = setting.haltMicroseconds
        } else if matches(name, "app-wait") {
            guard let value else { return .badValue }
            if matches(value, "spin") { options.programsSpin = true }
            else if matches(value, "sleep") { options.programsSpin = false }
            else { return .badValue }
        } else if matches(name, "net-stats") {
            guard let value, let seconds = decimal(value), seconds <= 86_400 else { return .badValue }
            options.networkStatisticsInterval = seconds
        } else if matches(name, "impair") || matches(name, "impair-rx") || matches(name, "impair-tx") {
            guard let value, let setting = impairment(value) else { return .badValue }
            if !matches(name, "impair-tx") { options.receiveImpairment = setting }
            if !matches(name, "impair-rx") { options.transmitImpairment = setting }
        } else if matches(name, "offload") {
            guard let value, let offloads = offloads(value) else { return .badValue }
            options.offloads = offloads
        } else if matches(name, "slice") {
            guard let value, let milliseconds = decimal(value), milliseconds >= 1, milliseconds <= 1000 else { return .badValue }
            options.timeSliceMilliseconds = milliseconds
        } else if matches(name, "tcp-send") {
            guard let value else { return .badValue }
            if matches(value, "lend") { options.tcpSendLends = true }
            else if matches(value, "copy") { options.tcpSendLends = false }
            else { return .badValue }
        } else if matches(name, "record") {
            guard let value else { return .badValue }
            if matches(value, "on") { options.recordsNetwork = true }
            else if matches(value, "off") { options.recordsNetwork = false }
            else { return .badValue }
        } else if matches(name, "impair-seed") {
            guard let value, let seed = decimal64(value) else { return .badValue }
            options.impairmentSeed = seed
        } else {
            return .unknownOption
        }
        return nil
    }

    /// `+`-separated CPU numbers (0...255) and ranges `A-B` (A <= B), in the order given:
    /// "0+1", "1-3", "0+2-3", "4". Nil when a part is empty or wrong, a CPU repeats, or the
    /// list would be longer than `BootOptions.maximumNetworkCPUs`.
    static func cpuList(_ bytes: UnsafeRawBufferPointer) -> [Int]? {
        var list: [Int] = []
        for part in fields(bytes, separatedBy: "+") {
            let dash = part.firstIndex(of: UInt8(ascii: "-"))
            guard let first = decimal(UnsafeRawBufferPointer(rebasing: part[..<(dash ?? part.count)])),
                  first < 256 else { return nil }
            var last = first
            if let dash {
                guard let end = decimal(UnsafeRawBufferPointer(rebasing: part[(dash + 1)...])),
                      end < 256, end >= first else { return nil }
                last = end
            }
            // Checked before expanding, so that "0-255" costs no more than "0-8".
            guard list.count + (last - first + 1) <= BootOptions.maximumNetworkCPUs else { return nil }
            for cpu in first...last {
                // A CPU listed twice would run two network cores, or own two queue pairs.
                guard !list.contains(cpu) else { return nil }
                list.append(cpu)
            }
        }
        return list
    }

    /// `all`, `none`, or `+`-separated offload names (`NetworkOffloads.named`), each at most
    /// once. Nil when a name is unknown, empty or repeated.
    static func offloads(_ bytes: UnsafeRawBufferPointer) -> NetworkOffloads? {
        if matches(bytes, "all") { return .all }
        if matches(bytes, "none") { return [] }
        var set: NetworkOffloads = []
        for part in fields(bytes, separatedBy: "+") {
            guard let entry = NetworkOffloads.named.first(where: { matches(part, $0.name) }),
                  !set.contains(entry.offload) else { return nil }
            set.insert(entry.offload)
        }
        return set
    }

    /// `poll`, or `halt` / `interrupt` optionally followed by `:PASSES` (1 to 1,000,000 empty
    /// passes before halting) and `:MICROSECONDS` (1 to 100,000, the longest halt); what is
    /// left out takes its default. Nil for anything else.
    static func networkIdle(_ bytes: UnsafeRawBufferPointer) -> (policy: NetworkIdlePolicy, passes: Int, haltMicroseconds: Int)? {
        var setting = (policy: NetworkIdlePolicy.poll, passes: BootOptions.defaultNetworkIdlePasses,
                       haltMicroseconds: BootOptions.defaultNetworkIdleHaltMicroseconds)
        for (field, text) in fields(bytes, separatedBy: ":").enumerated() {
            switch field {
            case 0:
                if matches(text, "poll") { setting.policy = .poll }
                else if matches(text, "halt") { setting.policy = .halt }
                else if matches(text, "interrupt") { setting.policy = .interrupt }
                else { return nil }
            case 1:
                // A poll has nothing to time.
                guard setting.policy != .poll, let passes = decimal(text), passes >= 1 && passes <= 1_000_000 else { return nil }
                setting.passes = passes
            case 2:
                guard let microseconds = decimal(text), microseconds >= 1 && microseconds <= 100_000 else { return nil }
                setting.haltMicroseconds = microseconds
            default:
                return nil
            }
        }
        return setting
    }

    /// `none`, or `:`-separated `drop=P`, `dup=P`, `reorder=P`, `gap=K`, `delay=US` (each at
    /// most once is not required: a later field wins). Nil when any field is wrong.
    static func impairment(_ bytes: UnsafeRawBufferPointer) -> ImpairmentSetting? {
        var setting = ImpairmentSetting()
        if matches(bytes, "none") { return setting }
        for field in fields(bytes, separatedBy: ":") {
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: field[..<equals])
            let value = UnsafeRawBufferPointer(rebasing: field[(equals + 1)...])
            if matches(key, "drop") {
                guard let rate = basisPoints(value) else { return nil }
                setting.dropBasisPoints = rate
            } else if matches(key, "dup") {
                guard let rate = basisPoints(value) else { return nil }
                setting.duplicateBasisPoints = rate
            } else if matches(key, "reorder") {
                guard let rate = basisPoints(value) else { return nil }
                setting.reorderBasisPoints = rate
            } else if matches(key, "gap") {
                guard let gap = decimal(value), gap >= 1 && gap <= 64 else { return nil }
                setting.reorderGap = gap
            } else if matches(key, "delay") {
                guard let microseconds = decimal(value), microseconds <= 1_000_000 else { return nil }
                setting.delayMicroseconds = microseconds
            } else {
                return nil
            }
        }
        return setting
    }

    /// The `separator`-separated parts of `bytes`, empty ones included ("a::b" has three, ""
    /// one): the one splitter of the list-valued options.
    static func fields(_ bytes: UnsafeRawBufferPointer, separatedBy separator: Unicode.Scalar) -> [UnsafeRawBufferPointer] {
        var parts: [UnsafeRawBufferPointer] = []
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: separator) {
            parts.append(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            start = index + 1
        }
        return parts
    }

    /// A percentage of 0...100 with at most two decimals ("1", "0.5", "12.25"), in hundredths
    /// of a percent; nil otherwise.
    static func basisPoints(_ bytes: UnsafeRawBufferPointer) -> UInt16? {
        let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        guard let whole = decimal(UnsafeRawBufferPointer(rebasing: bytes[..<(dot ?? bytes.count)])), whole <= 100 else {
            return nil
        }
        var hundredths = 0
        if let dot {
            let fraction = UnsafeRawBufferPointer(rebasing: bytes[(dot + 1)...])
            guard fraction.count >= 1 && fraction.count <= 2, let digits = decimal(fraction) else { return nil }
            hundredths = fraction.count == 1 ? digits * 10 : digits
        }
        let total = whole * 100 + hundredths
        return total <= 10_000 ? UInt16(total) : nil
    }

    /// A non-negative decimal number of at most 18 digits, or nil.
    static func decimal64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Dotted-quad IPv4 ("10.0.2.15"), parsed by the address type itself.
    static func ipv4(_ bytes: UnsafeRawBufferPointer) -> IPv4Address? { IPv4Address(parsing: bytes) }

    /// Whether `bytes` spells exactly `text`.
    static func matches(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in
            expected.count == bytes.count && zip(expected, bytes).allSatisfy { $0 == $1 }
        }
    }

    /// A non-negative decimal number of at most 9 digits, or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
