/// IdleLooks: a waiter sleeps after so many empty looks in a row, not in total.

import SwigletLibrary
import XCTest

final class IdleLooksTests: XCTestCase {
    /// Looks at an unchanged index until it is time to sleep; returns how many it took.
    private func looksUntilSleep(_ idle: inout IdleLooks, seen: UInt32) -> Int {
        for count in 1...1_000 where idle.look(seen: seen) { return count }
        return -1
    }

    func testSleepsAfterTheLimitOfEmptyLooksInARow() {
        var idle = IdleLooks(limit: 5, seen: 7)
        XCTAssertEqual(looksUntilSleep(&idle, seen: 7), 5)
        // After the sleep the count starts over.
        XCTAssertEqual(looksUntilSleep(&idle, seen: 7), 5)
    }

    func testNewsStartsTheCountOver() {
        // A busy waiter: four empty looks, then a completion, again and again. Counting looks in
        // total it would sleep on the fifth; in a row it never does.
        var idle = IdleLooks(limit: 5, seen: 0)
        var index: UInt32 = 0
        for _ in 0..<100 {
            for _ in 0..<4 { XCTAssertFalse(idle.look(seen: index)) }
            index &+= 1
        }
        // Then quiet: five looks at the last index, the first of which saw it change.
        XCTAssertEqual(looksUntilSleep(&idle, seen: index), 5)
    }

    func testTheIndexWrappingIsNews() {
        var idle = IdleLooks(limit: 3, seen: .max)
        XCTAssertFalse(idle.look(seen: .max))
        XCTAssertFalse(idle.look(seen: .max))
        XCTAssertFalse(idle.look(seen: 0))   // wrapped: a change, the count restarts at 1
        XCTAssertFalse(idle.look(seen: 0))
        XCTAssertTrue(idle.look(seen: 0))
    }

    func testALimitOfOneSleepsAtEveryLook() {
        // Symmetric networking: programs enter the kernel at once.
        var idle = IdleLooks(limit: 1, seen: 0)
        XCTAssertTrue(idle.look(seen: 0))
        XCTAssertTrue(idle.look(seen: 1))
        XCTAssertEqual(IdleLooks(limit: 0, seen: 0).limit, 1)
    }
}
