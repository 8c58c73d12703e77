/// QEMU tests of what the metrics port serves to its real consumers: the live meter page in headless Chromium, and /metrics under promtool.
import Foundation
import XCTest

final class MeterPageTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// The page, loaded in headless Chromium while HTTP load runs, draws a row per CPU with its
    /// time split and fills the network table with rates, from at least two samples of /metrics.
    func testMeterPageRendersLiveBarsInChromium() throws {
        let chromium = try requireTool("chromium")
        try withTCPGuest(self, name: "meter-page", cpus: 3, waitFor: ["http: serving HTTP on port 80"]) { running, forwards, problems in
            // Some traffic meanwhile, so that rates move.
            let load = Thread {
                for _ in 0..<200 {
                    guard let client = try? TCPClient(host: forwards.host, port: forwards.http, timeout: 5) else { return }
                    try? client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    _ = client.receiveUntilClosed()
                }
            }
            load.start()
            // Virtual time runs the page's one-second timer several times; the fetches are real.
            let (status, dom) = try runTool(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000",
                                                        "--dump-dom", "http://\(forwards.host):\(forwards.metrics)/"], timeout: 90)
            guard status == 0 else { return problems.append("chromium exited \(status): \(dom.suffix(2000))") }
            let updates = dom.firstMatch(of: /data-updates="(\d+)"/).flatMap { Int($0.1) } ?? 0
            if updates < 2 { problems.append("the page took \(updates) samples of /metrics, expected at least 2") }
            let rows = dom.matches(of: /<tr data-cpu="(\d+)" data-app="([0-9.]+)">/)
            if rows.count != 3 { problems.append("\(rows.count) CPU rows, expected 3:\n\(dom.suffix(3000))") }
            if !dom.contains("class=\"poll\"") { problems.append("cpu0, the network core, is not drawn as polling") }
            if !dom.contains("/s</td>") { problems.append("no rates in the network table:\n\(dom.suffix(2000))") }
            if !dom.contains("net-mode=dedicated") { problems.append("the placement line is missing") }
        }
    }

    /// Prometheus' own checker accepts /metrics (units, names, help and type lines).
    func testMetricsPassPromtool() throws {
        let promtool = try requireTool("promtool")
        try withTCPGuest(self, name: "promtool", cpus: 2, waitFor: ["http: serving HTTP on port 80"]) { running, forwards, problems in
            let (_, metrics) = try Metrics.fetch(host: forwards.host, port: forwards.metrics)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-metrics-\(getpid()).txt")
            try metrics.text.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let (status, output) = try runTool("/bin/sh", ["-c", "\(promtool) check metrics < \(file.path)"])
            if status != 0 || !output.isEmpty { problems.append("promtool check metrics (status \(status)):\n\(output)") }
        }
    }
}
