/// QEMU tests of several programs per CPU: fair shares, sleeping programs that cost nothing, a fault that stops one program of a shared CPU, and all three servers on two CPUs — read from the kernel's own per-program accounts in /metrics.
import Foundation
import XCTest

final class SchedulingTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    private func withMachine(cpus: Int, commandLine: String?, metricsPort: UInt16 = QEMUMachine.freePort(),
                             extra: [String] = [], _ body: (RunningMachine, UInt16) throws -> Void) throws {
        try QEMUMachine.withMetrics(cpus: cpus, commandLine: commandLine, metricsPort: metricsPort, extra: extra, timeout: 120, body)
    }

    /// Each live program's CPU seconds (`swiglet_program_cpu_seconds_total`), by `name#id`.
    private func programSeconds(_ port: UInt16) throws -> [String: Double] {
        let (_, metrics) = try Metrics.fetch(host: "127.0.0.1", port: port)
        var result: [String: Double] = [:]
        for line in metrics.text.split(separator: "\n") where line.hasPrefix("swiglet_program_cpu_seconds_total{") {
            let labels = line.split(separator: "{")[1].split(separator: "}")[0]
            var program = "", id = ""
            for pair in labels.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                if parts[0] == "program" { program = parts[1] }
                if parts[0] == "id" { id = parts[1] }
            }
            result["\(program)#\(id)"] = Double(line.split(separator: " ").last!)
        }
        return result
    }

    /// The CPU time each program got between two readings `seconds` apart.
    private func shares(_ port: UInt16, over seconds: TimeInterval) throws -> [String: Double] {
        let before = try programSeconds(port)
        Thread.sleep(forTimeInterval: seconds)
        let after = try programSeconds(port)
        return after.reduce(into: [:]) { result, entry in result[entry.key] = entry.value - (before[entry.key] ?? 0) }
    }

    func testTwoSpinnersShareOneCPUEvenly() throws {
        try withMachine(cpus: 2, commandLine: "run=spinner@1 run=spinner@1") { running, port in
            try running.waitFor("spinner: started", timeout: 60)
            Thread.sleep(forTimeInterval: 1)
            let deltas = try shares(port, over: 5)
            let spinners = deltas.filter { $0.key.hasPrefix("spinner#") }
            XCTAssertEqual(spinners.count, 2, "\(deltas)\n\(running.console)")
            let total = spinners.values.reduce(0, +)
            XCTAssertGreaterThan(total, 2.5, "the two spinners kept their CPU busy: \(deltas)")
            for (name, seconds) in spinners {
                XCTAssertEqual(seconds / total, 0.5, accuracy: 0.05, "\(name) got \(seconds) s of \(total) s: \(deltas)")
            }
            // Preempted by the timer, each many times a second (10 ms slices).
            let (_, metrics) = try Metrics.fetch(host: "127.0.0.1", port: port)
            XCTAssertGreaterThan(metrics.sum("swiglet_program_preemptions_total"), 100, metrics.text)
        }
    }

    /// A program asleep in `wait` (UDP echo with nothing to echo) takes nothing from the
    /// spinner beside it.
    func testASleepingProgramCostsItsCPUNothing() throws {
        try withMachine(cpus: 2, commandLine: "run=udp-echo@1 run=spinner@1") { running, port in
            try running.waitFor("spinner: started", timeout: 60)
            try running.waitFor("udp-echo: ", timeout: 30)
            Thread.sleep(forTimeInterval: 1)
            let deltas = try shares(port, over: 5)
            let spinner = try XCTUnwrap(deltas.first { $0.key.hasPrefix("spinner#") }?.value, "\(deltas)")
            let echo = try XCTUnwrap(deltas.first { $0.key.hasPrefix("udp-echo#") }?.value, "\(deltas)")
            XCTAssertLessThan(echo, 0.05 * (spinner + echo), "the sleeping echo program used CPU: \(deltas)")
            XCTAssertGreaterThan(spinner, 3.5, "the spinner had (nearly) the whole CPU: \(deltas)")
        }
    }

    /// A faulting program on a shared CPU is stopped alone; the spinner beside it goes on.
    func testAFaultStopsOnlyTheFaultingProgramOfASharedCPU() throws {
        try withMachine(cpus: 2, commandLine: "run=spinner@1 run=faulty@1") { running, port in
            try running.waitFor("program faulty faulted", timeout: 60)
            try running.waitFor("spinner: ", timeout: 30)
            let deltas = try shares(port, over: 3)
            XCTAssertNil(deltas.keys.first { $0.hasPrefix("faulty#") }, "the faulted program is gone: \(deltas)")
            let spinner = try XCTUnwrap(deltas.first { $0.key.hasPrefix("spinner#") }?.value, "\(deltas)")
            XCTAssertGreaterThan(spinner, 2, "the spinner kept its CPU: \(deltas)\n\(running.console)")
            XCTAssertFalse(running.console.contains("cpu1: stopped"), running.console)
        }
    }

    /// With two CPUs (one for the network core, one for programs) the default image runs
    /// HTTP, TCP echo and UDP echo together on cpu1, and all three answer.
    func testAllThreeServersAnswerWithTwoCPUs() throws {
        let ports = QEMUMachine.freePorts(3)   // distinct: HTTP, TCP echo, metrics
        let udp = QEMUMachine.freePort(udp: true)
        let forwards = ["tcp:127.0.0.1:\(ports[0])-:80", "tcp:127.0.0.1:\(ports[1])-:7", "udp:127.0.0.1:\(udp)-:7"]
        try withMachine(cpus: 2, commandLine: nil, metricsPort: ports[2], extra: forwards) { running, port in
            try running.waitFor("http: serving HTTP on port 80", timeout: 60)
            try running.waitFor("tcp-echo: serving TCP echo on port 7", timeout: 30)
            try running.waitFor("udp-echo: ", timeout: 30)
            XCTAssertFalse(running.console.contains("no application CPU left"), running.console)
            for _ in 0..<3 {
                let client = try TCPClient(host: "127.0.0.1", port: ports[0])
                try client.send("GET / HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                let reply = String(decoding: client.receiveUntilClosed().bytes, as: UTF8.self)
                XCTAssertTrue(reply.hasPrefix("HTTP/1.1 200"), reply)
                let echo = try TCPClient(host: "127.0.0.1", port: ports[1])
                let payload = Array("scheduled together".utf8)
                XCTAssertEqual(try echo.echo(payload), payload)
                let failures = try UDPEchoClient.check(host: "127.0.0.1", port: udp, sizes: [1, 100, 1400], tries: 1)
                XCTAssertEqual(failures.map(\.description), [])
            }
            // The kernel's accounts show all three on cpu1, each having run.
            let (_, metrics) = try Metrics.fetch(host: "127.0.0.1", port: port)
            for name in ["http", "tcp-echo", "udp-echo"] {
                let switches = metrics.values("swiglet_program_switches_total", matching: ["program=\"\(name)\"", "cpu=\"1\""])
                XCTAssertEqual(switches.count, 1, "\(name): \(metrics.text)")
                XCTAssertGreaterThan(switches.values.first ?? 0, 0, name)
            }
        }
    }
}
