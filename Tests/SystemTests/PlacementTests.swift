/// QEMU system tests of the network placements: symmetric mode's intrusion on application CPUs, dedicated mode's absence of it, containment, and refused options.
import Foundation
import XCTest

final class PlacementTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Keep-alive GETs of the 100 KiB file through one curl (a connection reused), each body
    /// checked by its size; returns the problems.
    private func load(_ forwards: TCPForwards, requests: Int) throws -> [String] {
        let curl = try requireTool("curl")
        let url = "http://\(forwards.host):\(forwards.http)/data/100k.txt"
        let expected = try HTTPTests.siteFile("/data/100k.txt").count
        let (status, output) = try runTool(curl, ["-sS", "--max-time", "100", "-w", "%{http_code} %{size_download}\n"]
                                               + Array(repeating: ["-o", "/dev/null", url], count: requests).flatMap { $0 })
        let lines = output.split(separator: "\n").filter { !$0.isEmpty }
        var problems: [String] = []
        if status != 0 { problems.append("curl exit \(status): \(output.suffix(400))") }
        if lines.count != requests || !lines.allSatisfy({ $0 == "200 \(expected)" }) {
            problems.append("expected \(requests) × '200 \(expected)', got \(lines.count) lines, first '\(lines.first ?? "")'")
        }
        return problems
    }

    /// The http program's CPU (cpu1 by default) under HTTP load: its interrupts and its time
    /// running the network stack, read from the kernel's counters before and after.
    private func intrusion(commandLine: String) throws -> (interrupts: Double, networkNanoseconds: Double, problems: [String]) {
        var result = (interrupts: 0.0, networkNanoseconds: 0.0, problems: [String]())
        try withTCPGuest(self, name: "placement-\(commandLine.replacingOccurrences(of: " ", with: "_"))", cpus: 3,
                         commandLine: commandLine) { running, forwards, problems in
            try running.waitFor("http: serving HTTP", timeout: 30)
            let (_, before) = try Metrics.fetch(host: forwards.host, port: forwards.metrics)
            problems += try load(forwards, requests: 60)
            let (_, after) = try Metrics.fetch(host: forwards.host, port: forwards.metrics)
            let cpu1 = ["cpu=\"1\""]
            result.interrupts = after.sum("swiglet_cpu_interrupts_total", matching: cpu1) - before.sum("swiglet_cpu_interrupts_total", matching: cpu1)
            result.networkNanoseconds = after.sum("swiglet_cpu_network_seconds_total", matching: cpu1)
                - before.sum("swiglet_cpu_network_seconds_total", matching: cpu1)
            result.problems = problems
        }
        return result
    }

    /// Symmetric mode: the application CPU takes interrupts and runs the stack in its kernel.
    func testSymmetricModeMovesNetworkWorkOntoTheApplicationCPU() throws {
        let measured = try intrusion(commandLine: "net-mode=symmetric")
        XCTAssertEqual(measured.problems, [])
        XCTAssertGreaterThan(measured.interrupts, 0, "no interrupts on the application CPU in symmetric mode")
        XCTAssertGreaterThan(measured.networkNanoseconds, 0, "no network time on the application CPU in symmetric mode")
    }

    /// Dedicated mode with `app-wait=spin`: the same load leaves the application CPU alone —
    /// when its program has it to itself (a second spinning program would share it by timer).
    func testDedicatedModeWithSpinningProgramsKeepsTheApplicationCPUFree() throws {
        let measured = try intrusion(commandLine: "net-mode=dedicated app-wait=spin run=http@1 run=tcp-echo@2")
        XCTAssertEqual(measured.problems, [])
        XCTAssertEqual(measured.interrupts, 0, "the application CPU took interrupts in dedicated mode with spin")
        XCTAssertEqual(measured.networkNanoseconds, 0, "the application CPU ran the network stack in dedicated mode")
    }

    /// Symmetric mode: a faulting program is stopped, and UDP echo on another CPU still answers.
    func testFaultingProgramInSymmetricModeIsContained() throws {
        try QEMUMachine.withForwardedPort(cpus: 3, commandLine: "net-mode=symmetric run=udp-echo@1 run=faulty@2") { running, port in
            try running.waitFor("faulty", timeout: 30)
            try running.waitFor("the kernel and other programs go on", timeout: 30)
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [1, 64, 512, 1472])
            XCTAssertTrue(failures.isEmpty, "echo failed after the fault: \(failures)\n\(running.console)")
        }
    }

    /// Placements that cannot be honoured are refused at boot with a message, and QEMU ends
    /// with the kernel's failure status (3 = debug-exit code 1).
    func testImpossiblePlacementsAreRefused() throws {
        for (options, message) in [("net-mode=symmetric net-cpu=1", "cannot be used with net-mode=symmetric"),
                                   ("net-cpus=1+2", "more network CPUs than NIC queue pairs"),
                                   ("net-cpu=5", "a network CPU is not online (cpu5")] {
            var machine = QEMUMachine(cpus: 3, commandLine: options)
            machine.network = .user(hostForwards: [])
            machine.timeout = 60
            let outcome = try machine.boot()
            XCTAssertEqual(outcome.exitStatus, 3, "\(options): \(outcome.console)")
            XCTAssertTrue(outcome.console.contains("refusing the network placement: ") && outcome.console.contains(message), "\(options): \(outcome.console)")
            XCTAssertFalse(outcome.console.contains("swiglet: ready"), "\(options) booted anyway")
        }
    }
}
