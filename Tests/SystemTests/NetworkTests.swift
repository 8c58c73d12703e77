/// QEMU system tests of the network core: UDP echo through user-mode networking, and ping, ARP
/// and UDP echo from a Linux network namespace over a tap device.
import Foundation
import XCTest

final class NetworkTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Keeps the console (and pcap) of a failing test under images/test-artifacts.
    private func keepArtifacts(_ name: String, console: String) -> String {
        try? FileManager.default.createDirectory(at: QEMUMachine.artifacts, withIntermediateDirectories: true)
        let path = QEMUMachine.artifacts.appendingPathComponent("\(name).console.txt")
        try? console.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    private func pcapPath(_ name: String) -> String {
        try? FileManager.default.createDirectory(at: QEMUMachine.artifacts, withIntermediateDirectories: true)
        let path = QEMUMachine.artifacts.appendingPathComponent("\(name).pcap").path
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    /// A UDP port on 127.0.0.1 that nothing listens on now.
    private func freePort() -> UInt16 {
        QEMUMachine.freePort(udp: true)
    }

    /// (a) Every datagram from 1 to 1472 bytes comes back intact, at the first try, through
    /// QEMU's user-mode networking, a host forward to port 7 and the echo program.
    func testUDPEchoThroughUserModeNetworkingEverySize() throws {
        for modernOnly in [false, true] {
            let port = freePort()
            let name = "udp-echo-user" + (modernOnly ? "-modern" : "")
            let pcap = pcapPath(name)
            // The default programs start with the HTTP server; name the echo program.
            var machine = QEMUMachine(cpus: 2, commandLine: "run=udp-echo@1")
            let metricsPort = QEMUMachine.freePort()
            machine.network = .user(hostForwards: ["udp:127.0.0.1:\(port)-:7", "tcp:127.0.0.1:\(metricsPort)-:9090"])
            machine.pcapPath = pcap
            machine.modernOnly = modernOnly
            try machine.whileRunning { running in
                XCTAssertTrue(running.console.contains("net=up"), "network not up:\n\(running.console)")
                // With two CPUs the echo is the ring-3 program's, through its channel.
                try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
                // One try per size: a datagram lost on a local forward is a failure, not a retry.
                let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: Array(1...1472), tries: 1)
                if !failures.isEmpty {
                    let kept = keepArtifacts(name, console: running.console)
                    XCTFail("""
                        \(failures.count) sizes failed (first: \(failures.prefix(5))); console in \(kept), frames in \(pcap)
                        ---- console ----
                        \(running.console)
                        """)
                } else {
                    try? FileManager.default.removeItem(atPath: pcap)
                }
                // The network core's count: every datagram went through the program's channel
                // (a `received` completion and a `send` request each), not the core's own echo;
                // each reply posted its buffer for receive again (`postAfterSend`), so no `sent`
                // completions: one completion per datagram, and the bind's answer.
                let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
                let completions = metrics["swiglet_channel_completions_total{channel=\"0\"}"] ?? 0
                XCTAssertGreaterThanOrEqual(completions, 1472, metrics.text)
                XCTAssertLessThanOrEqual(completions, 1472 + 16, "a `sent` completion per reply? \(completions)")
                XCTAssertGreaterThanOrEqual(metrics["swiglet_channel_requests_total{channel=\"0\"}"] ?? 0, 1472, metrics.text)
            }
        }
    }

    /// (b) A Linux network namespace with a tap device: ping gets replies, ARP resolves to the
    /// NIC's address, UDP echo works. Needs root (ip netns, tap).
    func testPingARPAndUDPEchoFromANetworkNamespace() throws {
        guard let ping = QEMUMachine.findExecutable("ping") else {
            XCTFail("needs `ping` (iputils-ping): run scripts/install-deps.sh")
            return
        }
        let space = try NetworkNamespace(tag: "test")
        defer { space.delete() }
        let namespace = space.name
        let pcap = pcapPath("namespace")
        var machine = QEMUMachine(cpus: 2)
        machine.network = .tap(name: "tap0")
        machine.namespace = namespace
        machine.pcapPath = pcap
        try machine.whileRunning { running in
            try space.configure(tap: "tap0")
            var problems: [String] = []
            let pingOutput = try? space.exec([ping, "-c", "3", "-W", "3", "10.0.2.15"])
            if pingOutput == nil || !(pingOutput!.contains(" 0% packet loss")) {
                problems.append("ping: \(pingOutput ?? "failed")")
            }
            let neighbours = (try? space.exec([space.ip, "neigh", "show", "10.0.2.15"])) ?? ""
            if !neighbours.contains(QEMUMachine.macAddress) { problems.append("ARP: '\(neighbours)' lacks \(QEMUMachine.macAddress)") }
            let failures = try UDPEchoClient.inNamespace(namespace) {
                try UDPEchoClient.check(host: "10.0.2.15", port: 7, sizes: [1, 18, 64, 512, 1024, 1472], tries: 1)
            }
            if !failures.isEmpty { problems.append("UDP echo: \(failures)") }
            if !problems.isEmpty {
                let kept = keepArtifacts("namespace", console: running.console)
                XCTFail("""
                    \(problems.joined(separator: "\n")); console in \(kept), frames in \(pcap)
                    ---- console ----
                    \(running.console)
                    """)
            } else {
                try? FileManager.default.removeItem(atPath: pcap)
            }
        }
    }

    /// A device that fails the handshake or is absent leaves the kernel running without a NIC.
    func testNoNetworkDeviceMeansNetworkOff() throws {
        let outcome = try QEMUMachine(cpus: 1).boot(stopWhen: hasCompleteReadyLine)
        XCTAssertTrue(outcome.console.contains("net=off"), outcome.console)
        XCTAssertTrue(outcome.console.contains("no virtio-net device"), outcome.console)
    }
}

extension NetworkTests {
    /// With one CPU, that CPU is the network core; with net-cpu=1 an application processor is.
    /// Either way echo works, the counters show the traffic, and the network core takes no
    /// interrupts while it serves it.
    func testNetworkCoreOnOneCPUAndOnAnApplicationProcessor() throws {
        try QEMUMachine.skipUnlessDedicated("a test of the dedicated network core")
        for (cpus, options) in [(1, "net-stats=1"), (2, "net-cpu=1 net-stats=1")] {
            let port = QEMUMachine.freePort(udp: true)
            var machine = QEMUMachine(cpus: cpus, commandLine: options)
            machine.network = .user(hostForwards: ["udp:127.0.0.1:\(port)-:7"])
            try machine.whileRunning { running in
                let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [1, 100, 1000, 1472])
                XCTAssertTrue(failures.isEmpty, "\(failures)\n\(running.console)")
                let networkCPU = cpus == 1 ? 0 : 1
                // Wait for a counters report that includes the traffic.
                let deadline = Date().addingTimeInterval(20)
                var report: Substring? = nil
                while report == nil && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.5)
                    let console = running.console
                    if let start = console.range(of: "net counters", options: .backwards),
                       console[start.lowerBound...].contains("udp.framesIn=") {
                        report = console[start.lowerBound...]
                    }
                }
                guard let report else { return XCTFail("no counters report with UDP traffic:\n\(running.console)") }
                XCTAssertTrue(report.contains("network core cpu\(networkCPU) interrupts=0 "), "network core took interrupts:\n\(running.console)")
                XCTAssertTrue(running.console.contains("ready cpus=\(cpus)"), running.console)
                let framesIn = report.components(separatedBy: "udp.framesIn=").dropFirst().first?.prefix { $0.isNumber }
                XCTAssertGreaterThanOrEqual(Int(framesIn ?? "") ?? 0, 4, "udp.framesIn too low:\n\(report)")
            }
        }
    }
}

extension NetworkTests {
    /// With net-idle=halt the network core halts between bursts (woken by its own timer), and
    /// with net-idle=interrupt also by an arriving frame; either way it still answers every
    /// size, through the core's own echo (no program) and through the echo program's channel.
    /// The kernel's counters say which answered: with no program no channel exists; with the
    /// program its channel carried a receive and a send per datagram. They also say what woke
    /// the core: with `interrupt`, a NIC interrupt on the network core (cpu0, or cpu1 with
    /// `net-cpu=1`) for each datagram sent after a pause; with `halt`, none.
    func testNetworkCoreThatHaltsWhenIdleStillServes() throws {
        try QEMUMachine.skipUnlessDedicated("a test of the dedicated network core")
        for idle in ["halt", "interrupt"] {
            for throughProgram in [false, true] {
                // The interrupt boots halt sooner and shorter than the default, through the option,
                // and without a program the network core is cpu1: the NIC's vector must follow it.
                let networkCPU = idle == "interrupt" && !throughProgram ? 1 : 0
                let options = (idle == "halt" ? "net-idle=halt " : "net-idle=interrupt:64:30 ")
                    + (throughProgram ? "run=udp-echo@1" : "run=none") + (networkCPU == 1 ? " net-cpu=1" : "")
                try checkHaltingNetworkCore(options: options, interruptWakes: idle == "interrupt", throughProgram: throughProgram,
                                            networkCPU: networkCPU)
            }
        }
    }

    /// A network core that halts after a single idle pass, for up to 20 ms, woken by frames:
    /// each datagram wakes it, it hands the datagram to the echo program and halts again at
    /// once, so the program's answer finds it asleep. The program kicks it (the `kick` system
    /// call, only because the request ring says the core sleeps), and the kernel counts the
    /// kicks that woke it. Without the kick the answers would wait for the 20 ms timer.
    func testAProgramsKickWakesTheHaltedNetworkCore() throws {
        try QEMUMachine.skipUnlessDedicated("a test of the dedicated network core")
        let port = QEMUMachine.freePort(udp: true)
        let options = "net-idle=interrupt:1:20000 run=udp-echo@1"
        try QEMUMachine.withMetrics(cpus: 2, commandLine: options, extra: ["udp:127.0.0.1:\(port)-:7"]) { running, metricsPort in
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            let spaced = 10
            for _ in 0..<spaced {
                Thread.sleep(forTimeInterval: 0.02)
                let lost = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [64], tries: 1)
                XCTAssertTrue(lost.isEmpty, "\(options): a datagram lost: \(lost)")
            }
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            let kicks = metrics.values("swiglet_cpu_network_kicks_total")
            // Most answers (the core may still be in its one idle pass when one comes).
            XCTAssertGreaterThanOrEqual(kicks["swiglet_cpu_network_kicks_total{cpu=\"1\",role=\"program\"}"] ?? 0, Double(spaced / 2),
                                        "\(options): the program's answers did not kick the halted core: \(kicks)\n\(running.console)")
            XCTAssertEqual(kicks["swiglet_cpu_network_kicks_total{cpu=\"0\",role=\"network\"}"], 0, "the core kicks no one")
        }
    }

    /// One boot of `testNetworkCoreThatHaltsWhenIdleStillServes`.
    private func checkHaltingNetworkCore(options: String, interruptWakes: Bool, throughProgram: Bool, networkCPU: Int) throws {
        let port = QEMUMachine.freePort(udp: true)
        try QEMUMachine.withMetrics(cpus: 2, commandLine: options, extra: ["udp:127.0.0.1:\(port)-:7"]) { running, metricsPort in
            if throughProgram { try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30) }
            Thread.sleep(forTimeInterval: 1)
            let sizes = Array(stride(from: 1, through: 1472, by: 131))
            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: sizes, tries: 1)
            XCTAssertTrue(failures.isEmpty, "\(options): \(failures)\n\(running.console)")
            // Then datagrams 20 ms apart: nearly each finds the core halted (it halts within a
            // millisecond of idling), so with `interrupt` nearly each arrival is a wake-up.
            let spaced = 10
            for _ in 0..<spaced {
                Thread.sleep(forTimeInterval: 0.02)
                let lost = try UDPEchoClient.check(host: "127.0.0.1", port: port, sizes: [64], tries: 1)
                XCTAssertTrue(lost.isEmpty, "\(options): a datagram that found the core halted: \(lost)")
            }
            let mode = interruptWakes ? "polling, halting when idle, woken by arriving frames;" : "polling, halting when idle;"
            XCTAssertTrue(running.console.contains("net: network core running (\(mode)"), running.console)
            let timing = interruptWakes ? "halts up to 30 us after 64 idle passes or until a frame arrives" : "halts up to 50 us after 256 idle passes (net-idle=)"
            XCTAssertTrue(running.console.contains("net: network core \(timing)"), running.console)
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            let completions = metrics.values("swiglet_channel_completions_total")
            if throughProgram {
                // A `received` completion and a `send` request per datagram (each reply posts
                // its buffer again: no `sent` completion).
                XCTAssertGreaterThanOrEqual(completions["swiglet_channel_completions_total{channel=\"0\"}"] ?? 0, Double(sizes.count),
                                            "\(options): the echo did not go through the program's channel: \(completions)")
                XCTAssertGreaterThanOrEqual(metrics["swiglet_channel_requests_total{channel=\"0\"}"] ?? 0, Double(sizes.count),
                                            "\(options): the program did not send the replies: \(metrics.values("swiglet_channel_requests_total"))")
            } else {
                XCTAssertTrue(completions.isEmpty, "\(options): a program channel exists: \(completions)")
                XCTAssertFalse(running.console.contains("udp-echo: serving"), running.console)
            }
            let wakes = metrics.values("swiglet_cpu_nic_interrupts_total")["swiglet_cpu_nic_interrupts_total{cpu=\"\(networkCPU)\",role=\"network\"}"]
            if interruptWakes {
                // Most spaced datagrams (8-10 of 10 seen: one may come just as the core's timer
                // woke it). QEMU also interrupts once at its first publication on the queue,
                // armed or not, so 1 alone proves nothing.
                XCTAssertGreaterThanOrEqual(wakes ?? 0, Double(spaced / 2), "\(options): arrivals did not wake the network core")
            } else {
                XCTAssertEqual(wakes, 0, "\(options): the NIC interrupted a core that halts on its timer")
            }
        }
    }
}
