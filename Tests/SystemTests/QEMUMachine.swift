/// Boots the Swiglet ISO in QEMU for a test: a timeout, the whole console kept, and QEMU's
/// exit status (isa-debug-exit) read back.
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One machine configuration; `boot` runs it to the end, `whileRunning` works beside it.
struct QEMUMachine {
    var cpus = 2
    var memory = "256M"
    /// Boot options passed through fw_cfg (opt/swiglet/cmdline).
    var commandLine: String? = nil
    /// Give up after this long (TCG on a busy 2-core machine is slow: be generous).
    var timeout: TimeInterval = 90
    /// The NIC: none, QEMU user-mode networking with host forwards such as
    /// "udp:127.0.0.1:5555-:7", or a tap device (QEMU then runs inside `namespace`).
    var network: Network = .none
    /// Run QEMU inside this network namespace (`ip netns exec NAME`).
    var namespace: String? = nil
    /// Record every frame of the NIC here (QEMU filter-dump).
    var pcapPath: String? = nil
    /// Use a modern-only virtio-net device (disable-legacy=on) instead of QEMU's transitional one.
    var modernOnly = false
    /// The entropy device: none (QEMU's default), virtio-rng-pci (transitional, as `make run`
    /// adds it), or a modern-only one (disable-legacy=on).
    var entropyDevice: EntropyDevice = .none
    /// QEMU's `-cpu` model (nil: QEMU's default, qemu64 under TCG, without RDRAND; "max" has it).
    var cpuModel: String? = nil

    enum EntropyDevice { case none, transitional, modernOnly }
    /// A QEMU monitor on this Unix socket (`monitor(_:)` sends it commands); nil: no monitor.
    var monitorSocket: String? = nil
    /// QEMU trace events to enable (`-trace NAME`); QEMU prints them on stderr, into `console`.
    var traceEvents: [String] = []

    /// Queue pairs of a tap NIC: more than one makes a multiqueue tap and a virtio-net device
    /// with `mq=on`, RSS (`rss=on`) and the MSI-X vectors they need (2 per pair, plus config
    /// and control).
    var queuePairs = 1

    enum Network {
        case none
        case user(hostForwards: [String])
        case tap(name: String)
    }

    /// What a boot produced.
    struct Outcome {
        var console: String
        /// QEMU's exit status, nil when the harness stopped it (timeout or `stopWhen`).
        var exitStatus: Int32?
        var timedOut: Bool
        /// isa-debug-exit: the kernel wrote 0 (pass) → 1, wrote 1 (fail) → 3.
        var selfTestPassed: Bool { exitStatus == 1 }
    }

    static let macAddress = "52:54:00:12:34:56"
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let image = packageRoot.appendingPathComponent("images/swiglet.iso")
    static let kernelELF = packageRoot.appendingPathComponent("images/swiglet.elf")
    /// Where failing tests leave their console and pcap.
    static let artifacts = packageRoot.appendingPathComponent("images/test-artifacts")

    /// Skips the test when the image or QEMU is missing, unless SWIGLET_REQUIRE_QEMU is set
    /// (as `make test` does), in which case it fails with what is missing.
    static func requireImage() throws {
        var missing: [String] = []
        if !FileManager.default.fileExists(atPath: image.path) { missing.append("\(image.path) (run `make image`)") }
        if findExecutable("qemu-system-x86_64") == nil { missing.append("qemu-system-x86_64 (run `make deps`)") }
        guard !missing.isEmpty else { return }
        let message = "missing: " + missing.joined(separator: ", ")
        if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil {
            XCTFail(message)
            throw XCTSkip("cannot boot: \(message)")
        }
        throw XCTSkip(message)
    }

    /// A host port nothing uses now, for a host forward: the kernel picks it (bind to port 0 on
    /// 127.0.0.1), so it cannot collide with a port in use the way a random choice can (QEMU
    /// then fails with "Could not set up host forwarding rule"). Ports from different calls
    /// are distinct while their sockets are open, so take several with `freePorts`.
    static func freePort(udp: Bool = false) -> UInt16 { freePorts(1, udp: udp)[0] }

    /// `count` distinct free host ports (see `freePort`).
    static func freePorts(_ count: Int, udp: Bool = false) -> [UInt16] {
        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        var ports: [UInt16] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
                }
            }
            descriptors.append(descriptor)
            ports.append(bound ? UInt16(bigEndian: address.sin_port) : UInt16.random(in: 20000...30000))
        }
        return ports
    }

    static func findExecutable(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The network placement every machine of this test run boots with: `SWIGLET_NET_MODE=symmetric`
    /// runs the same system tests with `net-mode=symmetric` (`make test` does both). A test
    /// that names the network CPU itself is about the dedicated placement and keeps its options.
    static let placement = ProcessInfo.processInfo.environment["SWIGLET_NET_MODE"].map { "net-mode=" + $0 }

    /// Skips a test about the dedicated network core when the run's placement is symmetric.
    static func skipUnlessDedicated(_ why: String) throws {
        if let placement, placement != "net-mode=dedicated" { throw XCTSkip("\(why); this run uses \(placement)") }
    }

    /// `commandLine` with the run's placement in front (unless it chooses a network CPU).
    static func withPlacement(_ commandLine: String?) -> String? {
        guard let placement, !(commandLine ?? "").contains("net-cpu") else { return commandLine }
        return commandLine.map { placement + " " + $0 } ?? placement
    }

    /// The QEMU command line for this machine.
    var arguments: [String] {
        var arguments = [
            "-accel", "tcg,thread=multi", "-smp", "\(cpus)", "-m", memory,
            "-serial", "stdio", "-display", "none", "-monitor", monitorSocket.map { "unix:\($0),server=on,wait=off" } ?? "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-cdrom", QEMUMachine.image.path,
        ]
        if let cpuModel { arguments += ["-cpu", cpuModel] }
        for event in traceEvents { arguments += ["-trace", event] }
        switch entropyDevice {
        case .none: break
        case .transitional: arguments += ["-device", "virtio-rng-pci"]
        case .modernOnly: arguments += ["-device", "virtio-rng-pci,disable-legacy=on"]
        }
        if let commandLine = QEMUMachine.withPlacement(commandLine) {
            // fw_cfg's option parser splits on commas: QEMU escapes them as ",,".
            arguments += ["-fw_cfg", "name=opt/swiglet/cmdline,string=" + commandLine.replacingOccurrences(of: ",", with: ",,")]
        }
        switch network {
        case .none:
            arguments += ["-nic", "none"]
            return arguments
        case .user(let forwards):
            arguments += ["-netdev", (["user", "id=n0"] + forwards.map { "hostfwd=" + $0 }).joined(separator: ",")]
        case .tap(let name):
            arguments += ["-netdev", "tap,id=n0,ifname=\(name),script=no,downscript=no" + (queuePairs > 1 ? ",queues=\(queuePairs)" : "")]
        }
        let multiqueue = queuePairs > 1 ? ",mq=on,rss=on,vectors=\(2 * queuePairs + 2)" : ""
        arguments += ["-device", "virtio-net-pci,netdev=n0,mac=\(QEMUMachine.macAddress)" + (modernOnly ? ",disable-legacy=on" : "") + multiqueue]
        if let pcapPath { arguments += ["-object", "filter-dump,id=dump0,netdev=n0,file=\(pcapPath)"] }
        return arguments
    }

    /// Boots and collects the console until QEMU exits, `stopWhen` returns true for the console
    /// so far, or the timeout passes.
    func boot(stopWhen: ((String) -> Bool)? = nil) throws -> Outcome {
        let running = try RunningMachine(start: self)
        let deadline = Date().addingTimeInterval(timeout)
        var stoppedEarly = false
        while running.isRunning {
            if Date() > deadline { stoppedEarly = true; break }
            if let stopWhen, stopWhen(running.console) { stoppedEarly = true; break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let timedOut = stoppedEarly && Date() > deadline
        let status = running.stop()
        return Outcome(console: running.console, exitStatus: stoppedEarly ? nil : status, timedOut: timedOut)
    }

    /// Boots `cpus` CPUs with `commandLine` on QEMU's user-mode network, a random host UDP port
    /// forwarded to `guestPort`, and runs `body` with the machine and that host port once the
    /// ready line is there.
    static func withForwardedPort<Result>(cpus: Int, commandLine: String? = nil, guestPort: UInt16 = 7,
                                          _ body: (RunningMachine, UInt16) throws -> Result) throws -> Result {
        let port = freePort(udp: true)
        var machine = QEMUMachine(cpus: cpus, commandLine: commandLine)
        machine.network = .user(hostForwards: ["udp:127.0.0.1:\(port)-:\(guestPort)"])
        return try machine.whileRunning { try body($0, port) }
    }

    /// Boots `cpus` CPUs with `commandLine` on QEMU's user-mode network with the metrics port
    /// (9090) forwarded to host port `metricsPort`, plus `extra` forwards, and runs `body` with
    /// the machine and that port once the ready line is there.
    static func withMetrics(cpus: Int, commandLine: String?, metricsPort: UInt16 = freePort(), extra: [String] = [],
                            timeout: TimeInterval = 300, _ body: (RunningMachine, UInt16) throws -> Void) throws {
        var machine = QEMUMachine(cpus: cpus, commandLine: commandLine, timeout: timeout)
        machine.network = .user(hostForwards: ["tcp:127.0.0.1:\(metricsPort)-:9090"] + extra)
        try machine.whileRunning { try body($0, metricsPort) }
    }

    /// Boots with `commandLine` (a `run=udp-echo@N` among it), waits for the program's `ready`
    /// line, and runs UDP echo of 64-byte datagrams at `window` outstanding for `duration`
    /// seconds, scraping `/metrics` just before and after: `body` gets the machine, the replies
    /// counted by the client, and the two scrapes.
    static func withUDPEchoLoad(cpus: Int, commandLine: String, ready: String, window: Int, duration: TimeInterval,
                                _ body: (RunningMachine, Int, _ before: Metrics, _ after: Metrics) throws -> Void) throws {
        let port = freePort(udp: true)
        try withMetrics(cpus: cpus, commandLine: commandLine, extra: ["udp:127.0.0.1:\(port)-:7"]) { running, metricsPort in
            try running.waitFor(ready, timeout: 30)
            let before = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            let replies = try UDPEchoClient.load(host: "127.0.0.1", port: port, window: window, size: 64, duration: duration)
            let after = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            try body(running, replies, before, after)
        }
    }

    /// Sends one command to the QEMU monitor at `monitorSocket` (e.g. `set_link n0 off`) through
    /// scripts/qemu-monitor.py, and returns what the monitor printed back.
    @discardableResult
    func monitor(_ command: String) throws -> String {
        guard let monitorSocket else { throw MachineError(description: "monitor(\(command)): no monitorSocket") }
        let script = QEMUMachine.packageRoot.appendingPathComponent("scripts/qemu-monitor.py").path
        let (status, output) = try runTool(QEMUMachine.findExecutable("python3") ?? "/usr/bin/python3", [script, monitorSocket, command])
        guard status == 0 else { throw MachineError(description: "monitor '\(command)' failed: \(output)") }
        return output
    }

    /// Boots, waits for the ready line, runs `body` beside the running machine, then stops it.
    func whileRunning<Result>(_ body: (RunningMachine) throws -> Result) throws -> Result {
        let running = try RunningMachine(start: self)
        defer { running.stop() }
        try running.waitFor("swiglet: ready", timeout: timeout)
        return try body(running)
    }
}

/// A QEMU process and the console it has printed so far.
final class RunningMachine: @unchecked Sendable {
    private let process = Process()
    private let output = Pipe()
    /// The serial console's input: what `type` writes reaches the guest's COM1.
    private let input = Pipe()
    private let lock = NSLock()
    private var data = Data()

    init(start machine: QEMUMachine) throws {
        let qemu = QEMUMachine.findExecutable("qemu-system-x86_64") ?? "/usr/bin/qemu-system-x86_64"
        if let namespace = machine.namespace {
            process.executableURL = URL(fileURLWithPath: QEMUMachine.findExecutable("ip") ?? "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, qemu] + machine.arguments
        } else {
            process.executableURL = URL(fileURLWithPath: qemu)
            process.arguments = machine.arguments
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let more = handle.availableData
            guard let self, !more.isEmpty else { return }
            self.lock.lock(); self.data.append(more); self.lock.unlock()
        }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Everything QEMU printed so far, carriage returns removed.
    var console: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
    }

    /// Waits until the console contains `text`; throws with the console if it does not.
    func waitFor(_ text: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !console.contains(text) {
            guard isRunning, Date() < deadline else {
                throw MachineError(description: "'\(text)' did not appear within \(Int(timeout)) s\n---- console ----\n\(console)\n---- end of console ----")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Types `text` on the serial console (the shell), as a terminal would send it.
    func type(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    /// Waits until `text` appears at least `count` times on the console.
    func waitFor(_ text: String, count: Int, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while console.components(separatedBy: text).count - 1 < count {
            guard isRunning, Date() < deadline else {
                throw MachineError(description: "'\(text)' did not appear \(count) times within \(Int(timeout)) s\n---- console ----\n\(console.suffix(4000))\n---- end of console ----")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Stops QEMU if it still runs; returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        if let rest = try? output.fileHandleForReading.readToEnd() {
            lock.lock(); data.append(rest); lock.unlock()
        }
        return process.terminationStatus
    }
}

struct MachineError: Error, CustomStringConvertible {
    let description: String
}

/// Whether `console` holds the whole ready line, up to its newline, not just its start: a boot
/// stopped at the first "swiglet: ready" may cut the line (`cpus=`, `net=` …) in the middle.
func hasCompleteReadyLine(_ console: String) -> Bool {
    guard let start = console.range(of: "swiglet: ready") else { return false }
    return console[start.upperBound...].contains("\n")
}
