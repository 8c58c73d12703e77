/// QEMU tests of NIC faults: the link taken down for 2 s with QEMU's set_link is logged and counted and a TCP connection carries on across the outage; a device that sets DEVICE_NEEDS_RESET is reset and set up again, and the connection carries on.
import Foundation
import XCTest

final class LinkFaultTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// A TCP echo connection works; `set_link n0 off`, bytes sent during the 2 s outage, `set_link
    /// n0 on`: the bytes come back intact on the same connection (TCP retransmitted them), the
    /// console says the link went down and came back after about 2 s, and the kernel's
    /// counters show one change each way with the link up again and no reset.
    func testAConnectionSurvivesATwoSecondLinkOutage() throws {
        let echoPort = QEMUMachine.freePort(), metricsPort = QEMUMachine.freePort()
        var machine = QEMUMachine(cpus: 2, commandLine: "run=tcp-echo@1", timeout: 120)
        machine.network = .user(hostForwards: ["tcp:127.0.0.1:\(echoPort)-:7", "tcp:127.0.0.1:\(metricsPort)-:9090"])
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-monitor-\(getpid()).sock").path
        try? FileManager.default.removeItem(atPath: socket)
        defer { try? FileManager.default.removeItem(atPath: socket) }
        machine.monitorSocket = socket
        try machine.whileRunning { running in
            try running.waitFor("tcp-echo: serving TCP echo on port 7", timeout: 60)
            let client = try TCPClient(host: "127.0.0.1", port: echoPort, timeout: 30)
            let before = EchoTransfer.pattern(count: 1024, seed: 1)
            XCTAssertEqual(try client.echo(before), before, "echo before the outage")

            try machine.monitor("set_link n0 off")
            try running.waitFor("net: link down", timeout: 10)
            let during = EchoTransfer.pattern(count: 8192, seed: 2)
            try client.send(during)
            Thread.sleep(forTimeInterval: 2)
            try machine.monitor("set_link n0 on")
            try running.waitFor("net: link up again after ", timeout: 10)

            var echoed: [UInt8] = []
            while echoed.count < during.count {
                let more = try client.receive()
                if more.isEmpty { break }
                echoed += more
            }
            XCTAssertEqual(echoed, during, "the bytes sent during the outage came back intact")
            let after = EchoTransfer.pattern(count: 1024, seed: 3)
            XCTAssertEqual(try client.echo(after), after, "echo after the outage, same connection")

            let line = running.console.split(separator: "\n").first { $0.contains("net: link up again after ") } ?? ""
            let seconds = Double(line.components(separatedBy: "after ").last?.split(separator: " ").first.map(String.init) ?? "") ?? 0
            XCTAssertGreaterThan(seconds, 1.5, "the outage as the kernel measured it: \(line)")
            XCTAssertLessThan(seconds, 10, String(line))
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            XCTAssertEqual(metrics["swiglet_nic_link_up"], 1, metrics.text)
            XCTAssertEqual(metrics["swiglet_nic_link_changes_total{direction=\"down\"}"], 1)
            XCTAssertEqual(metrics["swiglet_nic_link_changes_total{direction=\"up\"}"], 1)
            XCTAssertEqual(metrics["swiglet_nic_resets_total{event=\"needed\"}"], 0)
            XCTAssertEqual(metrics.sum("swiglet_tcp_resets_total", matching: ["direction=\"out\""]), 0, "no connection was reset")
        }
    }

    /// The shell's `fault nic` breaks the transmit ring's protocol on purpose; QEMU answers by
    /// setting DEVICE_NEEDS_RESET and stopping the device. The kernel must notice, reset it and
    /// set its queue pair up again: the console says so, QEMU's own trace shows the reset
    /// (virtio_set_status 0 after the error), the same TCP connection echoes again, a new one
    /// opens, and the counters say needed=1 done=1.
    func testADeviceThatNeedsAResetIsResetAndConnectionsCarryOn() throws {
        let echoPort = QEMUMachine.freePort(), metricsPort = QEMUMachine.freePort()
        var machine = QEMUMachine(cpus: 2, commandLine: "run=tcp-echo@1", timeout: 120)
        machine.network = .user(hostForwards: ["tcp:127.0.0.1:\(echoPort)-:7", "tcp:127.0.0.1:\(metricsPort)-:9090"])
        machine.traceEvents = ["virtio_set_status"]
        try machine.whileRunning { running in
            try running.waitFor("tcp-echo: serving TCP echo on port 7", timeout: 60)
            let client = try TCPClient(host: "127.0.0.1", port: echoPort, timeout: 30)
            let before = EchoTransfer.pattern(count: 4096, seed: 11)
            XCTAssertEqual(try client.echo(before), before, "echo before the fault")
            let statusWritesBefore = running.console.components(separatedBy: "virtio_set_status").count

            running.type("fault nic\r")
            try running.waitFor("net: the NIC set DEVICE_NEEDS_RESET", timeout: 20)
            try running.waitFor("net: NIC reset and set up again in ", timeout: 20)
            // QEMU's record: the driver wrote the status register again (reset, then the handshake).
            XCTAssertGreaterThan(running.console.components(separatedBy: "virtio_set_status").count, statusWritesBefore + 3,
                                 "QEMU saw no new handshake\n\(running.console)")

            print(running.console.split(separator: "\n").filter { $0.contains("net: ") || $0.contains("Guest says") }.joined(separator: "\n"))
            let after = EchoTransfer.pattern(count: 64 << 10, seed: 12)
            XCTAssertEqual(try client.echo(after), after, "the same connection after the reset")
            let fresh = try TCPClient(host: "127.0.0.1", port: echoPort, timeout: 30)
            XCTAssertEqual(try fresh.echo(before), before, "a new connection after the reset")
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            XCTAssertEqual(metrics["swiglet_nic_resets_total{event=\"needed\"}"], 1, metrics.text)
            XCTAssertEqual(metrics["swiglet_nic_resets_total{event=\"done\"}"], 1)
            XCTAssertEqual(metrics["swiglet_nic_link_up"], 1)
            XCTAssertEqual(metrics.sum("swiglet_tcp_resets_total", matching: ["direction=\"out\""]), 0, "no connection was reset")
        }
    }
}
