/// Tests of reading the load generators' outputs: wrk with scripts/wrk-verify.lua, swiglet-bench's UDP results file and tcp-echo line (golden texts from real runs).
import ExperimentKit
import XCTest

final class LabOutputParsingTests: XCTestCase {
    /// wrk 4.1 against Swiglet (make experiment NAME=smoke), every answer right.
    private let goodWrk = """
        Running 2s test @ http://10.0.2.15/index.html
          2 threads and 4 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency   626.37us  691.47us   8.19ms   89.40%
            Req/Sec     4.27k     0.95k    6.93k    85.71%
          Latency Distribution
             50%  415.00us
             75%  484.00us
             90%    1.39ms
             99%    3.65ms
          17829 requests in 2.10s, 10.90MB read
        Requests/sec:   8491.61
        Transfer/sec:      5.19MB
        wrk-verify: good=17829 wrong_status=0 wrong_length=0 responses=17829 connect=0 read=0 write=0 timeout=0 non_2xx_3xx=0 expected_status=200 expected_length=544

        """

    func testWrkReportWithEveryAnswerRight() throws {
        let output = try WrkOutput.parse(goodWrk)
        XCTAssertEqual(output.requestsPerSecond, 8491.61)
        XCTAssertEqual(output.responses, 17829)
        XCTAssertEqual(output.seconds, 2.1, accuracy: 1e-9)
        XCTAssertEqual(output.latencyPercentiles[50], 415)
        XCTAssertEqual(output.latencyPercentiles[90]!, 1390, accuracy: 1e-9)
        XCTAssertEqual(output.latencyPercentiles[99]!, 3650, accuracy: 1e-9)
        XCTAssertEqual(output.good, 17829)
        XCTAssertEqual(output.errors, ErrorCounts())
        let metrics = output.metrics(throughputName: MetricName.requestsPerSecond, measurements: [.throughput, .latency])
        XCTAssertEqual(Set(metrics.keys), ["requests_per_second", "p50_us", "p90_us", "p99_us"])
        XCTAssertEqual(metrics["p99_us"]!, 3650, accuracy: 1e-9)
        // Only what the load measures.
        XCTAssertEqual(Array(output.metrics(throughputName: MetricName.connectionsPerSecond, measurements: [.throughput]).keys),
                       ["connections_per_second"])
    }

    func testWrkErrorsAreCountedByKind() throws {
        let text = goodWrk
            .replacingOccurrences(of: "  17829 requests in 2.10s, 10.90MB read",
                                  with: "  17829 requests in 2.10s, 10.90MB read\n  Socket errors: connect 3, read 4, write 5, timeout 6")
            .replacingOccurrences(of: "good=17829 wrong_status=0 wrong_length=0", with: "good=17000 wrong_status=29 wrong_length=800")
        let output = try WrkOutput.parse(text)
        XCTAssertEqual(output.good, 17000)
        XCTAssertEqual(output.errors, ErrorCounts(wrongLength: 800, wrongStatus: 29, timeouts: 6, connectFailed: 3, other: 9))
    }

    /// Without the script's line nothing says the answers were checked: refused, not read as ok.
    func testWrkWithoutTheVerifyLineIsRefused() {
        let unverified = goodWrk.split(separator: "\n").filter { !$0.hasPrefix("wrk-verify") }.joined(separator: "\n")
        XCTAssertThrowsError(try WrkOutput.parse(unverified)) { error in
            XCTAssertTrue("\(error)".contains("wrk-verify"), "\(error)")
        }
        XCTAssertThrowsError(try WrkOutput.parse("unable to connect to 10.0.2.15:80 Connection refused\n"))
    }

    func testWrkTimeUnits() {
        XCTAssertEqual(WrkOutput.microseconds("130.00us"), 130)
        XCTAssertEqual(WrkOutput.microseconds("3.02ms"), 3020)
        XCTAssertEqual(WrkOutput.microseconds("1.10s"), 1_100_000)
        XCTAssertEqual(WrkOutput.microseconds("1.00m"), 60_000_000)
        XCTAssertNil(WrkOutput.microseconds("fast"))
        XCTAssertNil(WrkOutput.microseconds("12"))
    }

    /// swiglet-bench --save against Swiglet's udp-echo program.
    private let savedUDP = """
        # swiglet-bench results v1
        label=dedicated target=10.0.2.15:7 duration=2.0 warmup=0.0 timeout_ms=250
        size=64 window=1 seconds=2.0 rps=3011.5 p50_us=75.804 p99_us=4676.501 sent=6024 replies=6023 lost=0 late=0 mismatched=0 refused=0 unexpected=0 client_cpu_pct=1.9781
        size=64 window=32 seconds=2.0 rps=9000.0 p50_us=300.0 p99_us=900.0 sent=18100 replies=18000 lost=70 late=2 mismatched=5 refused=1 unexpected=3 client_cpu_pct=30

        """

    func testUDPEchoResultsFile() throws {
        let one = try XCTUnwrap(UDPEchoMeasurement.parse(savedResults: savedUDP, size: 64, window: 1))
        XCTAssertEqual(one.requestsPerSecond, 3011.5)
        XCTAssertEqual(one.replies, 6023)
        XCTAssertEqual(one.errors, ErrorCounts())
        XCTAssertEqual(one.metrics(measurements: [.throughput, .latency]),
                       ["requests_per_second": 3011.5, "p50_us": 75.804, "p99_us": 4676.501])
        // Mismatched replies are errors (wrong bytes), lost ones timeouts; late ones are among the lost.
        let window = try XCTUnwrap(UDPEchoMeasurement.parse(savedResults: savedUDP, size: 64, window: 32))
        XCTAssertEqual(window.errors, ErrorCounts(wrongLength: 5, timeouts: 70, connectFailed: 1, other: 3))
        XCTAssertNil(UDPEchoMeasurement.parse(savedResults: savedUDP, size: 1024, window: 1))
        XCTAssertNil(UDPEchoMeasurement.parse(savedResults: "", size: 64, window: 1))
    }

    func testUDPEchoWithoutRepliesHasNoLatency() throws {
        let text = "size=64 window=1 seconds=2.0 rps=0 p50_us=0 p99_us=0 sent=10 replies=0 lost=10 late=0 mismatched=0 refused=0 unexpected=0"
        let measurement = try XCTUnwrap(UDPEchoMeasurement.parse(savedResults: text, size: 64, window: 1))
        XCTAssertEqual(measurement.metrics(measurements: [.throughput, .latency]), ["requests_per_second": 0])
    }

    func testTCPEchoStream() {
        let output = """
            tcp-echo: 4 MiB echoed by 10.0.2.15:7 in 0.4 s: 9.8 MiB/s (every byte verified)
            result: mode=tcp-echo bytes=4194304 seconds=0.408 mib_per_s=9.8 hash=0x1234
            """
        XCTAssertEqual(TCPEchoStream.parse(output), TCPEchoStream(bytes: 4_194_304, seconds: 0.408))
        XCTAssertNil(TCPEchoStream.parse("swiglet-bench: echoed byte 17 differs from the byte sent"))
        XCTAssertEqual(TCPEchoStream.failureKind("swiglet-bench: echoed byte 17 differs from the byte sent"), .wrongBytes)
        XCTAssertEqual(TCPEchoStream.failureKind("swiglet-bench: connect to 10.0.2.15:7: Connection refused"), .connectFailed)
        XCTAssertEqual(TCPEchoStream.failureKind("swiglet-bench: no progress for 10 s: sent 5, echoed 0 of 9 bytes"), .timeout)
        XCTAssertEqual(TCPEchoStream.failureKind("swiglet-bench: recv after 5 bytes: Connection reset by peer"), .other)
    }

    /// swiglet-bench tcp-rr's result line: its counts map onto the error kinds, and a run with
    /// no answer reports no latency.
    func testTCPRequestMeasurement() throws {
        let output = """
            swiglet-bench: tcp-rr: connect to 10.0.2.15:7: Connection refused
            tcp-rr: 4 connections to 10.0.2.15:7, 64 B, window 1, 2,000 req/s offered: 1,998 answers/s verified, p50 197.5 µs, p99 3101.2 µs, 9 failed
            result: mode=tcp-rr connections=4 size=64 window=1 offered_rps=2000.0 seconds=2.000 requests=3996 rps=1998.0 p50_us=197.5 p99_us=3101.2 issued=4000 mismatched=2 timeouts=3 closed=1 connect_failed=3 client_cpu_pct=12.6
            """
        let measurement = try XCTUnwrap(TCPRequestMeasurement.parse(output))
        XCTAssertEqual(measurement, TCPRequestMeasurement(seconds: 2, requests: 3996, requestsPerSecond: 1998, p50Microseconds: 197.5,
                                                          p99Microseconds: 3101.2, mismatched: 2, timeouts: 3, closed: 1, connectFailed: 3))
        XCTAssertEqual(measurement.errors, ErrorCounts(wrongLength: 2, timeouts: 3, connectFailed: 3, other: 1))
        XCTAssertEqual(measurement.metrics(measurements: [.throughput, .latency]),
                       [MetricName.requestsPerSecond: 1998, MetricName.p50Microseconds: 197.5, MetricName.p99Microseconds: 3101.2])
        var silent = measurement
        silent.requests = 0
        XCTAssertNil(silent.metrics(measurements: [.latency])[MetricName.p50Microseconds])
        XCTAssertNil(TCPRequestMeasurement.parse("swiglet-bench: tcp-rr: connect to 10.0.2.15:7: Connection refused"))
        XCTAssertNil(TCPRequestMeasurement.parse("result: mode=tcp-rr seconds=2.0 requests=5"), "an incomplete line is no measurement")
    }
}
