/// QEMU test of TCP at scale: 10,000 HTTP keep-alive connections held at once by a guest with 256 MiB, every one served twice, a fresh one answered meanwhile, and the kernel's counters showing that idle connections hold no buffer memory. Needs root (a tap in a namespace).
import Foundation
import XCTest

final class ConnectionScaleTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// scripts/hold-connections.py opens 10,000 connections (one verified GET each), holds
    /// them idle, asks a fresh connection for a page and reads /metrics meanwhile, then makes a
    /// second verified GET on every one. The guest's own counters must show all 10,000
    /// ESTABLISHED at once with (almost) no buffer memory held, and no refused buffer growth.
    func testTenThousandIdleKeepAliveConnectionsAreHeldAndServed() throws {
        let space = try NetworkNamespace(tag: "c10k")
        defer { space.delete() }
        var machine = QEMUMachine(cpus: 2, commandLine: "run=http@1", timeout: 900)
        machine.memory = "256M"
        machine.network = .tap(name: "tap0")
        machine.namespace = space.name
        let script = QEMUMachine.packageRoot.appendingPathComponent("scripts/hold-connections.py").path
        try machine.whileRunning { running in
            try running.waitFor("http: serving HTTP on port 80", timeout: 120)
            try space.configure(tap: "tap0")
            let output: String
            do {
                output = try space.exec(["python3", script, "--host", "10.0.2.15", "--connections", "10000",
                                         "--hold", "4", "--metrics-port", "9090", "--timeout", "60"])
            } catch {
                XCTFail("hold-connections failed: \(error)\n\(running.console.suffix(4000))")
                return
            }
            let line = try XCTUnwrap(output.split(separator: "\n").last(where: { $0.hasPrefix("{") }), output)
            print("hold-connections: \(line)")
            let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], output)
            XCTAssertEqual(result["held"] as? Int, 10_000, output)
            XCTAssertEqual(result["served_again"] as? Int, 10_000, output)
            XCTAssertEqual(result["fresh_answered"] as? Bool, true, output)
            XCTAssertEqual((result["errors"] as? [String: Any])?.count, 0, output)
            // The kernel's counters, read while all were held.
            let metrics = try XCTUnwrap(result["metrics"] as? [String: Double], output)
            let established = try XCTUnwrap(metrics["swiglet_tcp_connections{state=\"ESTABLISHED\"}"], output)
            XCTAssertGreaterThanOrEqual(established, 10_000, "all held at once, by the guest's count")
            let used = try XCTUnwrap(metrics["swiglet_tcp_buffer_bytes{state=\"used\"}"], output)
            XCTAssertLessThan(used, Double(1 << 20), "10,000 idle connections hold (almost) no buffer memory")
            XCTAssertEqual(metrics["swiglet_tcp_events_total{event=\"buffer_refused\"}"], 0, output)
        }
    }
}
