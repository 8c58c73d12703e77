/// Tests of the experiment file parser: good files, every file in experiments/, and every kind of bad file with its line.
import ExperimentKit
import Foundation
import XCTest

final class ExperimentParserTests: XCTestCase {
    /// A file using every key.
    private let complete = """
        # every key, once
        description = HTTP keep-alive under rising load, with commas
        repetitions = 3
        error-threshold = 0.05   # five percent
        baseline = linux
        boots = per-run
        measure = throughput, cpu-share

        [machine]
        cpus = 2, 4
        memory = 512M
        nic = tap
        queues = 2
        icount = 7
        qemu-options = -global virtio-net-pci.csum=off -global virtio-net-pci.gso=off

        [target dedicated]
        kind = swiglet
        boot = net-mode=dedicated app-wait=spin

        [target linux]
        kind = linux
        qemu-options = -global virtio-net-pci.host_tso4=off

        [load keepalive]
        kind = http-keepalive
        connections = 1, 16, 256
        rate = 0, 5000
        duration = 7.5
        warmup = 0
        path = /index.html#top
        expected-status = 404
        expected-length = auto
        port = 8080
        measure = latency

        [load echo]
        kind = udp-echo
        size = 64, 1K
        window = 1, 32
        boot = run=udp-echo@1
        """

    private func parse(_ text: String, file: String = "experiments/test.exp") throws -> Experiment {
        try ExperimentParser.parse(text, file: file)
    }

    /// The error `text` gets; fails the test when it parses.
    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ExperimentFileError? {
        do {
            _ = try ExperimentParser.parse(text, file: "bad.exp")
            XCTFail("parsed, but should not have", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Checks that `text` is refused at `expectedLine` with a message containing every one of `words`.
    private func assertRefused(_ text: String, line expectedLine: Int?, _ words: String...,
                               file: StaticString = #filePath, line: UInt = #line) {
        guard let error = error(text, file: file, line: line) else { return }
        XCTAssertEqual(error.file, "bad.exp", file: file, line: line)
        XCTAssertEqual(error.line, expectedLine, "\(error)", file: file, line: line)
        for word in words {
            XCTAssertTrue(error.message.contains(word), "'\(error.message)' does not say '\(word)'", file: file, line: line)
        }
    }

    /// A minimal good file with `extra` lines added to the load section.
    private func withLoad(_ lines: String, kind: String = "http-keepalive") -> String {
        "[target a]\nkind = swiglet\n[load l]\nkind = \(kind)\n\(lines)\n"
    }

    func testEveryKeyIsRead() throws {
        let experiment = try parse(complete)
        XCTAssertEqual(experiment.name, "test")
        XCTAssertEqual(experiment.description, "HTTP keep-alive under rising load, with commas")
        XCTAssertEqual(experiment.repetitions, 3)
        XCTAssertEqual(experiment.errorThreshold, 0.05)
        XCTAssertEqual(experiment.baseline, "linux")
        XCTAssertEqual(experiment.boots, .perRun)
        XCTAssertEqual(experiment.machine, MachineSettings(cpus: [2, 4], memory: "512M", nic: .tap, queues: 2, icount: .shift(7),
                                                           qemuOptions: ["-global", "virtio-net-pci.csum=off", "-global", "virtio-net-pci.gso=off"]))
        XCTAssertEqual(experiment.targets, [
            Target(name: "dedicated", kind: .swiglet, bootOptions: "net-mode=dedicated app-wait=spin"),
            Target(name: "linux", kind: .linux, qemuOptions: ["-global", "virtio-net-pci.host_tso4=off"]),
        ])
        let keepalive = try XCTUnwrap(experiment.load(named: "keepalive"))
        XCTAssertEqual(keepalive.kind, .httpKeepAlive)
        XCTAssertEqual(keepalive.sweeps, [.connections: [1, 16, 256], .rate: [0, 5000]])
        XCTAssertEqual(keepalive.duration, 7.5)
        XCTAssertEqual(keepalive.warmup, 0)
        XCTAssertEqual(keepalive.path, "/index.html#top")
        XCTAssertEqual(keepalive.expectedStatus, 404)
        XCTAssertEqual(keepalive.expectedLength, .learned)
        XCTAssertEqual(keepalive.port, 8080)
        XCTAssertEqual(keepalive.measurements, [.latency])
        let echo = try XCTUnwrap(experiment.load(named: "echo"))
        XCTAssertEqual(echo.sweeps, [.size: [64, 1024], .window: [1, 32], .rate: [0]])
        XCTAssertEqual(echo.port, 7)
        XCTAssertEqual(echo.measurements, [.throughput, .cpuShare], "the top level's measure")
        XCTAssertEqual(echo.swigletBootOptions, "run=udp-echo@1")
        XCTAssertEqual(experiment.sourceText, complete)
    }

    func testDefaults() throws {
        let experiment = try parse("[target s]\nkind = swiglet\n[load h]\nkind = http-close\n")
        XCTAssertEqual(experiment.repetitions, 5)
        XCTAssertEqual(experiment.errorThreshold, 0, "by default any error fails a run")
        XCTAssertNil(experiment.baseline)
        XCTAssertEqual(experiment.boots, .shared)
        XCTAssertEqual(experiment.machine, MachineSettings(cpus: [2], memory: "256M", nic: .tap, queues: 1, icount: .off, qemuOptions: []))
        let load = experiment.loads[0]
        XCTAssertEqual(load.sweeps, [.connections: [16], .rate: [0]])
        XCTAssertEqual(load.duration, 10)
        XCTAssertEqual(load.warmup, 2)
        XCTAssertEqual(load.port, 80)
        XCTAssertEqual(load.path, "/")
        XCTAssertEqual(load.expectedStatus, 200)
        XCTAssertEqual(load.expectedLength, .learned, "answers are checked unless the file says not to")
        XCTAssertEqual(load.measurements, [.throughput, .latency])
        XCTAssertEqual(experiment.targets[0].bootOptions, "")
    }

    func testMeasuresTheHostsCPUWhenAsked() throws {
        let experiment = try parse("measure = throughput, host-cpu\n[target s]\nkind = swiglet\n[load e]\nkind = udp-echo\n")
        XCTAssertEqual(experiment.loads[0].measurements, [.throughput, .hostCPU])
    }

    func testEveryLoadKindsDefaults() throws {
        let bulk = try parse(withLoad("", kind: "tcp-bulk")).loads[0]
        XCTAssertEqual(bulk.sweeps, [.connections: [1], .size: [65536]])
        XCTAssertEqual(bulk.port, 7)
        let echo = try parse(withLoad("connections = 4\nsize = 1M", kind: "tcp-echo")).loads[0]
        XCTAssertEqual(echo.sweeps, [.connections: [4], .size: [1 << 20], .window: [1], .rate: [0]])
    }

    func testCommentsBlankLinesAndWindowsLineEnds() throws {
        let text = "# heading\r\n\r\n   # indented comment\r\n[target a]   # trailing\r\nkind = swiglet\r\n[load l]\r\nkind=udp-echo\r\nsize=64,1024# not a comment: no space before\r\n"
        XCTAssertNil(refusal(text.replacingOccurrences(of: "1024#", with: "1024 #")))
        // The `#` after `1024` without a space is part of the value, so the number is bad.
        guard let refused = refusal(text) else { return XCTFail("parsed") }
        XCTAssertEqual(refused.line, 8)
        XCTAssertTrue(refused.message.contains("1024#"), refused.message)
    }

    /// Every experiment the repository ships parses, and its plan has runs.
    func testEveryShippedExperimentParses() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../experiments").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".exp") }.sorted()
        XCTAssertTrue(Set(files).isSuperset(of: ["connections.exp", "http.exp", "intrusion.exp", "placement.exp", "udp-echo.exp"]),
                      "\(files)")
        for file in files {
            let path = directory.appendingPathComponent(file).path
            do {
                let experiment = try ExperimentParser.parse(contentsOf: path)
                XCTAssertEqual(experiment.name + ".exp", file)
                XCTAssertFalse(experiment.description.isEmpty, file)
                XCTAssertFalse(ExperimentPlan(experiment).runs.isEmpty, file)
            } catch {
                XCTFail("\(error)")
            }
        }
    }

    func testShippedIntrusionExperiment() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../experiments")
        let experiment = try ExperimentParser.parse(contentsOf: directory.appendingPathComponent("intrusion.exp").path)
        XCTAssertEqual(experiment.targets.map(\.name), ["dedicated", "symmetric", "linux"])
        XCTAssertEqual(experiment.machine.cpus, [2, 4])
        XCTAssertEqual(experiment.loads[0].sweeps[.connections], [1, 4, 16, 64, 256])
        XCTAssertEqual(experiment.loads[0].measurements, Set(Measurement.allCases))
        // 5 connection counts × 2 CPU counts × 3 targets × 5 repetitions.
        XCTAssertEqual(ExperimentPlan(experiment).runs.count, 150)
    }

    // MARK: Bad files, each with its line

    /// The error `text` gets, or nil when it parses.
    private func refusal(_ text: String) -> ExperimentFileError? {
        do {
            _ = try ExperimentParser.parse(text, file: "bad.exp")
            return nil
        } catch {
            return error
        }
    }

    func testUnknownKeysAreErrorsWithAHint() {
        assertRefused(withLoad("conections = 4"), line: 5, "unknown key 'conections'", "[load l]", "did you mean 'connections'")
        assertRefused("repetition = 3\n" + withLoad(""), line: 1, "unknown key 'repetition'", "at the top level", "'repetitions'")
        assertRefused("cpus = 2\n" + withLoad(""), line: 1, "unknown key 'cpus'", "belongs in [machine]")
        assertRefused("[machine]\nsmp = 2\n" + withLoad(""), line: 2, "unknown key 'smp'", "[machine]")
        assertRefused("[target a]\nkind = swiglet\ncmdline = log=debug\n[load l]\nkind = udp-echo\n", line: 3, "'cmdline'", "[target a]")
        assertRefused(withLoad("bogus = 1"), line: 5, "unknown key 'bogus'")
        assertRefused("error_threshold = 0.1\n" + withLoad(""), line: 1, "did you mean 'error-threshold'")
        assertRefused(withLoad("max connections = 4"), line: 5, "bad key 'max connections'")
    }

    func testUnknownSectionsAndBadHeaders() {
        assertRefused("[targets a]\nkind = swiglet\n", line: 1, "unknown section '[targets]'")
        assertRefused("[target]\nkind = swiglet\n", line: 1, "[target NAME] needs exactly one name")
        assertRefused("[target a b]\n", line: 1, "exactly one name")
        assertRefused("[machine big]\n", line: 1, "[machine] takes no name")
        assertRefused("[target a/b]\n", line: 1, "bad target name 'a/b'")
        assertRefused("[load x\n", line: 1, "must end with ']'")
        assertRefused("\n\njust words\n", line: 3, "expected 'key = value'")
        assertRefused(withLoad("= 4"), line: 5, "names no key")
        assertRefused(withLoad("duration ="), line: 5, "'duration' has no value")
    }

    func testBadNumbers() {
        assertRefused(withLoad("connections = 1, four, 16"), line: 5, "'connections' must be a whole number", "'four'")
        assertRefused(withLoad("connections = 0"), line: 5, "'connections' must be between 1 and")
        assertRefused(withLoad("connections = 1,,4"), line: 5, "empty item")
        assertRefused(withLoad("connections = 4, 16, 4"), line: 5, "lists 4 twice")
        assertRefused(withLoad("duration = soon"), line: 5, "'duration' must be a number", "'soon'")
        assertRefused(withLoad("duration = 0"), line: 5, "'duration' must be between")
        assertRefused(withLoad("port = 70000"), line: 5, "'port' must be between 1 and 65535")
        assertRefused(withLoad("expected-status = 2000"), line: 5, "'expected-status'")
        assertRefused(withLoad("expected-length = long"), line: 5, "'expected-length' must be a number of bytes, auto or any", "'long'")
        XCTAssertEqual(try parse(withLoad("expected-length = any")).loads[0].expectedLength, .any)
        XCTAssertEqual(try parse(withLoad("expected-length = 544")).loads[0].expectedLength, .bytes(544))
        assertRefused(withLoad("size = 8", kind: "udp-echo"), line: 5, "'size' must be between 20 and 1472")
        assertRefused(withLoad("size = 64X", kind: "udp-echo"), line: 5, "'size' must be a whole number (or with K, M, G)")
        assertRefused(withLoad("window = 2048", kind: "udp-echo"), line: 5, "'window'")
        assertRefused("repetitions = 0\n" + withLoad(""), line: 1, "'repetitions' must be between 1")
        assertRefused("error-threshold = 1.5\n" + withLoad(""), line: 1, "'error-threshold' must be between 0 and 1")
        assertRefused("[machine]\ncpus = 2, 4, x\n" + withLoad(""), line: 2, "'cpus'", "'x'")
        assertRefused("[machine]\nmemory = lots\n" + withLoad(""), line: 2, "'memory' must be a size")
        assertRefused("[machine]\nqueues = 9\n" + withLoad(""), line: 2, "'queues' must be between 1 and 8")
        assertRefused("[machine]\nicount = 11\n" + withLoad(""), line: 2, "'icount' must be off, auto or a shift")
    }

    func testBadChoices() {
        assertRefused("[target a]\nkind = bsd\n", line: 2, "'kind' must be one of swiglet, linux", "'bsd'")
        assertRefused(withLoad("", kind: "http-pipelined"), line: 4, "'kind' must be one of", "'http-pipelined'")
        assertRefused("[machine]\nnic = bridge\n" + withLoad(""), line: 2, "'nic' must be one of tap, user")
        assertRefused("boots = sometimes\n" + withLoad(""), line: 1, "'boots' must be one of shared, per-run")
        assertRefused("measure = throughput, power\n" + withLoad(""), line: 1, "'measure' takes", "'power'")
        assertRefused(withLoad("measure = latency, latency"), line: 5, "lists latency twice")
    }

    func testParametersTheLoadKindDoesNotTake() {
        assertRefused(withLoad("connections = 4", kind: "udp-echo"), line: 5,
                      "load kind 'udp-echo' takes no 'connections'", "size, window, rate")
        assertRefused(withLoad("window = 4"), line: 5, "load kind 'http-keepalive' takes no 'window'")
        assertRefused(withLoad("size = 64"), line: 5, "takes no 'size'")
        assertRefused(withLoad("rate = 100", kind: "tcp-bulk"), line: 5, "load kind 'tcp-bulk' takes no 'rate'")
        assertRefused(withLoad("path = /index.html", kind: "udp-echo"), line: 5, "load kind 'udp-echo' takes no 'path'")
        assertRefused(withLoad("expected-status = 200", kind: "tcp-echo"), line: 5, "takes no 'expected-status'")
        assertRefused(withLoad("expected-length = auto", kind: "tcp-bulk"), line: 5, "takes no 'expected-length'")
        assertRefused(withLoad("path = index.html"), line: 5, "'path' must start with '/'")
    }

    func testDuplicates() {
        assertRefused("[target a]\nkind = swiglet\n[target a]\nkind = linux\n", line: 3, "[target a] is already defined on line 1")
        assertRefused(withLoad("[load l]\nkind = udp-echo"), line: 5, "[load l] is already defined on line 3")
        assertRefused("[machine]\n[machine]\n", line: 2, "[machine] is already defined on line 1")
        assertRefused(withLoad("duration = 5\nduration = 6"), line: 6, "'duration' is already set on line 5")
        assertRefused("repetitions = 3\nrepetitions = 4\n", line: 2, "already set on line 1")
    }

    func testNoTargetsOrNoLoads() {
        assertRefused("description = nothing\n[load l]\nkind = udp-echo\n", line: nil, "no [target NAME] section")
        assertRefused("[target a]\nkind = linux\n", line: nil, "no [load NAME] section")
        assertRefused("", line: nil, "no [target NAME] section")
        XCTAssertEqual(refusal("[target a]\nkind = linux\n")?.description, "bad.exp: no [load NAME] section: nothing to measure with")
    }

    func testMissingKind() {
        assertRefused("[target a]\nboot = log=debug\n[load l]\nkind = udp-echo\n", line: 1, "[target a] needs 'kind = '", "swiglet, linux")
        assertRefused("[target a]\nkind = linux\n[load l]\nsize = 64\n", line: 3, "[load l] needs 'kind = '")
    }

    /// `image` boots another build of Swiglet in the same experiment (two builds, one
    /// sitting); Linux targets and paths with spaces are refused.
    func testImageOfASwigletTarget() throws {
        let experiment = try parse("[target before]\nkind = swiglet\nimage = images/before.iso\n[target after]\nkind = swiglet\n"
                                   + "[target linux]\nkind = linux\n[load x]\nkind = udp-echo\n")
        XCTAssertEqual(experiment.targets.map(\.swigletImage), ["images/before.iso", "images/swiglet.iso", nil])
        assertRefused("[target l]\nkind = linux\nimage = images/a.iso\n[load x]\nkind = udp-echo\n", line: 3,
                      "a linux target takes no 'image'")
        assertRefused("[target s]\nkind = swiglet\nimage = my image.iso\n[load x]\nkind = udp-echo\n", line: 3,
                      "one path to an ISO")
        assertRefused("[target s]\nkind = swiglet\nimages = a.iso\n[load x]\nkind = udp-echo\n", line: 3,
                      "unknown key 'images'", "image")
    }

    func testBootOptions() {
        assertRefused("[target l]\nkind = linux\nboot = quiet\n[load x]\nkind = udp-echo\n", line: 3,
                      "a linux target takes no 'boot'")
        assertRefused("[target s]\nkind = swiglet\nboot = net-mode=symetric\n[load x]\nkind = udp-echo\n", line: 3,
                      "bad boot option value 'net-mode=symetric'")
        assertRefused("[target s]\nkind = swiglet\nboot = quiet\n[load x]\nkind = udp-echo\n", line: 3,
                      "unknown boot option 'quiet'")
        assertRefused("[target s]\nkind = swiglet\nboot = log=debug,net=on\n[load x]\nkind = udp-echo\n", line: 3,
                      "cannot contain ','")
        // The placement planner: net-cpu= with symmetric, and a network CPU the machine lacks.
        assertRefused("[target s]\nkind = swiglet\nboot = net-mode=symmetric net-cpu=1\n[load x]\nkind = udp-echo\n", line: 3,
                      "refused with cpus = 2", "symmetric")
        assertRefused("[machine]\ncpus = 4, 2\n[target s]\nkind = swiglet\nboot = net-cpu=3\n[load x]\nkind = udp-echo\n", line: 5,
                      "refused with cpus = 2", "not online")
        assertRefused("[target s]\nkind = swiglet\nboot = net-cpus=0+1\n[load x]\nkind = udp-echo\n", line: 3,
                      "more network CPUs than NIC queue pairs")
        // A load's options are checked with each Swiglet target's, at the load's `boot` line.
        assertRefused("[target s]\nkind = swiglet\n[load x]\nkind = udp-echo\nboot = run=udp-echo@0\n", line: 5,
                      "[load x] with target s", "run=udp-echo@0", "application CPUs: 1")
        assertRefused("[target s]\nkind = swiglet\n[load x]\nkind = udp-echo\nboot = run=udp-echo@1 bogus\n", line: 5,
                      "unknown boot option 'bogus'")
    }

    func testCrossChecks() {
        assertRefused("baseline = linx\n[target linux]\nkind = linux\n[load x]\nkind = udp-echo\n", line: 1,
                      "baseline 'linx' is not a target", "targets: linux")
        assertRefused("[machine]\nnic = user\nqueues = 2\n" + withLoad(""), line: 3, "queues = 2 needs nic = tap")
        assertRefused("[machine]\nqemu-options = -name \"a b\"\n" + withLoad(""), line: 2, "cannot contain quotes")
    }

    func testErrorDescriptionNamesFileAndLine() {
        XCTAssertEqual(refusal(withLoad("conections = 4"))?.description,
                       "bad.exp:5: unknown key 'conections' in [load l] (did you mean 'connections'?)")
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try ExperimentParser.parse(contentsOf: "/nonexistent/x.exp")) { error in
            XCTAssertEqual((error as? ExperimentFileError)?.line, nil)
            XCTAssertEqual((error as? ExperimentFileError)?.file, "/nonexistent/x.exp")
        }
    }
}
