/// QEMU test of overload: HTTP keep-alive load and a UDP flood at once over a tap must cost no connection — the flood is shed by dropping frames, and the kernel's counters show no reset or close of its own. Needs root.
import Foundation
import XCTest

final class OverloadTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// The sum over all contexts (the series without a `context` label) of `family` with `labels`.
    static func total(_ metrics: Metrics, _ family: String, _ labels: [String]) -> Double {
        metrics.values(family, matching: labels).filter { !$0.key.contains("context=") }.values.reduce(0, +)
    }

    /// wrk (64 keep-alive connections, 30 s, every answer's status and length checked by
    /// wrk-verify.lua) and `swiglet-bench udp-flood` (1,400-byte datagrams to the UDP echo port,
    /// 100,000 a second: more than the UDP echo program, which shares cpu1 with the HTTP server,
    /// can answer, but not more than this 2-core host can carry through the tap — an unpaced
    /// flood starves QEMU and the tap drops TCP and UDP alike before the guest sees them)
    /// at the same time. wrk
    /// must see no connect, read or write error (a connection the server closed or reset
    /// mid-request is a read error) and no wrong answer; the guest's own counters must show
    /// that the flood reached it and that it sent no RST. Requests that took longer than wrk's
    /// 10 s timeout are allowed: the tap drops frames of both kinds when the host cannot
    /// deliver them, and a TCP retransmission after such a drop can wait seconds.
    func testKeepAliveConnectionsSurviveAUDPFlood() throws {
        let wrk = try requireTool("wrk")
        let bench = try TCPRobustnessTests.benchExecutable()
        let space = try NetworkNamespace(tag: "overload")
        defer { space.delete() }
        var machine = QEMUMachine(cpus: 2, commandLine: nil, timeout: 300)
        machine.network = .tap(name: "tap0")
        machine.namespace = space.name
        try machine.whileRunning { running in
            try running.waitFor("http: serving HTTP on port 80", timeout: 120)
            try space.configure(tap: "tap0")
            let before = try UDPEchoClient.inNamespace(space.name) { try Metrics.fetch(host: "10.0.2.15", port: 9090).1 }
            let flood = Process()
            flood.executableURL = URL(fileURLWithPath: space.ip)
            flood.arguments = ["netns", "exec", space.name, bench, "udp-flood", "--size", "1400", "-d", "34", "--rate", "100000", "10.0.2.15:7"]
            let floodOutput = Pipe()
            flood.standardOutput = floodOutput
            flood.standardError = floodOutput
            try flood.run()
            let (status, output) = try runTool(space.ip, ["netns", "exec", space.name, wrk, "-t2", "-c64", "-d30s", "--timeout", "10s",
                                                         "-s", QEMUMachine.packageRoot.appendingPathComponent("scripts/wrk-verify.lua").path,
                                                         "http://10.0.2.15/index.html", "--", "200", "\(try HTTPTests.siteFile("/index.html").count)"], timeout: 120)
            flood.waitUntilExit()
            let floodText = String(decoding: floodOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            print("wrk:\n\(output)\nflood:\n\(floodText)")
            let after = try UDPEchoClient.inNamespace(space.name) { try Metrics.fetch(host: "10.0.2.15", port: 9090).1 }
            print(after.text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("context=") && ($0.contains("resets") || $0.contains("layer=\"udp\"") || $0.hasPrefix("swiglet_channel")) }.joined(separator: "\n"))
            XCTAssertEqual(status, 0, output)
            // wrk-verify's line: every answer checked (status and length), and the socket errors.
            let verify = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("wrk-verify:") }, output)
            var counts: [String: Int] = [:]
            for field in verify.split(separator: " ").dropFirst() {
                let pair = field.split(separator: "=")
                if pair.count == 2, let value = Int(pair[1]) { counts[String(pair[0])] = value }
            }
            XCTAssertGreaterThan(counts["good"] ?? 0, 0, "no request was answered during the flood:\n\(output)")
            for key in ["wrong_status", "wrong_length", "connect", "read", "write", "non_2xx_3xx"] {
                XCTAssertEqual(counts[key], 0, "\(key) under the flood (a connection the server closed or reset is a read error):\n\(output)")
            }
            XCTAssertTrue(floodText.contains("result: mode=udp-flood"), floodText)
            // The guest's counters: the flood arrived, and no connection was reset by it.
            func growth(_ family: String, _ labels: [String]) -> Double {
                Self.total(after, family, labels) - Self.total(before, family, labels)
            }
            // Half the offered flood at least (the rest may be dropped by the tap, outside the guest).
            XCTAssertGreaterThan(growth("swiglet_frames_total", ["layer=\"udp\"", "direction=\"in\""]), 1_500_000, "the flood reached the guest")
            print("shed at the channels: \(after.values("swiglet_channel_drops_total").filter { $0.value > 0 })")
            XCTAssertEqual(growth("swiglet_tcp_resets_total", ["direction=\"out\""]), 0, "the guest reset connections under the flood")
        }
    }
}
