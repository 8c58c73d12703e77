// Command-line options of swiglet-bench's TCP modes (tcp-echo, tcp-connect, tcp-rr, syn-flood, tcp-garbage) and of udp-flood.

import Glibc

/// The modes besides the default UDP echo benchmark, chosen by the first argument.
enum TCPMode: String, CaseIterable {
    case tcpEcho = "tcp-echo"
    case tcpConnect = "tcp-connect"
    case tcpRR = "tcp-rr"
    case synFlood = "syn-flood"
    case tcpGarbage = "tcp-garbage"
    case udpFlood = "udp-flood"

    var usage: String {
        switch self {
        case .tcpEcho: """
            swiglet-bench tcp-echo: single-connection TCP echo throughput.

            USAGE: swiglet-bench tcp-echo [OPTIONS] HOST[:PORT]      (port 7 if omitted)

            Opens one connection to a TCP echo server (RFC 862), streams --mebibytes of
            pseudo-random bytes through it (or, with --duration, streams for that long) while
            reading the echo back at the same time, checks every echoed byte against what was
            sent (and compares FNV-1a hashes of both streams), and prints the throughput: MiB
            echoed / seconds from the connect to the last echoed byte. Then closes (the client
            closes first).

            OPTIONS:
              --mebibytes N        bytes to stream, in MiB (default 64; 1...16384)
              -d, --duration S     stream for S seconds instead of a fixed --mebibytes: then
                                   stop sending and wait for the echo of every byte sent
                                   (0.1...3600; not with --mebibytes)
              --chunk BYTES        bytes per send call (default 65536; 1...1048576)
              --timeout SECONDS    give up when no byte moves for this long (default 10)
              -h, --help           this text

            OUTPUT: a line 'result: mode=tcp-echo bytes=B seconds=S mib_per_s=R hash=H'.
            EXIT STATUS: 0 all echoed and equal; 1 connect failed, a byte differed, the
            connection ended early or stalled; 2 bad options.
            """
        case .tcpConnect: """
            swiglet-bench tcp-connect: new TCP connections per second.

            USAGE: swiglet-bench tcp-connect [OPTIONS] HOST[:PORT]   (port 7 if omitted)

            Several connector threads each loop: connect, optionally send --request bytes and
            read their echo (so point it at a TCP echo port), close. The client closes first,
            so TIME-WAIT stays on the client: at thousands of connections a second one source
            address runs out of free ports within seconds (and connect then spends its time
            searching for one), so give several with --sources (scripts/bench-tcp.sh adds
            them to its namespace). Prints connections per second completed during --duration
            after --warmup, and the connection time (connect call to close) p50/p99.

            OPTIONS:
              -d, --duration SECONDS   measured time (default 5; 0.1...600)
              -w, --warmup SECONDS     unmeasured load first (default 1; 0...60)
              -c, --concurrency N      connector threads (default 8; 1...256)
              --request BYTES          bytes to send and read back per connection (default 0:
                                       connect and close only; 0...65536)
              --connect-timeout MS     a connection not established by then counts as failed
                                       (default 1000; 1...60000)
              --sources RANGE          bind connections to these local addresses in turn:
                                       A.B.C.D-E.F.G.H or A.B.C.D/P (default: the kernel's
                                       choice); each must be an address of this host
              -h, --help               this text

            OUTPUT: a line 'result: mode=tcp-connect conns_per_s=R p50_us=A p99_us=B failed=F ...'.
            EXIT STATUS: 0 measured; 1 no connection succeeded; 2 bad options.
            """
        case .tcpRR: """
            swiglet-bench tcp-rr: request and answer over several TCP echo connections.

            USAGE: swiglet-bench tcp-rr [OPTIONS] HOST[:PORT]        (port 7 if omitted)

            Opens --connections connections to a TCP echo server (RFC 862) and keeps up to
            --window requests of --size bytes outstanding on each (pipelined: the echo of
            request k is the k-th --size bytes that come back). Every byte of every answer is
            compared with the byte sent; a request's round trip runs from when it was due to
            its last echoed byte. Without --rate each connection sends as fast as answers come
            (closed loop). With --rate the load is offered on a fixed schedule (open loop):
            requests fall due at N per second and go, round robin, to a connection whose window
            has room; when every window is full a request waits with its clock running, so
            queueing at the client shows in the latency. A request unanswered within
            --timeout-ms, a wrong byte, or a connection the server closes fails that
            connection's outstanding requests (a byte stream cannot skip one); it reconnects.

            OPTIONS:
              -d, --duration SECONDS   measured time (default 5; 0.1...600)
              -w, --warmup SECONDS     unmeasured load first (default 1; 0...60)
              -c, --connections N      connections (default 1; 1...1024)
              --size BYTES             bytes per request (default 64; 20...65536)
              --window N               requests outstanding per connection (default 1; 1...1024)
              --rate N                 requests per second offered (default 0: closed loop)
              --timeout-ms MS          a request unanswered this long fails (default 1000; 1...60000)
              --connect-timeout MS     a connection not established by then fails (default 1000)
              -h, --help               this text

            OUTPUT: a line 'result: mode=tcp-rr connections=C size=S window=W offered_rps=R
            seconds=S requests=N rps=R p50_us=A p99_us=B issued=N mismatched=N timeouts=N
            closed=N connect_failed=N client_cpu_pct=P' (requests: answers verified during the
            measurement; the failures: requests due during it that failed).
            EXIT STATUS: 0 answers came and none failed; 1 no answer or some failed (the line
            says which); 2 bad options.
            """
        case .synFlood: """
            swiglet-bench syn-flood: SYNs from spoofed source addresses (needs root).

            USAGE: swiglet-bench syn-flood [OPTIONS] HOST[:PORT]     (port 80 if omitted)

            Sends --count TCP SYN segments (with an MSS option) to HOST:PORT over a raw IPv4
            socket, each from a source address in --sources and a random source port and
            sequence number, at --rate per second. The target answers with SYN-ACKs to
            addresses nobody owns, so its half-open connections pile up. Needs root (a raw
            socket) and a route to HOST (e.g. inside scripts/bench-tcp.sh's network namespace,
            over the tap device); only HOST is sent to.

            OPTIONS:
              --sources RANGE      spoofed sources: A.B.C.D-E.F.G.H or A.B.C.D/P
                                   (default 10.0.3.1-10.0.3.254)
              --count N            SYNs to send (default 100000; 1...1000000000)
              --rate N             SYNs per second (default 0: as fast as possible)
              --seed N             seed of the random choices (default 1)
              -h, --help           this text

            OUTPUT: a line 'result: mode=syn-flood sent=N seconds=S rate=R errors=E'.
            EXIT STATUS: 0 sent; 1 no raw socket (not root) or sending failed; 2 bad options.
            """
        case .udpFlood: """
            swiglet-bench udp-flood: UDP datagrams sent as fast as possible, answers ignored.

            USAGE: swiglet-bench udp-flood [OPTIONS] HOST[:PORT]     (port 7 if omitted)

            Sends --size-byte datagrams to HOST:PORT from one UDP socket until --duration has
            passed or --count were sent, at --rate per second (0: as fast as the socket takes
            them). Echoed answers are never read (the socket's receive buffer overflows, as a
            flood's victim would not care). It overloads the target's NIC queue so that an
            experiment can watch what else survives: the target must shed the flood by
            dropping frames, never by closing someone's connection.

            OPTIONS:
              --size N             datagram payload bytes (default 1400; 1...65507)
              -d, --duration S     stop after S seconds (default 10; 0.1...3600)
              --count N            stop after N datagrams (default: no limit; 1...1000000000)
              --rate N             datagrams per second (default 0: as fast as possible)
              -h, --help           this text

            OUTPUT: a line 'result: mode=udp-flood sent=N seconds=S rate=R errors=E'
            (errors: sends the kernel refused, e.g. ENOBUFS; the flood goes on).
            EXIT STATUS: 0 sent; 1 no socket, or nothing could be sent; 2 bad options.
            """
        case .tcpGarbage: """
            swiglet-bench tcp-garbage: a storm of malformed TCP segments (needs root).

            USAGE: swiglet-bench tcp-garbage [OPTIONS] HOST[:PORT]   (port 80 if omitted)

            Sends --count malformed or hostile TCP segments to HOST:PORT over a raw IPv4 socket,
            from this host's own address towards HOST (or --source), cycling through: bad
            checksums, data offsets below 5 or beyond the segment, headers cut short (IP
            length shorter than a TCP header), random flag combinations with random sequence
            and acknowledgment numbers, RSTs with out-of-window sequence numbers, and options
            with bad lengths. Afterwards it checks that HOST still accepts a TCP connection on
            PORT (unless --no-check). Needs root (a raw socket) and a route to HOST.

            OPTIONS:
              --count N            segments to send (default 100000; 1...1000000000)
              --rate N             segments per second (default 0: as fast as possible)
              --source A.B.C.D     source address (default: this host's address towards HOST)
              --seed N             seed of the random choices (default 1)
              --no-check           do not check that HOST:PORT still accepts a connection
              -h, --help           this text

            OUTPUT: per kind the count sent, then a line
            'result: mode=tcp-garbage sent=N seconds=S rate=R errors=E alive=yes|no|unchecked'.
            EXIT STATUS: 0 sent (and the target still answers); 1 no raw socket, sending failed,
            or the target no longer accepts connections; 2 bad options.
            """
        }
    }
}

/// The parsed options of one TCP mode.
struct TCPModeOptions {
    var mode: TCPMode
    var target: Endpoint!
    var help = false
    // tcp-echo
    var mebibytes = 64
    /// Whether --mebibytes was given (it and --duration exclude each other).
    var mebibytesGiven = false
    /// --duration of tcp-echo: seconds to stream for; 0 streams `mebibytes`.
    var streamSeconds = 0.0
    var chunk = 65536
    var stallSeconds = 10.0
    // tcp-connect
    var duration = 5.0
    var warmup = 1.0
    var concurrency = 8
    var requestBytes = 0
    var connectTimeoutMilliseconds = 1000
    // tcp-rr
    var connectionCount = 1
    var requestSize = 64
    var window = 1
    var requestTimeoutMilliseconds = 1000
    // syn-flood and tcp-garbage
    var sources: ClosedRange<UInt32> = 0x0A00_0301...0x0A00_03FE
    /// Whether --sources was given (tcp-connect binds to them only then).
    var sourcesGiven = false
    var count = 100_000
    var rate = 0
    var seed: UInt64 = 1
    // udp-flood (also --count, --rate and --duration, default 10 s)
    var datagramSize = 1400
    /// Whether --count was given (udp-flood then stops at it).
    var countGiven = false
    var source: in_addr?
    var check = true

    static func parse(mode: TCPMode, _ arguments: [String]) throws(UsageError) -> TCPModeOptions {
        var options = TCPModeOptions(mode: mode)
        if mode == .udpFlood { options.duration = 10 }
        var positional: [String] = []
        var index = 0
        func value(_ name: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(message: "\(name) needs a value") }
            return arguments[index]
        }
        func number(_ name: String, _ range: ClosedRange<Double>) throws(UsageError) -> Double {
            let text = try value(name)
            guard let number = Double(text), number.isFinite, range.contains(number) else {
                throw UsageError(message: "\(name) '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            let text = try value(name)
            guard let number = Int(text), range.contains(number) else {
                throw UsageError(message: "\(name) '\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        /// Rejects an option that belongs to another mode, naming the mode.
        func only(_ modes: TCPMode..., name: String) throws(UsageError) {
            guard modes.contains(mode) else {
                throw UsageError(message: "\(name) is not an option of \(mode.rawValue)")
            }
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": options.help = true
            case "--mebibytes":
                try only(.tcpEcho, name: argument); options.mebibytes = try integer(argument, 1...16384)
                options.mebibytesGiven = true
            case "--chunk":
                try only(.tcpEcho, name: argument); options.chunk = try integer(argument, 1...1_048_576)
            case "--timeout":
                try only(.tcpEcho, name: argument); options.stallSeconds = try number(argument, 0.1...600)
            case "-d" where mode == .tcpEcho, "--duration" where mode == .tcpEcho:
                options.streamSeconds = try number(argument, 0.1...3600)
            case "-d" where mode == .udpFlood, "--duration" where mode == .udpFlood:
                options.duration = try number(argument, 0.1...3600)
            case "-d", "--duration":
                try only(.tcpConnect, .tcpRR, name: argument); options.duration = try number(argument, 0.1...600)
            case "-w", "--warmup":
                try only(.tcpConnect, .tcpRR, name: argument); options.warmup = try number(argument, 0...60)
            case "--connections":
                try only(.tcpRR, name: argument); options.connectionCount = try integer(argument, 1...1024)
            case "--size" where mode == .udpFlood:
                options.datagramSize = try integer(argument, 1...65507)
            case "--size":
                try only(.tcpRR, name: argument); options.requestSize = try integer(argument, Datagram.headerSize...65536)
            case "--window":
                try only(.tcpRR, name: argument); options.window = try integer(argument, 1...1024)
            case "--timeout-ms":
                try only(.tcpRR, name: argument); options.requestTimeoutMilliseconds = try integer(argument, 1...60000)
            case "-c" where mode == .tcpRR:
                options.connectionCount = try integer(argument, 1...1024)
            case "-c", "--concurrency":
                try only(.tcpConnect, name: argument); options.concurrency = try integer(argument, 1...256)
            case "--request":
                try only(.tcpConnect, name: argument); options.requestBytes = try integer(argument, 0...65536)
            case "--connect-timeout":
                try only(.tcpConnect, .tcpRR, name: argument); options.connectTimeoutMilliseconds = try integer(argument, 1...60000)
            case "--sources":
                try only(.synFlood, .tcpConnect, name: argument)
                let text = try value(argument)
                guard let range = addressRange(text) else {
                    throw UsageError(message: "--sources '\(text)' is not A.B.C.D-E.F.G.H (first <= last) or A.B.C.D/P (P 8...32)")
                }
                options.sources = range
                options.sourcesGiven = true
            case "--count":
                try only(.synFlood, .tcpGarbage, .udpFlood, name: argument); options.count = try integer(argument, 1...1_000_000_000)
                options.countGiven = true
            case "--rate":
                try only(.synFlood, .tcpGarbage, .tcpRR, .udpFlood, name: argument); options.rate = try integer(argument, 0...100_000_000)
            case "--seed":
                try only(.synFlood, .tcpGarbage, name: argument)
                let text = try value(argument)
                guard let seed = UInt64(text) else { throw UsageError(message: "--seed '\(text)' is not a whole number 0...\(UInt64.max)") }
                options.seed = seed
            case "--source":
                try only(.tcpGarbage, name: argument)
                let text = try value(argument)
                var address = in_addr()
                guard inet_pton(AF_INET, text, &address) == 1 else { throw UsageError(message: "--source '\(text)' is not an IPv4 address") }
                options.source = address
            case "--no-check":
                try only(.tcpGarbage, name: argument); options.check = false
            default:
                if argument.hasPrefix("-") && argument.count > 1 {
                    throw UsageError(message: "unknown option '\(argument)' for \(mode.rawValue)")
                }
                positional.append(argument)
            }
            index += 1
        }
        if options.help { return options }
        if options.mebibytesGiven && options.streamSeconds > 0 {
            throw UsageError(message: "--mebibytes and --duration both say how much to stream: give one")
        }
        guard positional.count == 1 else {
            throw UsageError(message: positional.isEmpty ? "no target address (HOST[:PORT]) given" : "give one target address (HOST[:PORT]), not \(positional.count)")
        }
        let defaultPort: UInt16 = (mode == .synFlood || mode == .tcpGarbage) ? 80 : 7
        let text = positional[0].contains(":") ? positional[0] : "\(positional[0]):\(defaultPort)"
        guard let target = Endpoint(text) else {
            throw UsageError(message: "'\(positional[0])' is not an IPv4 address with an optional :PORT")
        }
        options.target = target
        return options
    }

    /// "A.B.C.D-E.F.G.H" or "A.B.C.D/P" as host-order addresses (a prefix of 31 or less
    /// leaves out the network and broadcast addresses).
    static func addressRange(_ text: String) -> ClosedRange<UInt32>? {
        func address(_ part: Substring) -> UInt32? {
            var value = in_addr()
            guard inet_pton(AF_INET, String(part), &value) == 1 else { return nil }
            return UInt32(bigEndian: value.s_addr)
        }
        if let dash = text.firstIndex(of: "-") {
            guard let first = address(text[..<dash]), let last = address(text[text.index(after: dash)...]), first <= last else { return nil }
            return first...last
        }
        if let slash = text.firstIndex(of: "/") {
            guard let base = address(text[..<slash]), let prefix = Int(text[text.index(after: slash)...]),
                  prefix >= 8 && prefix <= 32 else { return nil }
            let mask: UInt32 = prefix == 32 ? .max : ~(UInt32.max >> UInt32(prefix))
            let network = base & mask
            if prefix >= 31 { return network...(network | ~mask) }
            return (network + 1)...((network | ~mask) - 1)
        }
        return address(Substring(text)).map { $0...$0 }
    }
}
