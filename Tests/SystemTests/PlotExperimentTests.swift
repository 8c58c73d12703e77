/// scripts/plot-experiment.py on the fixture results (Tests/Fixtures/experiment-results): the
/// figures exist as valid PNG and SVG, name the experiment, date and commit, and a point whose
/// every run failed is drawn as a gap and a marker, never as a number. Needs no QEMU, only
/// Python with matplotlib: skipped without it, failed under SWIGLET_REQUIRE_QEMU (make test).
import Foundation
import XCTest

final class PlotExperimentTests: XCTestCase {
    private static let script = QEMUMachine.packageRoot.appendingPathComponent("scripts/plot-experiment.py")
    private static let fixture = QEMUMachine.packageRoot.appendingPathComponent("Tests/Fixtures/experiment-results")
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-plot-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Debian's python3 (the one python3-matplotlib installs into), else the first on PATH;
    /// skips, or fails under SWIGLET_REQUIRE_QEMU, when it has no matplotlib.
    private func pythonWithMatplotlib() throws -> String {
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3"
            : try requireTool("python3")
        let (status, output) = try runTool(python, ["-c", "import matplotlib"])
        guard status == 0 else {
            let message = "\(python) has no matplotlib (install python3-matplotlib: scripts/install-deps.sh): \(output)"
            if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil { XCTFail(message) }
            throw XCTSkip(message)
        }
        return python
    }

    private func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    private func panel(_ figure: [String: Any], _ title: String) throws -> [String: Any] {
        let panels = try XCTUnwrap(figure["panels"] as? [[String: Any]])
        return try XCTUnwrap(panels.first { $0["title"] as? String == title }, "no panel '\(title)' in \(panels.map { $0["title"] ?? "" })")
    }

    /// The y drawn at x for the series labelled `label` of a panel: nil when the line has a gap there.
    private func y(in panel: [String: Any], label: String, at x: Double, kind: String = "series") throws -> Double? {
        let lines = try XCTUnwrap(panel["lines"] as? [[String: Any]])
        let line = try XCTUnwrap(lines.first { $0["label"] as? String == label && $0["kind"] as? String == kind },
                                 "no \(kind) line '\(label)' in panel \(panel["title"] ?? "")")
        let xs = try XCTUnwrap(line["x"] as? [Any]).map { $0 as? Double }
        let ys = try XCTUnwrap(line["y"] as? [Any]).map { $0 as? Double }
        let index = try XCTUnwrap(xs.firstIndex(of: x), "no x = \(x) in '\(label)'")
        return ys[index]
    }

    private func failedXs(in panel: [String: Any]) throws -> [Double] {
        try XCTUnwrap(panel["failed"] as? [[String: Any]]).flatMap { ($0["x"] as? [Any] ?? []).compactMap { $0 as? Double } }
    }

    func testFiguresOfTheFixture() throws {
        let python = try pythonWithMatplotlib()
        let results = scratch.appendingPathComponent("results")
        try FileManager.default.copyItem(at: Self.fixture, to: results)
        let plotted = scratch.appendingPathComponent("plotted.json")
        let (status, output) = try runTool(python, [Self.script.path, results.path, "--plotted-json", plotted.path], timeout: 300)
        XCTAssertEqual(status, 0, output)

        let stems = ["throughput-keepalive", "latency-keepalive", "ratio-keepalive", "cpu-share-keepalive", "host-cpu-keepalive"]
        let pngSignature = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        for stem in stems {
            let png = try Data(contentsOf: results.appendingPathComponent("\(stem).png"))
            XCTAssertEqual(png.prefix(8), pngSignature, "\(stem).png is not a PNG")
            XCTAssertGreaterThan(png.count, 10_000, "\(stem).png is suspiciously small")
            let svg = try String(contentsOf: results.appendingPathComponent("\(stem).svg"), encoding: .utf8)
            XCTAssertTrue(svg.contains("<svg"), "\(stem).svg is not an SVG")
        }

        let drawn = try json(plotted)
        XCTAssertEqual(Set(drawn.keys), Set(stems))
        for stem in stems {
            let title = try XCTUnwrap((drawn[stem] as? [String: Any])?["title"] as? String)
            for part in ["intrusion-mini", "2026-12-05 12:21 UTC", "commit fd44a1079178"] {
                XCTAssertTrue(title.contains(part), "\(stem)'s title '\(title)' does not name \(part)")
            }
        }

        // Throughput: symmetric failed every run at 4 CPUs and 256 connections (raw.csv still
        // holds the rates those runs measured): a gap and a cross, while its other points and
        // the other targets' have numbers.
        let throughput = try XCTUnwrap(drawn["throughput-keepalive"] as? [String: Any])
        let four = try panel(throughput, "4 CPUs")
        XCTAssertNil(try y(in: four, label: "symmetric", at: 256), "a failed point was drawn as a number")
        XCTAssertEqual(try failedXs(in: four), [256])
        XCTAssertNotNil(try y(in: four, label: "symmetric", at: 16))
        XCTAssertNotNil(try y(in: four, label: "linux", at: 256))
        XCTAssertNotNil(try y(in: four, label: "dedicated", at: 256))
        let two = try panel(throughput, "2 CPUs")
        XCTAssertEqual(try failedXs(in: two), [], "only partial failures at 2 CPUs")
        let partialRate = try XCTUnwrap(try y(in: two, label: "dedicated", at: 256))
        XCTAssertEqual(try y(in: two, label: "dedicated", at: 256, kind: "partial"), partialRate, "a partial point is ringed")

        // Latency: both percentiles have the gap.
        let latency = try panel(try XCTUnwrap(drawn["latency-keepalive"] as? [String: Any]), "4 CPUs")
        XCTAssertNil(try y(in: latency, label: "symmetric p50", at: 256))
        XCTAssertNil(try y(in: latency, label: "symmetric p99", at: 256))
        XCTAssertNotNil(try y(in: latency, label: "linux p99", at: 256))

        // Ratio to linux: no ratio for the failed point, a marker instead.
        let ratio = try panel(try XCTUnwrap(drawn["ratio-keepalive"] as? [String: Any]), "requests/s, 4 CPUs")
        XCTAssertNil(try y(in: ratio, label: "symmetric / linux", at: 256))
        XCTAssertEqual(try failedXs(in: ratio), [256])
        let dedicatedRatio = try XCTUnwrap(try y(in: ratio, label: "dedicated / linux", at: 16))
        XCTAssertGreaterThan(dedicatedRatio, 1, "the fixture's dedicated beats linux")

        // CPU shares: no bar for the failed point, a marker; bars of a point stack to at most 1.
        let shares = try XCTUnwrap(drawn["cpu-share-keepalive"] as? [String: Any])
        let symmetricFour = try panel(shares, "symmetric, 4 CPUs")
        let bars = try XCTUnwrap(symmetricFour["bars"] as? [[String: Any]])
        XCTAssertFalse(bars.contains { $0["point"] as? String == "keepalive/cpus=4/connections=256/rate=0" },
                       "bars drawn for a failed point")
        XCTAssertEqual(Set(bars.compactMap { $0["cpu"] as? Int }), [0, 1, 2, 3])
        XCTAssertEqual(try failedXs(in: symmetricFour), [2], "the third load level (256) is marked failed")
        // Linux's bars: user, irq+softirq, system, idle stacked in that order on every CPU.
        let linuxTwo = try XCTUnwrap(try panel(shares, "linux, 2 CPUs")["bars"] as? [[String: Any]])
        XCTAssertEqual(linuxTwo.count, 3 * 2 * 4, "3 load levels x 2 CPUs x 4 segments")
        var tops: [String: Double] = [:]
        for bar in linuxTwo {
            let stack = "\(bar["point"] ?? "") cpu\(bar["cpu"] ?? "")"
            XCTAssertEqual(try XCTUnwrap(bar["bottom"] as? Double), tops[stack] ?? 0, accuracy: 1e-9, "\(bar)")
            tops[stack] = try XCTUnwrap(bar["bottom"] as? Double) + XCTUnwrap(bar["height"] as? Double)
        }
        XCTAssertEqual(linuxTwo.prefix(4).compactMap { $0["segment"] as? String }, ["application", "network", "kernel", "idle"])
        for (stack, top) in tops { XCTAssertEqual(top, 1, accuracy: 0.05, "\(stack): the shares of a CPU add up to about 1") }

        // Host CPU: one bar per load level, vCPU threads, I/O thread, other QEMU threads and the
        // rest stacked in that order, up to QEMU's time plus the rest; none for the failed point.
        let host = try XCTUnwrap(drawn["host-cpu-keepalive"] as? [String: Any])
        let hostFour = try XCTUnwrap(try panel(host, "symmetric, 4 CPUs")["bars"] as? [[String: Any]])
        XCTAssertFalse(hostFour.contains { $0["point"] as? String == "keepalive/cpus=4/connections=256/rate=0" },
                       "host bars drawn for a failed point")
        let dedicatedTwo = try XCTUnwrap(try panel(host, "dedicated, 2 CPUs")["bars"] as? [[String: Any]])
        XCTAssertEqual(dedicatedTwo.count, 3 * 4, "3 load levels x 4 segments")
        XCTAssertEqual(dedicatedTwo.prefix(4).compactMap { $0["segment"] as? String }, ["vcpus", "io", "qemu-other", "rest"])
        let lone = dedicatedTwo.filter { $0["point"] as? String == "keepalive/cpus=2/connections=1/rate=0" }
        let vcpus = try XCTUnwrap(lone.first { $0["segment"] as? String == "vcpus" }?["height"] as? Double)
        XCTAssertGreaterThan(vcpus, 95, "the polling network core's vCPU thread alone is about one host core")
        var top = 0.0
        for bar in lone {
            XCTAssertEqual(try XCTUnwrap(bar["bottom"] as? Double), top, accuracy: 1e-9, "\(bar)")
            top += try XCTUnwrap(bar["height"] as? Double)
        }
        XCTAssertLessThanOrEqual(top, 220, "a 2-core host cannot be much more than 200% busy")
    }

    func testDirectoryWithoutSummaryIsAClearError() throws {
        let python = try pythonWithMatplotlib()
        let (status, output) = try runTool(python, [Self.script.path, scratch.path])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("has no summary.csv"), output)
        let (helpStatus, help) = try runTool(python, [Self.script.path, "--help"])
        XCTAssertEqual(helpStatus, 0, help)
        XCTAssertTrue(help.contains("usage: scripts/plot-experiment.py RESULTS_DIR"), help)
    }
}
