/// QEMU system tests of TCP under attack, from a Linux network namespace over a tap device
/// (needs root): a SYN flood from spoofed sources and a storm of malformed segments leave an
/// established echo connection working and new HTTP requests served.
import Foundation
import XCTest

final class TCPRobustnessTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    static let guest = "10.0.2.15"

    /// swiglet-bench: $SWIGLET_BENCH, beside the test bundle, or in a .build* directory of the
    /// package; missing fails under SWIGLET_REQUIRE_QEMU and skips otherwise.
    static func benchExecutable() throws -> String {
        var candidates: [String] = []
        if let path = ProcessInfo.processInfo.environment["SWIGLET_BENCH"] { candidates.append(path) }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(bundleDirectory.appendingPathComponent("swiglet-bench").path)
        candidates.append(bundleDirectory.deletingLastPathComponent().appendingPathComponent("swiglet-bench").path)
        let root = QEMUMachine.packageRoot
        for directory in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where directory.hasPrefix(".build") {
            for configuration in ["debug", "release"] {
                candidates.append(root.appendingPathComponent("\(directory)/\(configuration)/swiglet-bench").path)
            }
        }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        let message = "swiglet-bench not found (build it: swift build --product swiglet-bench, or set SWIGLET_BENCH)"
        if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil { XCTFail(message) }
        throw XCTSkip(message)
    }

    /// An established echo connection, then `swiglet-bench syn-flood` (spoofed SYNs to port 80)
    /// and `swiglet-bench tcp-garbage` (malformed segments to ports 80 and 7): the connection
    /// still echoes, a new HTTP GET is served intact, and the metrics count SYN cookies sent and
    /// TCP drops (bad checksums among them).
    func testSYNFloodAndGarbageLeaveConnectionsWorking() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to create a network namespace, a tap device and raw sockets") }
        let ip = try requireTool("ip", hint: "install iproute2 (scripts/install-deps.sh)")
        let bench = try Self.benchExecutable()
        let index = try Array(Data(contentsOf: HTTPTests.siteRoot.appendingPathComponent("index.html")))
        let namespace = "swiglet-tcp-\(getpid())"
        try runChecked(ip, ["netns", "add", namespace])
        defer { _ = try? runTool(ip, ["netns", "del", namespace]) }
        try runChecked(ip, ["netns", "exec", namespace, ip, "link", "set", "lo", "up"])

        var machine = QEMUMachine(cpus: 4)
        machine.timeout = 180
        machine.network = .tap(name: "tap0")
        machine.namespace = namespace
        let running = try RunningMachine(start: machine)
        defer { running.stop() }
        var problems: [String] = []
        do {
            try running.waitFor("swiglet: ready", timeout: machine.timeout)
            try runChecked(ip, ["netns", "exec", namespace, ip, "addr", "add", "10.0.2.2/24", "dev", "tap0"])
            try runChecked(ip, ["netns", "exec", namespace, ip, "link", "set", "tap0", "up"])
            try running.waitFor("http: serving HTTP on port 80", timeout: 60)
            try running.waitFor("tcp-echo: serving TCP echo on port 7", timeout: 60)

            // The connection that must survive, made (and first proven) inside the namespace.
            let before = EchoTransfer.pattern(count: 65536, seed: 1)
            let echo = try UDPEchoClient.inNamespace(namespace) { () throws -> TCPClient in
                let client = try TCPClient(host: Self.guest, port: 7, timeout: 30)
                guard try client.echo(before) == before else { throw MachineError(description: "the first 64 KiB echo differed") }
                return client
            }

            let flood = try runTool(ip, ["netns", "exec", namespace, bench, "syn-flood", "--count", "5000", "\(Self.guest):80"], timeout: 120)
            print("syn-flood: \(flood.output)")
            if flood.status != 0 { problems.append("syn-flood exit \(flood.status): \(flood.output)") }
            for port in [80, 7] {
                let storm = try runTool(ip, ["netns", "exec", namespace, bench, "tcp-garbage", "--count", "5000", "--seed", "\(port)",
                                             "\(Self.guest):\(port)"], timeout: 120)
                print("tcp-garbage port \(port): \(storm.output)")
                if storm.status != 0 || !storm.output.contains("alive=yes") {
                    problems.append("tcp-garbage to port \(port): exit \(storm.status): \(storm.output)")
                }
            }

            // The old connection still echoes, byte for byte.
            let after = EchoTransfer.pattern(count: 65536, seed: 2)
            echo.setTimeout(30)
            do {
                let back = try echo.echo(after)
                if back != after { problems.append("the established echo connection returned \(back.count) bytes, not the 64 KiB sent, after the attacks") }
            } catch {
                problems.append("the established echo connection failed after the attacks: \(error)")
            }

            // A new HTTP request is served, then the metrics show what happened.
            let metrics = try UDPEchoClient.inNamespace(namespace) { () throws -> (HTTPResponse, Metrics) in
                let http = try TCPClient(host: Self.guest, port: 80, timeout: 30)
                try http.send("GET /index.html HTTP/1.1\r\nHost: swiglet\r\n\r\n")
                var pending: [UInt8] = []
                let page = try HTTPResponse.read(from: http, pending: &pending)
                return (page, try Metrics.fetch(host: Self.guest, port: 9090).1)
            }
            let (page, counters) = metrics
            if page.status != 200 || page.body != index { problems.append("new GET /index.html after the attacks: \(page)") }
            let cookies = counters["swiglet_tcp_syn_cookies_total{event=\"sent\"}"] ?? 0
            let drops = counters.values("swiglet_tcp_drops_total")
            print("after attacks: syn cookies \(counters.values("swiglet_tcp_syn_cookies_total")), drops \(drops), "
                  + "stack drops \(counters.values("swiglet_drops_total").filter { $0.value > 0 })")
            if cookies <= 0 { problems.append("no SYN cookies sent during a 5000-SYN flood: \(counters.values("swiglet_tcp_syn_cookies_total"))") }
            if (counters["swiglet_tcp_drops_total{reason=\"badChecksum\"}"] ?? 0) <= 0 {
                problems.append("no TCP drops for bad checksums after the garbage storm: \(drops)")
            }
            if drops.values.reduce(0, +) <= 0 { problems.append("no TCP drops counted at all: \(drops)") }
        } catch {
            problems.append("error: \(error)")
        }
        guard !problems.isEmpty else { return }
        try? FileManager.default.createDirectory(at: QEMUMachine.artifacts, withIntermediateDirectories: true)
        let kept = QEMUMachine.artifacts.appendingPathComponent("tcp-robustness.console.txt")
        let console = running.console
        try? console.write(to: kept, atomically: true, encoding: .utf8)
        XCTFail("""
            \(problems.joined(separator: "\n"))
            console kept in \(kept.path)
            ---- console ----
            \(console)
            ---- end of console ----
            """)
    }

    private func runChecked(_ executable: String, _ arguments: [String]) throws {
        let (status, output) = try runTool(executable, arguments, timeout: 30)
        guard status == 0 else { throw MachineError(description: "\(executable) \(arguments.joined(separator: " ")): exit \(status): \(output)") }
    }
}
