/// A sleeping program is woken for every completion: under a steady load on one connection the HTTP program's waits never end by their timeout.

import Foundation
import XCTest

final class WakeUpTests: XCTestCase {
    /// One keep-alive connection, one request at a time, for 5 s: the HTTP program sleeps
    /// between requests (its CPU is shared with the two other default programs), and each
    /// answer's completion must wake it. A wake-up lost to the race between the program's last
    /// look at its ring and its sleep shows as a `wait` that ends by its 100 ms timeout, which
    /// the kernel counts (`swiglet_program_wait_timeouts_total`) — not the program.
    func testALoneConnectionNeverWaitsForTheTimeout() throws {
        let wrk = try requireTool("wrk")
        let ports = QEMUMachine.freePorts(2)
        let httpPort = ports[1]
        try QEMUMachine.withMetrics(cpus: 2, commandLine: nil, metricsPort: ports[0], extra: ["tcp:127.0.0.1:\(httpPort)-:80"]) { _, metricsPort in
            func timeouts() throws -> Double {
                let (response, metrics) = try Metrics.fetch(host: "127.0.0.1", port: metricsPort)
                XCTAssertEqual(response.status, 200)
                return metrics.sum("swiglet_program_wait_timeouts_total", matching: ["program=\"http\""])
            }
            let before = try timeouts()
            let (status, output) = try runTool(wrk, ["-t1", "-c1", "-d5s", "--timeout", "5s",
                                                     "http://127.0.0.1:\(httpPort)/index.html"], timeout: 60)
            print("wrk:\n\(output)")
            XCTAssertEqual(status, 0)
            XCTAssertFalse(output.contains("Socket errors"), output)
            let requests = output.split(separator: "\n").first { $0.contains("requests in") }
                .flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
            XCTAssertGreaterThan(requests, 500, "the load ran")
            let after = try timeouts()
            // A host that stalls the client for more than 100 ms could cause one honestly; the
            // lost wake-up caused dozens in 5 s.
            XCTAssertLessThanOrEqual(after - before, 1, "the HTTP program slept through completions \(Int(after - before)) times")
        }
    }
}
