/// QEMU tests of the console shell: every command and its errors, run and kill 200 times with the kernel's free-frame count back where it started, and a killed program's TCP connections reset.
import Foundation
import XCTest

final class ConsoleShellTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    private func withMachine(cpus: Int = 2, commandLine: String?, ports: [UInt16] = QEMUMachine.freePorts(1),
                             extra: [String] = [], _ body: (RunningMachine, UInt16) throws -> Void) throws {
        try QEMUMachine.withMetrics(cpus: cpus, commandLine: commandLine, metricsPort: ports[0], extra: extra, body)
    }

    func testCommandsAndTheirErrors() throws {
        try withMachine(commandLine: "run=spinner@1") { running, _ in
            try running.waitFor("spinner: started", timeout: 60)
            running.type("help\r")
            try running.waitFor("kill ID         stop program ID", timeout: 10)
            running.type("ps\r")
            try running.waitFor("id name                cpu state", timeout: 10)
            XCTAssertTrue(running.console.contains("  0 spinner               1 running"), running.console)
            running.type("meter\r")
            try running.waitFor("program spinner (id 0, cpu1): cpu-ms", timeout: 10)
            running.type("net\r")
            try running.waitFor("net counters at", timeout: 10)
            // Bad input: each gets a message naming what is wrong, and nothing else happens.
            for (line, answer) in [("frobnicate", "error: unknown command 'frobnicate' (try help)"),
                                   ("kill", "error: usage: kill ID"),
                                   ("kill abc", "error: 'abc' is not a program id"),
                                   ("kill 7", "error: kill 7: no program with that id"),
                                   ("run", "error: usage: run NAME [@CPU]"),
                                   ("run spinner@x", "error: 'x' is not a CPU number"),
                                   ("run nosuch", "programs: no module named 'nosuch'"),
                                   ("run spinner@0", "programs: cannot run spinner on cpu0: not an application CPU"),
                                   ("run spinner@9", "programs: cannot run spinner on cpu9: not an application CPU"),
                                   ("ps extra", "error: usage: ps")] {
                running.type(line + "\r")
                try running.waitFor(answer, timeout: 10)
            }
            // Line editing: a typo erased with Backspace, a line abandoned with Ctrl-C.
            running.type("kilx\u{7F}l 0\r")
            try running.waitFor("spinner killed", timeout: 10)
            running.type("kill 0\r")
            try running.waitFor("error: kill 0: that program has already ended", timeout: 10)
            running.type("run spin\u{03}ps\r")
            try running.waitFor("^C", timeout: 10)
            XCTAssertFalse(running.console.contains("started spin"), running.console)
        }
    }

    /// `run` and `kill` of a network program 200 times: the free-frame count comes back to
    /// where it started (read from the kernel's /metrics), and echo still works afterwards.
    func testRunAndKillTwoHundredTimesGivesTheMemoryBack() throws {
        let ports = QEMUMachine.freePorts(1)
        let udp = QEMUMachine.freePort(udp: true)
        try withMachine(commandLine: "run=none", ports: ports, extra: ["udp:127.0.0.1:\(udp)-:7"]) { running, metricsPort in
            func freeFrames() throws -> Double {
                let (_, metrics) = try Metrics.fetch(host: "127.0.0.1", port: metricsPort)
                return try XCTUnwrap(metrics.values("swiglet_memory_free_frames").values.first, metrics.text)
            }
            /// The id the shell gave the last program it started.
            func lastStartedID() throws -> String {
                let line = try XCTUnwrap(running.console.components(separatedBy: "\n").last { $0.contains("started udp-echo as id ") })
                return String(try XCTUnwrap(line.components(separatedBy: "as id ").last))
            }
            func round(_ number: Int) throws {
                running.type("run udp-echo\r")
                try running.waitFor("udp-echo: serving UDP echo", count: number, timeout: 30)
                running.type("kill \(try lastStartedID())\r")
                try running.waitFor("udp-echo killed", count: number, timeout: 30)
            }
            // One round first, so that whatever the kernel allocates once (heap growth) is in.
            try round(1)
            Thread.sleep(forTimeInterval: 0.3)
            let before = try freeFrames()
            for number in 2...201 { try round(number) }
            Thread.sleep(forTimeInterval: 0.3)
            XCTAssertEqual(try freeFrames(), before, "frames leaked over 200 runs and kills")
            XCTAssertFalse(running.console.contains("runs without a channel"), "channel numbers ran out")
            running.type("run udp-echo\r")
            try running.waitFor("udp-echo: serving UDP echo", count: 202, timeout: 30)
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: udp, sizes: [1, 512, 1400], tries: 2)
            XCTAssertEqual(failures.map(\.description), [])
        }
    }

    /// Killing a program with an open TCP connection resets it: the host sees the reset.
    func testKillingAProgramResetsItsConnections() throws {
        let ports = QEMUMachine.freePorts(2)
        try withMachine(commandLine: "run=tcp-echo@1", ports: ports, extra: ["tcp:127.0.0.1:\(ports[1])-:7"]) { running, _ in
            try running.waitFor("tcp-echo: serving TCP echo on port 7", timeout: 60)
            let client = try TCPClient(host: "127.0.0.1", port: ports[1])
            XCTAssertEqual(try client.echo(Array("before".utf8)), Array("before".utf8))
            running.type("ps\r")
            try running.waitFor("  0 tcp-echo              1 running", timeout: 10)
            XCTAssertTrue(running.console.contains("tcp-echo              1 running") && running.console.contains("0/0           1           1"),
                          "ps shows its listener and its connection:\n\(running.console)")
            running.type("kill 0\r")
            try running.waitFor("tcp-echo killed", timeout: 10)
            // QEMU's user networking turns the guest's RST into a closed connection on the host.
            let (bytes, closed) = client.receiveUntilClosed(limit: 1024)
            XCTAssertTrue(closed, "the connection was not closed after the kill")
            XCTAssertEqual(bytes, [])
            let (_, metrics) = try Metrics.fetch(host: "127.0.0.1", port: ports[0])
            XCTAssertGreaterThanOrEqual(metrics.sum("swiglet_tcp_resets_total", matching: ["direction=\"out\""]), 1, metrics.text)
        }
    }
}
