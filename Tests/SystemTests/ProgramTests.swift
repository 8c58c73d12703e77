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
        let port = UInt16.random(in: 20000...60000)
        var machine = QEMUMachine(cpus: 3, commandLine: "run=spinner@1 run=faulty@2")
        machine.network = .user(hostForwards: ["udp:127.0.0.1:\(port)-:7"])
        try machine.whileRunning { running in
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

    func testUnknownProgramAndBadCPUAreReported() throws {
        let machine = QEMUMachine(cpus: 2, commandLine: "run=nosuch@1 run=spinner@0 run=spinner@7")
        try machine.whileRunning { running in
            try running.waitFor("programs: cannot run spinner on cpu7", timeout: 30)
            XCTAssertTrue(running.console.contains("programs: no module named 'nosuch'"), running.console)
            XCTAssertTrue(running.console.contains("programs: cannot run spinner on cpu0"), running.console)
        }
    }
}
