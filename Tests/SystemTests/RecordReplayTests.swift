/// QEMU test of record and replay: a guest records an impaired-link session of UDP echo and HTTP (the network core's own services), the host saves the recording from the guest's memory, and swiglet-replay finds the replay identical.
import Foundation
import XCTest

final class RecordReplayTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// swiglet-replay beside the test bundle or in a .build* directory.
    static func replayExecutable() throws -> String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [bundle.appendingPathComponent("swiglet-replay").path,
                          bundle.deletingLastPathComponent().appendingPathComponent("swiglet-replay").path]
        candidates.append(QEMUMachine.packageRoot.appendingPathComponent(".build/debug/swiglet-replay").path)
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        let message = "swiglet-replay not found (build it: swift build --product swiglet-replay)"
        if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil { XCTFail(message) }
        throw XCTSkip(message)
    }

    /// `record=on run=none` with 3% drops, 3% duplicates and 5% reordering on received frames:
    /// UDP echo of several sizes (the network core's own echo) and HTTP GETs of /metrics and
    /// the meter page (its own endpoint), then QEMU's monitor stops the guest and saves the
    /// ring. The replay must consume every event up to the end (or to the cut inside the last
    /// pass), rebuild every frame byte for byte, and find no divergence and nothing unsupported.
    func testAnImpairedSessionRecordedInTheGuestReplaysIdenticallyOnTheHost() throws {
        let replay = try Self.replayExecutable()
        let udpPort = QEMUMachine.freePort(udp: true), metricsPort = QEMUMachine.freePort()
        var machine = QEMUMachine(cpus: 2, commandLine: "record=on run=none impair-rx=drop=3:dup=3:reorder=5 impair-seed=9", timeout: 180)
        machine.network = .user(hostForwards: ["udp:127.0.0.1:\(udpPort)-:7", "tcp:127.0.0.1:\(metricsPort)-:9090"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-record-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        machine.monitorSocket = directory.appendingPathComponent("monitor.sock").path
        let saved = directory.appendingPathComponent("recording.bin").path
        try machine.whileRunning { running in
            let line = try XCTUnwrap(running.console.split(separator: "\n").first { $0.contains("record: recording network context 0 into") },
                                     running.console)
            let words = line.split(separator: " ")
            let address = try XCTUnwrap(words.firstIndex(of: "pmemsave").map { String(words[$0 + 1]) }, String(line))
            let size = try XCTUnwrap(words.firstIndex(of: "pmemsave").map { String(words[$0 + 2]) }, String(line))
            XCTAssertTrue(running.console.contains("programs: none started while the network is recorded (record=on)"), running.console)

            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: udpPort, sizes: [1, 64, 512, 1000, 1472], tries: 8)
            XCTAssertEqual(failures.map(\.description), [], "UDP echo over the impaired link")
            for path in ["/metrics", "/", "/metrics"] {
                let client = try TCPClient(host: "127.0.0.1", port: metricsPort, timeout: 30)
                try client.send("GET \(path) HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                var pending: [UInt8] = []
                let response = try HTTPResponse.read(from: client, pending: &pending)
                XCTAssertEqual(response.status, 200, path)
            }
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            XCTAssertGreaterThan(metrics["swiglet_record_events"] ?? 0, 100, metrics.text)
            XCTAssertEqual(metrics["swiglet_record_full"], 0)

            try machine.monitor("stop")
            // The file name in quotes: the monitor reads the size as an expression, and '/' divides.
            print("monitor: " + (try machine.monitor("pmemsave \(address) \(size) \"\(saved)\"")))
            var attempts = 0
            while (try? FileManager.default.attributesOfItem(atPath: saved)[.size] as? Int) != Int(size) && attempts < 50 {
                Thread.sleep(forTimeInterval: 0.2)
                attempts += 1
            }
        }
        let (status, output) = try runTool(replay, [saved], timeout: 600)
        print("swiglet-replay:\n\(output)")
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("result: identical"), output)
        let framesOut = output.components(separatedBy: "frames_out=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        let framesIn = output.components(separatedBy: "frames_in=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        XCTAssertGreaterThan(framesOut, 20, "frames the replay rebuilt and compared")
        XCTAssertGreaterThan(framesIn, 20)
    }

    /// What a replay could not follow is refused at boot with the reason, and the machine goes
    /// on unrecorded: programs named with run=, symmetric mode. While recording, the shell's
    /// `run` is refused too.
    func testRecordingRefusesWhatItCannotReplay() throws {
        let cases: [(String, String)] = [
            ("record=on run=udp-echo@1", "record=on: not recording, because run= starts programs"),
            ("record=on run=none net-mode=symmetric", "record=on: not recording: it records one network context in net-mode=dedicated"),
        ]
        for (commandLine, reason) in cases {
            var machine = QEMUMachine(cpus: 2, commandLine: commandLine)
            machine.network = .user(hostForwards: [])
            try machine.whileRunning { running in
                XCTAssertTrue(running.console.contains(reason), "\(commandLine)\n\(running.console)")
                XCTAssertFalse(running.console.contains("record: recording network context"), running.console)
            }
        }
        var machine = QEMUMachine(cpus: 2, commandLine: "record=on run=none")
        machine.network = .user(hostForwards: [])
        try machine.whileRunning { running in
            try running.waitFor("record: recording network context 0", timeout: 10)
            running.type("run udp-echo\r")
            try running.waitFor("programs: udp-echo not started: record=on records the network core alone", timeout: 20)
        }
    }
}
