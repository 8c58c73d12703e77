/// Tests of metadata.json's model and the host facts read from /proc.
import ExperimentKit
import Foundation
import XCTest

final class RunMetadataTests: XCTestCase {
    private let metadata = RunMetadata(
        experiment: "placement", experimentFile: "experiments/placement.exp", experimentText: "[target a]\nkind = swiglet\n",
        commit: "fd44a1079178ee1529bf77cbf918455c248428c3", dirty: true,
        qemuVersion: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
        hostCPUModel: "Intel(R) Xeon(R) Processor", hostCores: 2, loadAverage: [2.43, 2.71, 2.04],
        bootOptions: ["dedicated": "net-mode=dedicated", "linux": ""],
        qemuCommandLines: [.init(boot: "r1/cpus=2/dedicated/http", target: "dedicated",
                                 arguments: ["qemu-system-x86_64", "-smp", "2", "-fw_cfg", "name=opt/swiglet/cmdline,string=net-mode=dedicated"])],
        started: Date(timeIntervalSince1970: 1_796_473_266), finished: Date(timeIntervalSince1970: 1_796_476_000),
        notes: ["wrk": "wrk debian/4.1.0-3+b2"])

    func testJSONRoundTrip() throws {
        let data = try metadata.json()
        XCTAssertEqual(try RunMetadata.decode(data), metadata)
        let text = try XCTUnwrap(String(data: data, encoding: .utf8))
        XCTAssertTrue(text.contains("\"started\" : \"2026-12-05T12:21:06Z\""), text)
        XCTAssertTrue(text.contains("\"commit\" : \"fd44a1079178ee1529bf77cbf918455c248428c3\""), text)
        XCTAssertTrue(text.contains("experiments/placement.exp"), "slashes are not escaped")
    }

    func testUnfinishedRunHasNoEnd() throws {
        var running = metadata
        running.finished = nil
        let data = try running.json()
        XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("finished"))
        XCTAssertNil(try RunMetadata.decode(data).finished)
    }

    func testHostFacts() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n"
        XCTAssertEqual(HostFacts.cpuModel(cpuinfo: cpuinfo), "Intel(R) Xeon(R) Processor")
        XCTAssertEqual(HostFacts.cpuModel(cpuinfo: ""), "unknown")
        XCTAssertEqual(HostFacts.loadAverage(loadavg: "2.43 2.71 2.04 3/412 12345\n"), [2.43, 2.71, 2.04])
        XCTAssertEqual(HostFacts.loadAverage(loadavg: nil), [])
        XCTAssertGreaterThan(HostFacts.cores, 0)
    }

    func testCaptionFromMetadata() {
        let caption = TableCaption(metadata, resultsPath: "results/placement/x")
        XCTAssertEqual(MarkdownTable.captionText(caption),
                       "Experiment placement, 2026-12-05 12:21 UTC, commit fd44a1079178 (dirty), results in results/placement/x.")
    }
}
