/// Tests of `OneShotDeadline`: which re-arms of a one-shot timer need a register write.
import Timekeeping
import XCTest

final class OneShotDeadlineTests: XCTestCase {
    /// A program's CPU as it sleeps in `wait` again and again: the first sleep arms the timer
    /// ~100 ms ahead; every later sleep asks for a later deadline that the armed timer precedes,
    /// so none writes, until the timer fires (cleared) and the next arm writes again.
    func testRepeatedSleepsWriteOnceUntilTheTimerFires() {
        var timer = OneShotDeadline()
        let timeout: UInt64 = 100_000_000
        XCTAssertTrue(timer.arm(now: 1_000, nanoseconds: timeout))
        var writes = 0
        for sleep in 1...500 {
            // A wake-up every 150 µs, each re-arming as it goes back to sleep.
            if timer.arm(now: 1_000 + UInt64(sleep) * 150_000, nanoseconds: timeout) { writes += 1 }
        }
        XCTAssertEqual(writes, 0, "the armed timer fires before every deadline asked")
        XCTAssertEqual(timer.deadline, 1_000 + timeout)
        timer.clear()
        XCTAssertTrue(timer.arm(now: 80_000_000, nanoseconds: timeout), "fired: the next arm writes")
        XCTAssertEqual(timer.deadline, 180_000_000)
    }

    /// Never later than asked: an earlier deadline is always written, and so is any arm once
    /// the armed deadline has passed (the interrupt may still be on its way); the same
    /// deadline again is not.
    func testAnEarlierDeadlineIsAlwaysWritten() {
        var timer = OneShotDeadline()
        XCTAssertTrue(timer.arm(now: 0, nanoseconds: 1_000_000))
        XCTAssertFalse(timer.arm(now: 500_000, nanoseconds: 500_000), "the same deadline")
        XCTAssertTrue(timer.arm(now: 500_000, nanoseconds: 50_000), "earlier than armed")
        XCTAssertEqual(timer.deadline, 550_000)
        XCTAssertTrue(timer.arm(now: 550_000, nanoseconds: 1_000_000), "the armed deadline is now: it may have fired")
        XCTAssertTrue(timer.arm(now: 2_000_000, nanoseconds: 1_000), "long past")
        timer.clear()
        XCTAssertEqual(timer.deadline, 0)
        XCTAssertTrue(timer.arm(now: 2_000_000, nanoseconds: 0), "a stopped timer is written, even for now")
    }
}
