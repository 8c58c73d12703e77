/// Tests of DeviceHealthWatch: link changes and DEVICE_NEEDS_RESET readings become events and counts.
import Virtio
import XCTest

final class DeviceHealthWatchTests: XCTestCase {
    func testLinkDownAndUpAreReportedOnceEachWithTheOutage() {
        var watch = DeviceHealthWatch(linkUp: true, now: 0)
        XCTAssertNil(watch.observe(now: 10, linkUp: true, status: [.driverOK]))
        XCTAssertEqual(watch.observe(now: 1_000, linkUp: false, status: [.driverOK]), .linkDown)
        XCTAssertNil(watch.observe(now: 2_000, linkUp: false, status: [.driverOK]), "still down: no second event")
        XCTAssertEqual(watch.linkDownSince, 1_000)
        XCTAssertEqual(watch.observe(now: 2_001_000, linkUp: true, status: [.driverOK]), .linkUp(downNanoseconds: 2_000_000))
        XCTAssertEqual(watch.linkDowns, 1)
        XCTAssertEqual(watch.linkUps, 1)
        XCTAssertNil(watch.linkDownSince)
        XCTAssertTrue(watch.linkUp)
    }

    func testADeviceThatStartsDownCountsItsOutageFromTheStart() {
        var watch = DeviceHealthWatch(linkUp: false, now: 500)
        XCTAssertEqual(watch.observe(now: 1_500, linkUp: true, status: []), .linkUp(downNanoseconds: 1_000))
        XCTAssertEqual(watch.linkDowns, 0)
    }

    func testNeedsResetIsReportedOnceUntilTheResetIsDone() {
        var watch = DeviceHealthWatch(linkUp: true, now: 0)
        XCTAssertEqual(watch.observe(now: 1, linkUp: false, status: [.driverOK, .deviceNeedsReset]), .needsReset,
                       "the reset wins over the link bit read with it")
        XCTAssertTrue(watch.linkUp, "a device needing a reset says nothing about its link")
        XCTAssertNil(watch.observe(now: 2, linkUp: true, status: [.driverOK, .deviceNeedsReset]))
        XCTAssertEqual(watch.resetsNeeded, 1)
        watch.resetDone(now: 3, linkUp: true)
        XCTAssertFalse(watch.resetPending)
        XCTAssertEqual(watch.resetsDone, 1)
        XCTAssertEqual(watch.observe(now: 4, linkUp: true, status: [.deviceNeedsReset]), .needsReset, "a second failure is a new event")
        XCTAssertEqual(watch.resetsNeeded, 2)
    }

    func testAResetThatBringsTheLinkBackCountsTheComeback() {
        var watch = DeviceHealthWatch(linkUp: true, now: 0)
        XCTAssertEqual(watch.observe(now: 10, linkUp: false, status: []), .linkDown)
        XCTAssertEqual(watch.observe(now: 20, linkUp: false, status: [.deviceNeedsReset]), .needsReset)
        watch.resetDone(now: 30, linkUp: true)
        XCTAssertTrue(watch.linkUp)
        XCTAssertEqual(watch.linkUps, 1)
    }
}
