// Command-line options of swiglet-bench.

import Glibc

/// An IPv4 UDP endpoint given on the command line as `A.B.C.D[:PORT]`.
struct Endpoint: CustomStringConvertible {
    var address: in_addr
    var port: UInt16

    /// Parses `A.B.C.D` or `A.B.C.D:PORT` (port 1...65535, default 7, the echo port).
    init?(_ text: String) {
        var host = Substring(text)
        var port: UInt16 = 7
        if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            guard let value = UInt16(text[text.index(after: colon)...]), value > 0 else { return nil }
            port = value
        }
        var address = in_addr()
        guard inet_pton(AF_INET, String(host), &address) == 1 else { return nil }
        self.address = address
        self.port = port
    }

    var description: String {
        let host = UInt32(bigEndian: address.s_addr)
        return "\(host >> 24).\((host >> 16) & 255).\((host >> 8) & 255).\(host & 255):\(port)"
    }
}

struct UsageError: Error {
    var message: String
}

struct Options {
    /// The system measured, and optionally a second one measured the same way as its baseline.
    var target: Endpoint?
    var baselineTarget: Endpoint?
    var label = "swiglet"
    var baselineLabel = "linux"
    var duration = 5.0
    var warmup = 1.0
    var sizes = [64, 1024]
    var windows = [1, 32]
    /// Requests per second offered on a schedule; 0: as fast as answers come.
    var rate = 0.0
    var timeoutMilliseconds = 250
    var probeSeconds = 3.0
    var maxRequests = 5_000_000
    var savePath: String?
    var baselinePath: String?
    var resultsPath: String?
    var quiet = false
    var comparisonOnly = false
    var cpuPid: Int32?
    var help = false

    static let minimumSize = Datagram.headerSize
    static let maximumSize = 1472  // an Ethernet frame of 1500 bytes without fragmentation
    static let maximumWindow = 1024

    static let usage = """
    swiglet-bench: UDP echo (RFC 862) load generator for Swiglet's benchmark.

    USAGE:
      swiglet-bench [OPTIONS] HOST[:PORT] [BASELINE_HOST[:PORT]]
      swiglet-bench --results FILE [--baseline FILE]
      swiglet-bench MODE [OPTIONS] HOST[:PORT]      (MODE --help for each)

    MODES besides this UDP echo benchmark:
      tcp-echo      one TCP connection's echo throughput (MiB/s, every byte verified)
      tcp-connect   new TCP connections per second, several connectors, client closes first
      tcp-rr        request and answer over several TCP echo connections, windowed, optionally paced
      syn-flood     SYNs from spoofed sources over a raw socket (root)
      tcp-garbage   a storm of malformed TCP segments over a raw socket (root)
      udp-flood     UDP datagrams as fast as possible, answers ignored (overload experiments)

    Measures a UDP echo server at HOST:PORT (IPv4; port 7 if omitted): for every payload size
    and window (requests kept outstanding), requests per second and round-trip latency p50/p99
    over a fixed duration after a warm-up. Every datagram carries a sequence number and its send
    time; every reply is compared byte for byte with what was sent (mismatches are counted); a
    request unanswered within the loss timeout is counted lost and replaced, so a run never
    hangs. Datagrams go only to the addresses given. Before measuring, a probe checks that the
    target answers at all (exit status 1 if it does not).

    With a second address, that system is measured the same way and each number of the first is
    printed beside its ratio to the second's. With --baseline FILE, the ratios are to results
    saved earlier with --save (e.g. of the Linux guest, which must run in the same QEMU setup at
    the same address, so it cannot be measured at the same time).

    OPTIONS:
      -d, --duration SECONDS   measured time of each measurement (default 5)
      -w, --warmup SECONDS     load before each measurement that is not counted (default 1)
      --sizes LIST             UDP payload sizes in bytes, comma-separated (default 64,1024;
                               \(minimumSize)...\(maximumSize))
      --windows LIST           requests outstanding, comma-separated (default 1,32; 1...\(maximumWindow))
      --rate N                 offer N requests per second on a fixed schedule (open loop; the
                               window caps those outstanding; a request's round trip counts
                               from when it was due, so queueing at the client shows) (default
                               0: as fast as answers come; 0...10000000)
      --timeout-ms MS          a request unanswered this long is lost (default 250; 1...10000)
      --probe-seconds SECONDS  how long to wait for a first reply before giving up (default 3)
      --max-requests N         at most N requests per measurement, warm-up included (default 5000000)
      --label NAME             name of the measured system (default swiglet)
      --baseline-label NAME    name of the baseline system (default linux)
      --save FILE              also write the results of HOST to FILE (text, one line each)
      --baseline FILE          print ratios to the results in FILE (written by --save)
      --results FILE           print the results in FILE instead of measuring
      -q, --quiet              no progress lines, only the tables
      --comparison-only        with a baseline, print only the comparison, not both tables
      --cpu-pid PID            also report the host CPU use of each thread of process PID
                               (e.g. QEMU, started with -name X,debug-threads=on so that its
                               threads have names) during each measurement
      -h, --help               this text

    OUTPUT: one table per system, a row per size and window: req/s (verified replies received
    during the measurement / its duration), p50 and p99 round trip in microseconds, requests
    sent and replies received during the measurement (replies may exceed sent by up to the
    window: they include answers to requests of the warm-up), lost (unanswered within the
    timeout), late (answered after being counted lost), mismatched (a reply that differs from
    its request), and the load generator's own CPU use. Then, when there is a baseline, the
    comparison: ratio = measured / baseline (req/s: above 1 is better; latency: below 1 is
    better).

    EXIT STATUS: 0 measured; 1 the target did not answer, a reply did not match, or a file could
    not be read or written; 2 bad options.

    EXAMPLE (inside the network namespace of scripts/bench-udp.sh):
      swiglet-bench --duration 2 --save /tmp/linux.txt --label linux 10.0.2.15:7
      swiglet-bench --duration 2 --baseline /tmp/linux.txt 10.0.2.15:7
    """

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var positional: [String] = []
        var index = 0
        func value(_ name: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(message: "\(name) needs a value") }
            return arguments[index]
        }
        func number(_ name: String, _ text: String, _ range: ClosedRange<Double>) throws(UsageError) -> Double {
            guard let number = Double(text), number.isFinite, range.contains(number) else {
                throw UsageError(message: "\(name) '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func integer(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            guard let number = Int(text), range.contains(number) else {
                throw UsageError(message: "\(name) '\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func list(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(UsageError) -> [Int] {
            var numbers: [Int] = []
            for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                numbers.append(try integer(name, String(item), range))
            }
            guard !numbers.isEmpty, numbers.count <= 16 else { throw UsageError(message: "\(name) needs 1 to 16 values") }
            return numbers
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": options.help = true
            case "-q", "--quiet": options.quiet = true
            case "--comparison-only": options.comparisonOnly = true
            case "--cpu-pid": options.cpuPid = Int32(try integer(argument, try value(argument), 1...Int(Int32.max)))
            case "-d", "--duration": options.duration = try number(argument, try value(argument), 0.1...600)
            case "-w", "--warmup": options.warmup = try number(argument, try value(argument), 0...60)
            case "--sizes": options.sizes = try list(argument, try value(argument), minimumSize...maximumSize)
            case "--windows": options.windows = try list(argument, try value(argument), 1...maximumWindow)
            case "--rate": options.rate = try number(argument, try value(argument), 0...10_000_000)
            case "--timeout-ms": options.timeoutMilliseconds = try integer(argument, try value(argument), 1...10_000)
            case "--probe-seconds": options.probeSeconds = try number(argument, try value(argument), 0.1...600)
            case "--max-requests": options.maxRequests = try integer(argument, try value(argument), 1...1_000_000_000)
            case "--label": options.label = try label(argument, try value(argument))
            case "--baseline-label": options.baselineLabel = try label(argument, try value(argument))
            case "--save": options.savePath = try value(argument)
            case "--baseline": options.baselinePath = try value(argument)
            case "--results": options.resultsPath = try value(argument)
            default:
                if argument.hasPrefix("-") && argument.count > 1 {
                    throw UsageError(message: "unknown option '\(argument)'")
                }
                positional.append(argument)
            }
            index += 1
        }
        if options.help { return options }
        if options.resultsPath != nil {
            guard positional.isEmpty else { throw UsageError(message: "--results prints saved results: give no address with it") }
            return options
        }
        guard !positional.isEmpty else { throw UsageError(message: "no target address (HOST[:PORT]) given") }
        guard positional.count <= 2 else { throw UsageError(message: "at most two targets (HOST[:PORT] [BASELINE_HOST[:PORT]])") }
        guard let target = Endpoint(positional[0]) else {
            throw UsageError(message: "'\(positional[0])' is not an IPv4 address with an optional :PORT")
        }
        options.target = target
        if positional.count == 2 {
            guard let baseline = Endpoint(positional[1]) else {
                throw UsageError(message: "'\(positional[1])' is not an IPv4 address with an optional :PORT")
            }
            guard options.baselinePath == nil else { throw UsageError(message: "give either a baseline address or --baseline FILE, not both") }
            options.baselineTarget = baseline
        }
        return options
    }

    private static func label(_ name: String, _ text: String) throws(UsageError) -> String {
        guard !text.isEmpty, text.count <= 16,
              text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw UsageError(message: "\(name) '\(text)': use 1 to 16 letters, digits, '-', '_' or '.'")
        }
        return text
    }
}
