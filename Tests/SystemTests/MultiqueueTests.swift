/// QEMU tests of several network contexts on a 2-queue tap with RSS: connections spread over both network cores, each stays on one, frames for a program another context serves are handed over, outgoing connections pick ports RSS steers home, and symmetric mode takes a queue per CPU. Needs root.
import Foundation
import XCTest

final class MultiqueueTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// A 4-CPU machine on a 2-queue tap in a fresh namespace, with `commandLine`; runs `body`
    /// once the ready line is there and the tap is configured.
    private func withTwoQueues(_ commandLine: String, cpus: Int = 4,
                               _ body: (NetworkNamespace, RunningMachine) throws -> Void) throws {
        let space = try NetworkNamespace(tag: "mq")
        defer { space.delete() }
        var machine = QEMUMachine(cpus: cpus, commandLine: commandLine, timeout: 120)
        machine.network = .tap(name: "tap0")
        machine.namespace = space.name
        machine.queuePairs = 2
        try machine.whileRunning { running in
            try space.configure(tap: "tap0")
            try body(space, running)
        }
    }

    /// `/metrics` from inside the namespace.
    private func metrics(_ space: NetworkNamespace) throws -> Metrics {
        try UDPEchoClient.inNamespace(space.name) { try Metrics.fetch(host: "10.0.2.15", port: 9090).1 }
    }

    /// Echoes `count` connections of `bytes` each through port 7 from the namespace; returns the failures.
    private func echoConnections(_ space: NetworkNamespace, count: Int, bytes: Int) throws -> [String] {
        try UDPEchoClient.inNamespace(space.name) {
            var failures: [String] = []
            for index in 0..<count {
                let client = try TCPClient(host: "10.0.2.15", port: 7, timeout: 30)
                let outcome = EchoTransfer.run(client, payload: EchoTransfer.pattern(count: bytes, seed: UInt64(index + 1)),
                                               chunk: 16384, stall: 30)
                if !outcome.intact { failures.append("connection \(index): \(outcome.summary)") }
            }
            return failures
        }
    }

    /// Two network cores (cpu0, cpu1) each serving a TCP echo program: the connections the NIC
    /// spreads with RSS are accepted in both contexts, none is handed between them (each stays
    /// on the core its queue belongs to), none is reset, and a 64 MiB echo comes back intact.
    func testTwoNetworkCoresSpreadConnectionsAndKeepEachOnOneCore() throws {
        try withTwoQueues("net-cpus=0+1 run=tcp-echo@2 run=tcp-echo@3") { space, running in
            XCTAssertTrue(running.console.contains("net-mode=dedicated net-cpu=0 net-cpus=0+1 queues=2"), running.console)
            XCTAssertTrue(running.console.contains("x2 (RSS)"), "the driver enabled RSS\n\(running.console)")
            let connections = 16
            let failures = try echoConnections(space, count: connections, bytes: 64 << 10)
            XCTAssertEqual(failures, [], running.console)
            let bulk = try UDPEchoClient.inNamespace(space.name) {
                EchoTransfer.run(try TCPClient(host: "10.0.2.15", port: 7, timeout: 30),
                                 payload: EchoTransfer.pattern(count: 64 << 20, seed: 0x4D51), stall: 60)
            }
            XCTAssertTrue(bulk.intact, "64 MiB echo: \(bulk.summary)")

            let metrics = try metrics(space)
            let opened = (0..<2).map { metrics["swiglet_tcp_opens_total{kind=\"passive\",context=\"\($0)\"}"] ?? -1 }
            XCTAssertGreaterThan(opened[0], 0, "context 0 accepted some connections\n\(metrics.text)")
            XCTAssertGreaterThan(opened[1], 0, "context 1 accepted some connections\n\(metrics.text)")
            // The echo connections, the bulk one and this metrics request.
            XCTAssertEqual(opened[0] + opened[1], Double(connections + 2), metrics.text)
            XCTAssertEqual(metrics["swiglet_network_handoffs_total{event=\"out\"}"], 0,
                           "every segment reached the context that owns its connection\n\(metrics.text)")
            XCTAssertEqual(metrics["swiglet_tcp_resets_total{direction=\"out\"}"], 0, metrics.text)
            XCTAssertEqual(metrics["swiglet_network_handoffs_total{event=\"dropped\"}"], 0, metrics.text)
        }
    }

    /// One echo program, served by context 0: connections whose segments land on queue 1 are
    /// handed to context 0 whole, and all of them work.
    func testFlowsForAProgramOfTheOtherContextAreHandedOver() throws {
        try withTwoQueues("net-cpus=0+1 run=tcp-echo@2") { space, running in
            let failures = try echoConnections(space, count: 12, bytes: 32 << 10)
            XCTAssertEqual(failures, [], running.console)
            let metrics = try metrics(space)
            // Context 1 serves no program: at most this metrics request was accepted there.
            XCTAssertLessThanOrEqual(metrics["swiglet_tcp_opens_total{kind=\"passive\",context=\"1\"}"] ?? -1, 1, metrics.text)
            XCTAssertGreaterThanOrEqual(metrics["swiglet_tcp_opens_total{kind=\"passive\",context=\"0\"}"] ?? -1, 12, metrics.text)
            XCTAssertGreaterThan(metrics["swiglet_network_handoffs_total{event=\"out\",context=\"1\"}"] ?? 0, 0,
                                 "segments that landed on queue 1 went to context 0\n\(metrics.text)")
            XCTAssertEqual(metrics["swiglet_tcp_resets_total{direction=\"out\"}"], 0, metrics.text)
        }
    }

    /// A program on each context connects out: each picks a source port whose replies RSS puts
    /// on its own queue, so no reply is handed between contexts.
    func testOutgoingConnectionsPickPortsWhoseRepliesComeHome() throws {
        let space = try NetworkNamespace(tag: "mqc")
        defer { space.delete() }
        var machine = QEMUMachine(cpus: 4, commandLine: "net-cpus=0+1 run=tcp-client@2 run=tcp-client@3", timeout: 120)
        machine.network = .tap(name: "tap0")
        machine.namespace = space.name
        machine.queuePairs = 2
        try machine.whileRunning { running in
            try space.configure(tap: "tap0")
            let listener = try UDPEchoClient.inNamespace(space.name) { try HostListener(port: 7777, address: 0x0A00_0202) }
            defer { listener.close() }
            for _ in 0..<2 {
                guard let connection = listener.accept(timeout: 60) else { return XCTFail("no connection\n\(running.console)") }
                let greeting = connection.readToEnd(timeout: 30)
                connection.write(greeting)
                connection.shutdownBoth()
            }
            let deadline = Date().addingTimeInterval(30)
            while running.console.components(separatedBy: "tcp-client exited with status 0").count < 3 && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)
            }
            XCTAssertEqual(running.console.components(separatedBy: "tcp-client exited with status 0").count, 3,
                           "both clients finished\n\(running.console)")
            let metrics = try metrics(space)
            // At least one open each (a connect refused before the listener existed is retried).
            XCTAssertGreaterThanOrEqual(metrics["swiglet_tcp_opens_total{kind=\"active\",context=\"0\"}"] ?? 0, 1, metrics.text)
            XCTAssertGreaterThanOrEqual(metrics["swiglet_tcp_opens_total{kind=\"active\",context=\"1\"}"] ?? 0, 1, metrics.text)
            XCTAssertEqual(metrics["swiglet_network_handoffs_total{event=\"out\"}"], 0,
                           "every reply came to the queue of the context that opened the connection\n\(metrics.text)")
        }
    }

    /// Symmetric mode on a 2-queue NIC with 2 CPUs: two contexts, queue i interrupting CPU i,
    /// and echo works.
    func testSymmetricModeGivesEachCPUAQueuePair() throws {
        try withTwoQueues("net-mode=symmetric run=tcp-echo@1", cpus: 2) { space, running in
            XCTAssertTrue(running.console.contains("net-mode=symmetric net-irq-cpu=0 net-cpus=0+1 queues=2"), running.console)
            let failures = try echoConnections(space, count: 8, bytes: 32 << 10)
            XCTAssertEqual(failures, [], running.console)
            let metrics = try metrics(space)
            XCTAssertEqual(metrics.values("swiglet_network_context_info").count, 2, metrics.text)
            XCTAssertGreaterThan(metrics["swiglet_cpu_network_seconds_total{cpu=\"1\",role=\"program\"}"] ?? 0, 0,
                                 "the program's CPU ran its context in the kernel\n\(metrics.text)")
        }
    }
}
