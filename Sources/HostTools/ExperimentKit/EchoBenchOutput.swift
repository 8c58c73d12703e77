/// What swiglet-bench wrote for one run: a UDP echo measurement (its --save file), a tcp-echo stream or a tcp-rr measurement (their result lines).

/// One UDP echo measurement, a line of the file `swiglet-bench --save` writes
/// (`size=64 window=1 seconds=2.0 rps=2336.3 p50_us=208.7 p99_us=912.0 sent=4673 replies=4673
/// lost=0 late=0 mismatched=0 refused=0 unexpected=0 client_cpu_pct=12.5`).
public struct UDPEchoMeasurement: Equatable, Sendable {
    public var size: Int
    public var window: Int
    public var seconds: Double
    /// Verified replies per second.
    public var requestsPerSecond: Double
    public var p50Microseconds: Double
    public var p99Microseconds: Double
    public var sent: Int
    /// Replies that matched their request byte for byte, received during the measurement.
    public var replies: Int
    /// Requests unanswered within the loss timeout.
    public var lost: Int
    /// Replies that came after their request was counted lost (already counted in `lost`).
    public var late: Int
    /// Replies that differ from the request they answer.
    public var mismatched: Int
    /// ICMP port-unreachable errors.
    public var refused: Int
    /// Replies to no request sent.
    public var unexpected: Int

    public init(size: Int, window: Int, seconds: Double, requestsPerSecond: Double, p50Microseconds: Double,
                p99Microseconds: Double, sent: Int, replies: Int, lost: Int, late: Int, mismatched: Int, refused: Int,
                unexpected: Int) {
        self.size = size
        self.window = window
        self.seconds = seconds
        self.requestsPerSecond = requestsPerSecond
        self.p50Microseconds = p50Microseconds
        self.p99Microseconds = p99Microseconds
        self.sent = sent
        self.replies = replies
        self.lost = lost
        self.late = late
        self.mismatched = mismatched
        self.refused = refused
        self.unexpected = unexpected
    }

    /// The measurement of `size` and `window` in a --save file's text, nil when it has none.
    public static func parse(savedResults text: String, size: Int, window: Int) -> UDPEchoMeasurement? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("size=") {
            let fields = keyValues(line)
            guard Int(fields["size"] ?? "") == size, Int(fields["window"] ?? "") == window,
                  let seconds = Double(fields["seconds"] ?? ""), let rate = Double(fields["rps"] ?? ""),
                  let replies = Int(fields["replies"] ?? "") else { continue }
            func count(_ name: String) -> Int { Int(fields[name] ?? "") ?? 0 }
            return UDPEchoMeasurement(size: size, window: window, seconds: seconds, requestsPerSecond: rate,
                                      p50Microseconds: Double(fields["p50_us"] ?? "") ?? 0,
                                      p99Microseconds: Double(fields["p99_us"] ?? "") ?? 0, sent: count("sent"),
                                      replies: replies, lost: count("lost"), late: count("late"),
                                      mismatched: count("mismatched"), refused: count("refused"),
                                      unexpected: count("unexpected"))
        }
        return nil
    }

    /// Failed requests by kind: lost → timeout, mismatched → wrong length (wrong bytes),
    /// refused → connect failed, unexpected → other. Late replies are not counted again: their
    /// requests are among the lost.
    public var errors: ErrorCounts {
        ErrorCounts(wrongLength: mismatched, timeouts: lost, connectFailed: refused, other: unexpected)
    }

    /// The run's metrics: round trips per second and p50/p99 latency. With no reply there is no
    /// latency to report.
    public func metrics(measurements: Set<Measurement>) -> [String: Double] {
        echoMetrics(rate: requestsPerSecond, p50: p50Microseconds, p99: p99Microseconds, answered: replies,
                    measurements: measurements)
    }
}

/// One `swiglet-bench tcp-echo` stream: `result: mode=tcp-echo bytes=B seconds=S mib_per_s=R hash=H`.
public struct TCPEchoStream: Equatable, Sendable {
    /// Bytes echoed and verified.
    public var bytes: Int
    /// From the connect to the last echoed byte.
    public var seconds: Double

    public init(bytes: Int, seconds: Double) {
        self.bytes = bytes
        self.seconds = seconds
    }

    /// The stream of swiglet-bench's output, nil without a result line (the stream failed).
    public static func parse(_ output: String) -> TCPEchoStream? {
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("result: mode=tcp-echo ") {
            let fields = keyValues(line)
            guard let bytes = Int(fields["bytes"] ?? ""), let seconds = Double(fields["seconds"] ?? "") else { continue }
            return TCPEchoStream(bytes: bytes, seconds: seconds)
        }
        return nil
    }

    /// Which kind of error a failed stream counts as, from swiglet-bench's message: a connect
    /// that failed, a byte or hash that differed (wrong bytes count as a wrong length), no
    /// progress (timeout), anything else.
    public static func failureKind(_ output: String) -> FailureKind {
        if output.contains("connect to") { return .connectFailed }
        if output.contains("differs") || output.contains("outstanding") { return .wrongBytes }
        if output.contains("no progress") { return .timeout }
        return .other
    }

    /// See `failureKind`.
    public enum FailureKind: Equatable, Sendable {
        case connectFailed, wrongBytes, timeout, other
    }
}

/// One `swiglet-bench tcp-rr` measurement: request and answer over several connections
/// (`result: mode=tcp-rr connections=4 size=64 window=1 offered_rps=0.0 seconds=2.000
/// requests=95903 rps=47951.5 p50_us=65.3 p99_us=354.9 issued=97134 mismatched=0 timeouts=0
/// closed=0 connect_failed=0 client_cpu_pct=83.2`).
public struct TCPRequestMeasurement: Equatable, Sendable {
    public var seconds: Double
    /// Answers received during the measurement, every byte verified.
    public var requests: Int
    public var requestsPerSecond: Double
    public var p50Microseconds: Double
    public var p99Microseconds: Double
    /// Requests due during the measurement whose answer had a wrong byte.
    public var mismatched: Int
    /// ... unanswered within the timeout.
    public var timeouts: Int
    /// ... lost when the server closed or reset their connection.
    public var closed: Int
    /// Connects that failed during the measurement.
    public var connectFailed: Int

    public init(seconds: Double, requests: Int, requestsPerSecond: Double, p50Microseconds: Double,
                p99Microseconds: Double, mismatched: Int, timeouts: Int, closed: Int, connectFailed: Int) {
        self.seconds = seconds
        self.requests = requests
        self.requestsPerSecond = requestsPerSecond
        self.p50Microseconds = p50Microseconds
        self.p99Microseconds = p99Microseconds
        self.mismatched = mismatched
        self.timeouts = timeouts
        self.closed = closed
        self.connectFailed = connectFailed
    }

    /// The measurement in swiglet-bench's output, nil without a complete result line.
    public static func parse(_ output: String) -> TCPRequestMeasurement? {
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("result: mode=tcp-rr ") {
            let fields = keyValues(line)
            guard let seconds = Double(fields["seconds"] ?? ""), let requests = Int(fields["requests"] ?? ""),
                  let rate = Double(fields["rps"] ?? ""), let mismatched = Int(fields["mismatched"] ?? ""),
                  let timeouts = Int(fields["timeouts"] ?? ""), let closed = Int(fields["closed"] ?? ""),
                  let connectFailed = Int(fields["connect_failed"] ?? "") else { continue }
            return TCPRequestMeasurement(seconds: seconds, requests: requests, requestsPerSecond: rate,
                                         p50Microseconds: Double(fields["p50_us"] ?? "") ?? 0,
                                         p99Microseconds: Double(fields["p99_us"] ?? "") ?? 0, mismatched: mismatched,
                                         timeouts: timeouts, closed: closed, connectFailed: connectFailed)
        }
        return nil
    }

    /// Failed requests by kind: a wrong byte → wrong length, unanswered → timeout, a failed
    /// connect → connect failed, a connection the server closed → other.
    public var errors: ErrorCounts {
        ErrorCounts(wrongLength: mismatched, timeouts: timeouts, connectFailed: connectFailed, other: closed)
    }

    /// The run's metrics: verified answers per second and p50/p99 latency (none without an answer).
    public func metrics(measurements: Set<Measurement>) -> [String: Double] {
        echoMetrics(rate: requestsPerSecond, p50: p50Microseconds, p99: p99Microseconds, answered: requests,
                    measurements: measurements)
    }
}

/// An echo run's metrics: answers per second, and p50/p99 latency when anything was answered
/// (with no answer there is no latency to report).
func echoMetrics(rate: Double, p50: Double, p99: Double, answered: Int, measurements: Set<Measurement>) -> [String: Double] {
    var metrics: [String: Double] = [:]
    if measurements.contains(.throughput) { metrics[MetricName.requestsPerSecond] = rate }
    if measurements.contains(.latency), answered > 0 {
        metrics[MetricName.p50Microseconds] = p50
        metrics[MetricName.p99Microseconds] = p99
    }
    return metrics
}

/// `a=1 b=2` (words of `key=value`) as a dictionary.
func keyValues(_ line: Substring) -> [String: String] {
    var fields: [String: String] = [:]
    for word in line.split(separator: " ") {
        let pair = word.split(separator: "=", maxSplits: 1)
        if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
    }
    return fields
}
