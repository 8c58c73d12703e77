/// QEMU system tests of user programs: they run in ring 3 on application CPUs, and a program
/// that faults is stopped and reported while the kernel, the network core and other programs
/// go on.
import Foundation
import XCTest

final class ProgramTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Counts the spinner's rate reports in `console`.
    private func spinnerReports(_ console: String) -> Int {
        console.components(separatedBy: "\n").filter { $0.contains("spinner: ") && $0.contains("iterations/s") }.count
    }

    func testFaultingProgramIsStoppedAndEverythingElseGoesOn() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "run=spinner@1 run=faulty@2") { running, port in
            try running.waitFor("programs: faulty stopped after exception vector 14", timeout: 60)
            let console = running.console
            XCTAssertTrue(console.contains("cpu2: exception #PF page fault (vector 14)"), console)
            XCTAssertTrue(console.contains("user mode"), "the fault was not reported as a user-mode one:\n\(console)")
            XCTAssertTrue(console.contains("cpu2: program faulty faulted with #PF"), console)
            // The spinner on the other CPU keeps reporting after the fault.
            let before = spinnerReports(running.console)
            try running.waitFor("spinner: ", timeout: 30)
            let deadline = Date().addingTimeInterval(20)
            while spinnerReports(running.console) <= before && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
            XCTAssertGreaterThan(spinnerReports(running.console), before, "the spinner stopped:\n\(running.console)")
            // And the network core still serves.
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [1, 512, 1472])
            XCTAssertTrue(failures.isEmpty, "\(failures)\n\(running.console)")
            XCTAssertFalse(running.console.contains("cpu0: exception"), running.console)
        }
    }

    /// Under echo load the echo program's CPU takes no interrupts and makes no system calls:
    /// the data path is the channel only. (With the default `app-wait=sleep`, a program that
    /// runs out of work sleeps in `wait` and is woken by an IPI: see docs/programs.md.) The kernel's
    /// counters are read just before and just after the load, so the window is the load, and
    /// the echo channel's completions over the same window show the program did the work.
    func testEchoProgramCPUHasNoInterruptsOrSystemCallsUnderLoad() throws {
        try QEMUMachine.withUDPEchoLoad(cpus: 2, commandLine: "run=udp-echo@1 app-wait=spin",
                                        ready: "udp-echo: serving UDP echo on port 7 (waiting by spinning)",
                                        window: 32, duration: 6) { running, replies, before, after in
            XCTAssertGreaterThan(replies, 1000, "too little load got through:\n\(running.console)")
            func growth(_ family: String, _ labels: [String]) -> Double { after.growth(family, since: before, matching: labels) }
            for family in ["swiglet_cpu_interrupts_total", "swiglet_cpu_exceptions_total", "swiglet_cpu_ipis_total",
                           "swiglet_cpu_timer_interrupts_total", "swiglet_cpu_system_calls_total"] {
                XCTAssertEqual(growth(family, ["cpu=\"1\""]), 0, "\(family) on cpu1 during the load\n\(after.values(family))")
            }
            // Each echoed datagram is a `received` completion on the program's channel (its reply
            // posts the buffer again, with no `sent` completion).
            XCTAssertGreaterThanOrEqual(growth("swiglet_channel_completions_total", ["channel=\"0\""]), Double(replies),
                                        "the echo channel did not carry the replies")
        }
    }

    /// A program writing malformed descriptors into its channel gets an error completion for
    /// each, with the right error; when it then corrupts a ring index, the network core drops
    /// the channel and has the program stopped. The echo program on another CPU keeps serving.
    func testBadDescriptorsGetErrorsWhileEchoGoesOn() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "run=udp-echo@1 run=bad-channel@2") { running, port in
            try running.waitFor("programs: bad-channel stopped: its channel broke the ring protocol", timeout: 60)
            // The network core's own count of the errors it answered, by kind (the kernel logs a
            // released channel's counters): the seven bad requests, one refusal each.
            try running.waitFor("(bad-channel) released: ", timeout: 30)
            let released = running.console.split(separator: "\n").first { $0.contains("(bad-channel) released: ") } ?? ""
            XCTAssertTrue(released.hasSuffix(" 7 errors (badBufferIndex=1, badOffsetOrLength=2, doubleHandBack=1, unknownSocket=1, "
                                             + "unknownRequest=1, badPort=1)"), "the kernel's count: \(released)\n\(running.console)")
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [1, 700, 1472])
            XCTAssertTrue(failures.isEmpty, "\(failures)\n\(running.console)")
            XCTAssertFalse(running.console.contains(": exception #"), running.console)
        }
    }

    /// When a program ends, the ports it bound are released: datagrams to them are then
    /// refused by the stack (noListener) instead of being swallowed by a dead channel. No
    /// datagram may come back, and the kernel's noListener counter must grow by each one sent.
    func testPortsOfAStoppedProgramAreReleased() throws {
        let port = QEMUMachine.freePort(udp: true)
        // Under this name the program binds port 4242, checks its bad requests, and exits normally.
        try QEMUMachine.withMetrics(cpus: 2, commandLine: "run=bad-channel-exit@1", extra: ["udp:127.0.0.1:\(port)-:4242"]) { running, metricsPort in
            try running.waitFor("programs: bad-channel-exit exited with status 0", timeout: 60)
            try running.waitFor("(bad-channel-exit) released: ", timeout: 30)
            let key = "swiglet_drops_total{reason=\"noListener\"}"
            let before = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1[key] ?? -1
            let sent = 3
            for index in 0..<sent {
                let reply = try UDPEchoClient.request(host: "127.0.0.1", port: port, payload: [1, 2, UInt8(index)], timeout: 1)
                XCTAssertNil(reply, "a datagram to the released port \(index) was answered")
            }
            var after = before
            let deadline = Date().addingTimeInterval(10)
            while after < before + Double(sent) && Date() < deadline {
                after = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1[key] ?? -1
                if after < before + Double(sent) { Thread.sleep(forTimeInterval: 0.2) }
            }
            XCTAssertGreaterThanOrEqual(before, 0, "no \(key) in /metrics")
            XCTAssertEqual(after - before, Double(sent), "the kernel's noListener count over the datagrams sent to the released port")
        }
    }

    /// The intrusion meter can be read over the network (UDP port 9100) while programs run.
    func testIntrusionMeterOverTheNetwork() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "run=udp-echo@1 run=spinner@2", guestPort: 9100) { running, port in
            try running.waitFor("spinner: ", timeout: 30)
            var text = ""
            for _ in 0..<3 where text.isEmpty {
                if let reply = try UDPEchoClient.request(host: "127.0.0.1", port: port, payload: Array("meter?".utf8)) {
                    text = String(decoding: reply, as: UTF8.self)
                }
            }
            let lines = text.split(separator: "\n")
            XCTAssertEqual(lines.first, "cpu interrupts exceptions ipis timer syscalls user-ms kernel-ms net-ms program", text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("  cpu0: 0 0 0 0 0 ") && $0.hasSuffix("[network core]") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("  cpu1: ") && $0.hasSuffix("udp-echo") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("  cpu2: ") && $0.hasSuffix("spinner") }, text)
        }
    }

    /// A program flooding its request ring is throttled: UDP echo served by another program
    /// (through the same network core) still answers every datagram.
    /// The flood's answers are counted by the network core (an `unknownRequest` error for each
    /// of its requests), not taken from the program's own report.
    func testFloodingProgramDoesNotStarveTheEchoProgram() throws {
        let port = QEMUMachine.freePort(udp: true)
        try QEMUMachine.withMetrics(cpus: 3, commandLine: "run=udp-echo@1 run=flood@2", extra: ["udp:127.0.0.1:\(port)-:7"]) { running, metricsPort in
            try running.waitFor("flood: flooding the request ring", timeout: 30)
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            let sizes = Array(stride(from: 1, through: 1472, by: 97))
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: sizes, tries: 1)
            XCTAssertTrue(failures.isEmpty, "echo starved by the flood: \(failures)\n\(running.console)")
            try running.waitFor("flood: 1048576 requests answered", timeout: 120)
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            // Channel 0 is udp-echo's (started first), channel 1 the flood's.
            XCTAssertEqual(metrics["swiglet_channel_errors_total{channel=\"0\"}"], 0, metrics.text)
            XCTAssertGreaterThanOrEqual(metrics["swiglet_channel_errors_total{channel=\"1\"}"] ?? 0, 1_048_576,
                                        "the kernel refused fewer flood requests than the program claims answered")
            // A `received` completion and a `send` request per echo (the reply posts its buffer again).
            XCTAssertGreaterThanOrEqual(metrics["swiglet_channel_completions_total{channel=\"0\"}"] ?? 0, Double(sizes.count),
                                        "the echo program's channel did not carry the echoes")
            XCTAssertGreaterThanOrEqual(metrics["swiglet_channel_requests_total{channel=\"0\"}"] ?? 0, Double(sizes.count),
                                        "the echo program did not send the replies")
        }
    }

    /// Every kind of fault a program can make — a bad pointer, an invalid opcode, a privileged
    /// instruction, a division by zero — is reported with the program's name and CPU and stops
    /// only that program (the same image runs under four names and picks its fault by name).
    func testEveryKindOfProgramFaultIsContained() throws {
        let machine = QEMUMachine(cpus: 5, commandLine: "run=faulty@1 run=faulty-ud@2 run=faulty-gp@3 run=faulty-de@4")
        try machine.whileRunning { running in
            for (name, cpu, mnemonic, vector) in [("faulty", 1, "#PF", 14), ("faulty-ud", 2, "#UD", 6),
                                                   ("faulty-gp", 3, "#GP", 13), ("faulty-de", 4, "#DE", 0)] {
                try running.waitFor("programs: \(name) stopped after exception vector \(vector);", timeout: 60)
                XCTAssertTrue(running.console.contains("cpu\(cpu): program \(name) faulted with \(mnemonic) at rip=0x4000"), running.console)
            }
            XCTAssertFalse(running.console.contains("the kernel did not stop this program"), running.console)
            XCTAssertFalse(running.console.contains("cpu0: exception"), running.console)
        }
    }

    func testUnknownProgramAndBadCPUAreReported() throws {
        let machine = QEMUMachine(cpus: 2, commandLine: "run=nosuch@1 run=spinner@0 run=spinner@7 run=spinner@1 run=faulty@1")
        try machine.whileRunning { running in
            try running.waitFor("programs: cannot run spinner on cpu7", timeout: 30)
            // A second program on cpu1 shares it (SchedulingTests covers the sharing).
            try running.waitFor("programs: faulty loaded", timeout: 30)
            XCTAssertTrue(running.console.contains("programs: no module named 'nosuch'"), running.console)
            XCTAssertTrue(running.console.contains("programs: cannot run spinner on cpu0"), running.console)
        }
    }
}
