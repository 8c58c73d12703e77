/// What wrk printed for one HTTP run: its --latency report and the counts scripts/wrk-verify.lua adds in done().

/// One wrk run, read from its standard output.
///
/// wrk (4.x) prints, with `--latency`:
///
/// ```
///   Latency Distribution
///      50%    1.40ms
///      90%    2.00ms
///      99%    3.50ms
///   5200 requests in 2.00s, 5.00MB read
///   Socket errors: connect 0, read 1, write 0, timeout 2
///   Non-2xx or 3xx responses: 10
/// Requests/sec:   2600.00
/// ```
///
/// and scripts/wrk-verify.lua's `done()` one line of its own:
/// `wrk-verify: good=5190 wrong_status=10 wrong_length=0 connect=0 read=1 write=0 timeout=2 ...`.
/// The verify line is required: without it nothing says the answers were checked.
public struct WrkOutput: Equatable, Sendable {
    /// `Requests/sec:`: every response (right or wrong) over wrk's duration.
    public var requestsPerSecond: Double
    /// `N requests in Ds`: responses, and wrk's measured seconds.
    public var responses: Int
    public var seconds: Double
    /// The `--latency` percentiles in microseconds, by percent (50, 75, 90, 99).
    public var latencyPercentiles: [Int: Double]
    /// Responses with the expected status and body length (the Lua script's `good`).
    public var good: Int
    public var wrongStatus: Int
    public var wrongLength: Int
    /// wrk's socket errors.
    public var connectErrors: Int
    public var readErrors: Int
    public var writeErrors: Int
    public var timeouts: Int

    public init(requestsPerSecond: Double, responses: Int, seconds: Double, latencyPercentiles: [Int: Double], good: Int,
                wrongStatus: Int, wrongLength: Int, connectErrors: Int, readErrors: Int, writeErrors: Int, timeouts: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.responses = responses
        self.seconds = seconds
        self.latencyPercentiles = latencyPercentiles
        self.good = good
        self.wrongStatus = wrongStatus
        self.wrongLength = wrongLength
        self.connectErrors = connectErrors
        self.readErrors = readErrors
        self.writeErrors = writeErrors
        self.timeouts = timeouts
    }

    /// Why an output could not be read.
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads wrk's output. Throws when a part the run needs is missing (wrk failed to start,
    /// the script did not run).
    public static func parse(_ text: String) throws(Problem) -> WrkOutput {
        var rate: Double?
        var responses: Int?
        var seconds: Double?
        var percentiles: [Int: Double] = [:]
        var socket: [String: Int] = [:]
        var verify: [String: Int]?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingSpaces
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), words.count >= 2 {
                rate = Double(words[1])
            } else if words.count >= 4, words[1] == "requests", words[2] == "in", let count = Int(words[0]) {
                responses = count
                seconds = microseconds(String(words[3].trimmingCharacters(in: ","))).map { $0 / 1_000_000 }
            } else if words.count == 2, words[0].hasSuffix("%"), let percent = Int(words[0].dropLast()),
                      let value = microseconds(String(words[1])) {
                percentiles[percent] = value
            } else if line.hasPrefix("Socket errors:") {
                // "Socket errors: connect 0, read 1, write 0, timeout 2"
                let fields = line.dropFirst("Socket errors:".count).split(separator: ",")
                for field in fields {
                    let pair = field.split(separator: " ")
                    if pair.count == 2, let count = Int(pair[1]) { socket[String(pair[0])] = count }
                }
            } else if line.hasPrefix("wrk-verify:") {
                var fields: [String: Int] = [:]
                for word in words.dropFirst() {
                    let pair = word.split(separator: "=", maxSplits: 1)
                    if pair.count == 2, let value = Int(pair[1]) { fields[String(pair[0])] = value }
                }
                verify = fields
            }
        }
        guard let verify, let good = verify["good"], let wrongStatus = verify["wrong_status"],
              let wrongLength = verify["wrong_length"] else {
            throw Problem(description: "no 'wrk-verify:' line with good, wrong_status and wrong_length: was wrk run with -s scripts/wrk-verify.lua?")
        }
        guard let rate, let responses, let seconds else {
            throw Problem(description: "no 'Requests/sec:' or 'N requests in Ds' line in wrk's output")
        }
        // The script's socket counts are the same as wrk's line (which wrk leaves out when all are 0).
        func errors(_ name: String) -> Int { socket[name] ?? verify[name] ?? 0 }
        return WrkOutput(requestsPerSecond: rate, responses: responses, seconds: seconds, latencyPercentiles: percentiles,
                         good: good, wrongStatus: wrongStatus, wrongLength: wrongLength, connectErrors: errors("connect"),
                         readErrors: errors("read"), writeErrors: errors("write"), timeouts: errors("timeout"))
    }

    /// wrk's time (`130.00us`, `1.40ms`, `2.00s`, `1.00m`, `1.00h`) in microseconds.
    public static func microseconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("us", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let number = Double(text.dropLast(unit.count)) else { return nil }
            return number * scale
        }
        return nil
    }

    /// Failed requests by kind: a wrong length, a wrong status, wrk's timeouts, connects that
    /// failed; read and write errors (a reset mid-request) are `other`.
    public var errors: ErrorCounts {
        ErrorCounts(wrongLength: wrongLength, wrongStatus: wrongStatus, timeouts: timeouts, connectFailed: connectErrors,
                    other: readErrors + writeErrors)
    }

    /// The metrics of the run: the rate under `throughputName` (`requests_per_second`, or
    /// `connections_per_second` for one connection per request) and p50, p90 and p99 latency.
    public func metrics(throughputName: String, measurements: Set<Measurement>) -> [String: Double] {
        var metrics: [String: Double] = [:]
        if measurements.contains(.throughput) { metrics[throughputName] = requestsPerSecond }
        if measurements.contains(.latency) {
            if let p50 = latencyPercentiles[50] { metrics[MetricName.p50Microseconds] = p50 }
            if let p90 = latencyPercentiles[90] { metrics["p90_us"] = p90 }
            if let p99 = latencyPercentiles[99] { metrics[MetricName.p99Microseconds] = p99 }
        }
        return metrics
    }
}

extension Substring {
    /// Without the characters of `set` at either end.
    func trimmingCharacters(in set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
