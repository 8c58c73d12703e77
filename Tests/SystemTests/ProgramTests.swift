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
    /// runs out of work sleeps in `wait` and is woken by an IPI: see the README.)
    func testEchoProgramCPUHasNoInterruptsOrSystemCallsUnderLoad() throws {
        try QEMUMachine.withForwardedPort(cpus: 2, commandLine: "run=udp-echo@1 net-stats=1 app-wait=spin") { running, port in
            try running.waitFor("udp-echo: serving UDP echo on port 7 (waiting by spinning)", timeout: 30)
            // Samples of cpu1's line: interrupts, exceptions, ipis, timer, syscalls.
            func samples() -> [[Int]] {
                running.console.components(separatedBy: "\n").filter { $0.hasPrefix("  cpu1: ") && $0.hasSuffix("udp-echo") }
                    .map { $0.dropFirst(8).split(separator: " ").prefix(5).compactMap { Int($0) } }
            }
            let replies = try UDPEchoClient.load(host: "127.0.0.1", port: port, window: 32, size: 64, duration: 6)
            XCTAssertGreaterThan(replies, 1000, "too little load got through:\n\(running.console)")
            // Two consecutive reports during the load with no interrupt and no system call between them.
            let lines = samples()
            let quietPairs = zip(lines, lines.dropFirst()).filter { $0.0.count == 5 && $0.1.count == 5 && $0.0[0] == $0.1[0] && $0.0[4] == $0.1[4] }
            XCTAssertFalse(quietPairs.isEmpty, "cpu1 took interrupts or system calls in every second of the load:\n\(lines)\n\(running.console)")
        }
    }

    /// A program writing malformed descriptors into its channel gets an error completion for
    /// each, with the right error; when it then corrupts a ring index, the network core drops
    /// the channel and has the program stopped. The echo program on another CPU keeps serving.
    func testBadDescriptorsGetErrorsWhileEchoGoesOn() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "run=udp-echo@1 run=bad-channel@2") { running, port in
            try running.waitFor("programs: bad-channel stopped: its channel broke the ring protocol", timeout: 60)
            XCTAssertTrue(running.console.contains("bad-channel: 7 of 7 bad requests refused with the right error, 0 wrong answers"),
                          running.console)
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [1, 700, 1472])
            XCTAssertTrue(failures.isEmpty, "\(failures)\n\(running.console)")
            XCTAssertFalse(running.console.contains(": exception #"), running.console)
        }
    }

    /// When a program ends, the ports it bound are released: datagrams to them are then
    /// refused by the stack (noListener) instead of being swallowed by a dead channel.
    func testPortsOfAStoppedProgramAreReleased() throws {
        let port = QEMUMachine.freePort(udp: true)
        // Under this name the program binds port 4242, checks its bad requests, and exits normally.
        var machine = QEMUMachine(cpus: 2, commandLine: "run=bad-channel-exit@1 net-stats=1")
        machine.network = .user(hostForwards: ["udp:127.0.0.1:\(port)-:4242"])
        try machine.whileRunning { running in
            try running.waitFor("programs: bad-channel-exit exited with status 0", timeout: 60)
            for _ in 0..<3 { _ = try UDPEchoClient.request(host: "127.0.0.1", port: port, payload: [1, 2, 3], timeout: 1) }
            try running.waitFor("noListener=", timeout: 30)
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
    func testFloodingProgramDoesNotStarveTheEchoProgram() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "run=udp-echo@1 run=flood@2") { running, port in
            try running.waitFor("flood: flooding the request ring", timeout: 30)
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: Array(stride(from: 1, through: 1472, by: 97)))
            XCTAssertTrue(failures.isEmpty, "echo starved by the flood: \(failures)\n\(running.console)")
            try running.waitFor("flood: 1048576 requests answered", timeout: 120)
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
