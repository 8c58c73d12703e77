/// A load of an experiment: its kind, the parameters it sweeps, how answers are checked and what is measured.

/// One load applied to every target: its kind, its sweeps and how it is checked.
public struct Load: Equatable, Sendable {
    /// The name used in records, run keys and tables (`keepalive`).
    public var name: String
    /// What the load generator does.
    public var kind: LoadKind
    /// Every parameter the kind takes, with the values swept (one value when not swept). The
    /// kind's defaults fill the ones the file does not give.
    public var sweeps: [LoadParameter: [Int]]
    /// Seconds measured per run.
    public var duration: Double
    /// Seconds of load before the measurement starts, not counted.
    public var warmup: Double
    /// The destination port (the kind's default when the file gives none).
    public var port: Int
    /// HTTP only: the path requested.
    public var path: String
    /// HTTP only: the status every answer must have.
    public var expectedStatus: Int
    /// HTTP only: the body length every answer must have.
    public var expectedLength: ExpectedLength
    /// What to record beside the load's own counts.
    public var measurements: Set<Measurement>
    /// Boot options added to every Swiglet target's for this load (`run=udp-echo@1`: with 2 CPUs
    /// the one application CPU runs `http` by default). Linux targets have none.
    public var swigletBootOptions: String

    public init(name: String, kind: LoadKind, sweeps: [LoadParameter: [Int]] = [:], duration: Double = 10,
                warmup: Double = 2, port: Int? = nil, path: String = "/", expectedStatus: Int = 200,
                expectedLength: ExpectedLength = .learned, measurements: Set<Measurement> = Measurement.defaults,
                swigletBootOptions: String = "") {
        self.name = name
        self.kind = kind
        var filled = sweeps
        for parameter in kind.parameters where filled[parameter] == nil {
            filled[parameter] = [kind.defaultValue(of: parameter)]
        }
        self.sweeps = filled
        self.duration = duration
        self.warmup = warmup
        self.port = port ?? kind.defaultPort
        self.path = path
        self.expectedStatus = expectedStatus
        self.expectedLength = expectedLength
        self.measurements = measurements
        self.swigletBootOptions = swigletBootOptions
    }
}

/// What the load generator does, and so which parameters it takes.
public enum LoadKind: String, Equatable, Sendable, CaseIterable {
    /// UDP datagrams echoed, every reply checked byte for byte.
    case udpEcho = "udp-echo"
    /// TCP echo of `size`-byte messages over `connections` connections, checked.
    case tcpEcho = "tcp-echo"
    /// HTTP/1.1 GETs over kept-alive connections.
    case httpKeepAlive = "http-keepalive"
    /// HTTP/1.1 GETs, one connection per request (connections per second).
    case httpClose = "http-close"
    /// Streaming: each of `connections` connections sends `size`-byte writes to the echo port as
    /// fast as it can and checks every byte that comes back (bytes per second).
    case tcpBulk = "tcp-bulk"

    /// The sweepable parameters this kind takes, in the order they appear in keys and tables.
    public var parameters: [LoadParameter] {
        switch self {
        case .udpEcho: [.size, .window, .rate]
        case .tcpEcho: [.connections, .size, .window, .rate]
        case .httpKeepAlive, .httpClose: [.connections, .rate]
        case .tcpBulk: [.connections, .size]
        }
    }

    /// Whether it speaks HTTP (and so takes `path`, `expected-status` and `expected-length`).
    public var isHTTP: Bool { self == .httpKeepAlive || self == .httpClose }

    /// The value of `parameter` when the file gives none.
    public func defaultValue(of parameter: LoadParameter) -> Int {
        switch parameter {
        case .connections: isHTTP ? 16 : 1
        case .size: self == .tcpBulk ? 65536 : 64
        case .window: 1
        case .rate: 0
        }
    }

    /// The port the Swiglet and Linux guests serve this kind on.
    public var defaultPort: Int { isHTTP ? 80 : 7 }
}

/// A sweepable load parameter.
public enum LoadParameter: String, Equatable, Hashable, Sendable, CaseIterable, Comparable {
    /// Concurrent connections.
    case connections
    /// Bytes per request (UDP and TCP echo) or per write (bulk).
    case size
    /// Requests outstanding at once (per connection for TCP echo).
    case window
    /// Offered requests per second; 0 = as fast as answers come.
    case rate

    public static func < (left: LoadParameter, right: LoadParameter) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}

/// The body length an HTTP load checks.
public enum ExpectedLength: Equatable, Sendable {
    /// No check (`expected-length = any`: for pages whose length changes, such as /metrics).
    case any
    /// Exactly this many bytes.
    case bytes(Int)
    /// Learned from one request before the load starts, then checked (`auto`, the default:
    /// every answer is verified unless the file says otherwise).
    case learned
}

/// What a run records beside requests and errors.
public enum Measurement: String, Equatable, Hashable, Sendable, CaseIterable, Comparable {
    /// Requests (or bytes) per second.
    case throughput
    /// Latency percentiles.
    case latency
    /// Per CPU, the share of time left to the application (the intrusion meter).
    case cpuShare = "cpu-share"
    /// Per CPU, interrupts and IPIs per second.
    case interrupts
    /// Per CPU, system calls per second.
    case syscalls
    /// The host's CPU: each QEMU vCPU thread, its I/O thread, the rest of the host
    /// (`HostCPUUsage`), read from the host's /proc: whether the host was the bound.
    case hostCPU = "host-cpu"

    /// What a load measures when neither it nor the file says.
    public static let defaults: Set<Measurement> = [.throughput, .latency]

    public static func < (left: Measurement, right: Measurement) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}
