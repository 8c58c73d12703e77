/// QEMU test of record and replay: a guest records an impaired-link session of its programs (HTTP, UDP echo) and its own /metrics, the host saves the recording from the guest's memory, and swiglet-replay finds the replay identical.
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

    /// `record=on` with the default programs (HTTP, TCP echo, UDP echo, on cpu1) and 3% drops,
    /// 3% duplicates and 5% reordering on received frames: UDP echo of several sizes through
    /// the `udp-echo` program, GETs of the `http` program's pages, and GETs of the network
    /// core's own /metrics. Then QEMU's monitor stops the guest and saves the ring. The replay,
    /// with no program present, must consume every event up to the end (or to the cut inside
    /// the last pass), rebuild every frame and every completion byte for byte, and find no
    /// divergence. That the programs did the work is read from the kernel's channel counters.
    func testAnImpairedSessionRecordedInTheGuestReplaysIdenticallyOnTheHost() throws {
        let replay = try Self.replayExecutable()
        let udpPort = QEMUMachine.freePort(udp: true), metricsPort = QEMUMachine.freePort(), httpPort = QEMUMachine.freePort()
        var machine = QEMUMachine(cpus: 2, commandLine: "record=on impair-rx=drop=3:dup=3:reorder=5 impair-seed=9", timeout: 180)
        machine.network = .user(hostForwards: ["udp:127.0.0.1:\(udpPort)-:7", "tcp:127.0.0.1:\(metricsPort)-:9090",
                                               "tcp:127.0.0.1:\(httpPort)-:80"])
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
            try running.waitFor("udp-echo: serving UDP echo on port 7", timeout: 30)
            try running.waitFor("serving HTTP on port 80", timeout: 30)

            let failures = try UDPEchoClient.check(host: "127.0.0.1", port: udpPort, sizes: [1, 64, 512, 1000, 1472], tries: 8)
            XCTAssertEqual(failures.map(\.description), [], "UDP echo over the impaired link")
            for (port, path) in [(httpPort, "/"), (metricsPort, "/metrics"), (httpPort, "/"), (httpPort, "/missing")] {
                let client = try TCPClient(host: "127.0.0.1", port: port, timeout: 30)
                try client.send("GET \(path) HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                var pending: [UInt8] = []
                let response = try HTTPResponse.read(from: client, pending: &pending)
                XCTAssertEqual(response.status, path == "/missing" ? 404 : 200, "\(port) \(path)")
            }
            let metrics = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            XCTAssertGreaterThan(metrics["swiglet_record_events"] ?? 0, 100, metrics.text)
            XCTAssertEqual(metrics["swiglet_record_full"], 0)
            // The programs did the work, by the network core's count, not theirs.
            XCTAssertGreaterThan(metrics.sum("swiglet_channel_requests_total"), 10, metrics.text)
            XCTAssertGreaterThan(metrics.sum("swiglet_channel_stream_bytes_total", matching: ["direction=\"out\""]), 200, metrics.text)

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
        func field(_ name: String) -> Int { output.components(separatedBy: "\(name)=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0 }
        XCTAssertGreaterThanOrEqual(field("channels"), 3, "the three programs' channels")
        XCTAssertGreaterThan(field("requests"), 10, "program requests replayed")
        XCTAssertGreaterThan(field("completions"), 10, "completions rebuilt and compared")
    }

    /// What a replay could not follow is refused at boot with the reason, and the machine goes
    /// on unrecorded: symmetric mode (several CPUs would share the context).
    func testRecordingRefusesWhatItCannotReplay() throws {
        var machine = QEMUMachine(cpus: 2, commandLine: "record=on net-mode=symmetric")
        machine.network = .user(hostForwards: [])
        try machine.whileRunning { running in
            try running.waitFor("swiglet: ready", timeout: 30)
            XCTAssertTrue(running.console.contains("record=on: not recording: it records one network context in net-mode=dedicated"),
                          running.console)
            XCTAssertFalse(running.console.contains("record: recording network context"), running.console)
        }
    }
}
