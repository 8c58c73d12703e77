/// Busy processes before a sitting: shares from two snapshots, the names in stat lines, the warning.

import ExperimentKit
import XCTest

final class BusyHostTests: XCTestCase {
    func testSharesAboveTheThresholdAreNamedBusiestFirst() {
        let before = [10: HostThreadTime(name: "xctest", ticks: 1_000), 20: HostThreadTime(name: "bash", ticks: 50),
                      30: HostThreadTime(name: "cc1", ticks: 400), 40: HostThreadTime(name: "gone", ticks: 7)]
        let after = [10: HostThreadTime(name: "xctest", ticks: 1_095), 20: HostThreadTime(name: "bash", ticks: 51),
                     30: HostThreadTime(name: "cc1", ticks: 430), 50: HostThreadTime(name: "new", ticks: 900)]
        let busy = BusyHost.busyProcesses(before: before, after: after, seconds: 1, ticksPerSecond: 100)
        XCTAssertEqual(busy, [BusyProcess(processID: 10, name: "xctest", percent: 95),
                              BusyProcess(processID: 30, name: "cc1", percent: 30)],
                       "1% is idle; a process in one snapshot only cannot be judged")
        XCTAssertEqual(BusyHost.busyProcesses(before: before, after: after, seconds: 2, ticksPerSecond: 100).map(\.processID), [10],
                       "over two seconds cc1 used 15% of a core")
    }

    func testTheWarningNamesEachProcessAndSaysWhatItCosts() {
        XCTAssertNil(BusyHost.warning([]))
        let warning = BusyHost.warning([BusyProcess(processID: 22369, name: "SwigletPackageTests.xctest", percent: 95.2)])
        XCTAssertEqual(warning, "warning: the host is not idle before the run: SwigletPackageTests.xctest (pid 22369, 95% of a core); "
                       + "every number of this sitting shares the host with them (stop them, or compare only within the sitting)")
    }

    func testNamesAreReadBetweenTheFirstAndLastParenthesis() {
        XCTAssertEqual(BusyHost.name(statLine: "42 (qemu (main)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0"), "qemu (main)")
        XCTAssertNil(BusyHost.name(statLine: "garbage"))
    }

    /// The real /proc: this process is in it with its name.
    func testASnapshotOfThisHostHoldsThisProcess() throws {
        #if os(Linux)
        let snapshot = BusyHost.snapshot()
        let me = try XCTUnwrap(snapshot[Int(getpid())])
        XCTAssertFalse(me.name.isEmpty)
        #else
        throw XCTSkip("reads /proc")
        #endif
    }
}
