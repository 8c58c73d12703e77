/// The console shell on the serial port: `help`, `ps`, `run`, `kill`, `meter`, `net`. Line editing and parsing are the portable `Shell` module (host-tested); this file runs the commands.
import NetworkContext
import Scheduling
import Shell
import Synchronization

/// One shell, read by whichever loop owns the serial port's input (network context 0's core,
/// the symmetric idle loop, or the boot CPU's loop without a network): one reader, so no lock.
enum ConsoleShell {
    nonisolated(unsafe) private static var editor = LineEditor()
    static let prompt: [UInt8] = Array("swiglet> ".utf8)

    /// Takes what the serial port has and runs each completed line. Returns whether the
    /// counters key (`c` alone at the start of a line, as before the shell) was pressed.
    static func poll() -> Bool {
        var counters = false
        while let byte = SerialPort.com1.read() {
            if byte == UInt8(ascii: "c") && editor.current.isEmpty {
                counters = true
                continue
            }
            switch editor.take(byte) {
            case .none:
                break
            case .echo(let bytes):
                Console.write(raw: bytes)
            case .cancelled:
                Console.write(raw: LineEditor.cancelEcho + prompt)
            case .line(let line):
                Console.write(raw: LineEditor.lineEnd)
                run(line)
                Console.write(raw: prompt)
            }
        }
        return counters
    }

    private static func run(_ line: [UInt8]) {
        switch ShellCommand.parse(line) {
        case .failure(let error):
            Console.write(raw: Array("error: ".utf8) + error.message + [0x0D, 0x0A])
        case .success(.empty):
            break
        case .success(.help):
            let help = ShellCommand.helpText
            var bytes: [UInt8] = []
            for index in 0..<help.utf8CodeUnitCount {
                let byte = help.utf8Start[index]
                if byte == 0x0A { bytes.append(0x0D) }
                bytes.append(byte)
            }
            Console.write(raw: bytes + [0x0D, 0x0A])
        case .success(.processes):
            listPrograms()
        case .success(.run(let name, let cpu)):
            let slot = name.withUnsafeBytes { Programs.launch(name: $0, cpu: cpu) }
            var shown = TextBuffer()
            for byte in name { shown.append(byte: (0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?")) }
            if let slot {
                Console.write(line: "started \(shown) as id \(slot)")
            } else {
                Console.write(line: "error: \(shown) not started (the log line above says why)")
            }
        case .success(.kill(let id)):
            if let problem = Programs.kill(id: id) {
                Console.write(line: "error: kill \(id): \(problem)")
            } else {
                Console.write(line: "stopping \(id)")
            }
        case .success(.meter):
            IntrusionMeter.print()
        case .success(.network):
            NetworkCore.countersRequests.wrappingAdd(1, ordering: .relaxed)
        case .success(.injectNICFault):
            if NetworkCore.nicWatch == nil {
                Console.write(line: "error: fault nic: there is no NIC")
            } else {
                NICWatch.faultRequests.wrappingAdd(1, ordering: .relaxed)
                Console.write(line: "breaking the NIC's ring; watch the log")
            }
        }
    }

    /// `ps`: every program the table still holds (ended ones until their slot is reused).
    private static func listPrograms() {
        Console.write(line: "id name                cpu state      cpu-ms channel sockets connections")
        for entry in Programs.snapshot() {
            let account = ProgramTasks.account(slot: entry.id)
            var line = TextBuffer()
            line.appendInterpolation(padded(entry.id, 3))
            line.appendLiteral(" ")
            var name = entry.name.text
            while name.count < 19 { name.appendLiteral(" ") }
            line.appendInterpolation(name)
            line.appendLiteral(" ")
            line.appendInterpolation(padded(entry.cpu, 3))
            line.appendLiteral(" ")
            line.appendLiteral(stateName(entry.state))
            line.appendLiteral(" ")
            line.appendInterpolation(padded(entry.state.isLive
                                                 ? Int((account?.cpuNanoseconds ?? 0) / 1_000_000) : 0, 6))
            line.appendLiteral(" ")
            if let channel = entry.channel {
                line.appendInterpolation(channel.context)
                line.appendLiteral("/")
                line.appendInterpolation(channel.channel)
                let usage = NetworkCore.contexts[channel.context].channelUsage(channel.channel)
                line.appendLiteral("     ")
                line.appendInterpolation(padded(usage.sockets, 7))
                line.appendLiteral(" ")
                line.appendInterpolation(padded(usage.connections, 11))
            } else {
                line.appendLiteral("-")
            }
            Console.write(line: Message(stringInterpolation: line))
        }
    }

    private static func stateName(_ state: ProgramState) -> StaticString {
        switch state {
        case .loaded: "loaded    "
        case .running: "running   "
        case .exited: "exited    "
        case .faulted: "faulted   "
        case .violatedProtocol: "stopped   "
        case .killed: "killed    "
        }
    }

    private static func padded(_ value: Int, _ width: Int) -> TextBuffer {
        var digits = TextBuffer()
        digits.appendInterpolation(value)
        var text = TextBuffer()
        for _ in digits.count..<max(width, digits.count) { text.appendLiteral(" ") }
        text.appendInterpolation(digits)
        return text
    }

}
