// Tests of the each-at-most-once FIFO behind the "who has work" lists: order, no duplicates, bounds, wrap-around.

import Channels
import XCTest

final class UniqueNumberQueueTests: XCTestCase {
    func testNumbersComeOutInOrderEachOnce() {
        var queue = UniqueNumberQueue(capacity: 4)
        XCTAssertTrue(queue.push(2))
        XCTAssertTrue(queue.push(0))
        XCTAssertFalse(queue.push(2), "already queued")
        XCTAssertFalse(queue.push(4), "out of range")
        XCTAssertFalse(queue.push(-1), "out of range")
        XCTAssertEqual(queue.count, 2)
        XCTAssertTrue(queue.contains(2))
        XCTAssertEqual(queue.pop(), 2)
        XCTAssertFalse(queue.contains(2))
        XCTAssertTrue(queue.push(2), "queued again once taken")
        XCTAssertEqual(queue.pop(), 0)
        XCTAssertEqual(queue.pop(), 2)
        XCTAssertNil(queue.pop())
    }

    func testEveryNumberFitsAtOnceAcrossTheWrap() {
        var queue = UniqueNumberQueue(capacity: 3)
        for round in 0..<5 {
            for number in [2, 0, 1] { XCTAssertTrue(queue.push(number), "round \(round)") }
            XCTAssertEqual(queue.count, 3)
            XCTAssertEqual([queue.pop(), queue.pop(), queue.pop()], [2, 0, 1])
            XCTAssertTrue(queue.push(1))
            XCTAssertEqual(queue.pop(), 1)   // moves the head around the ring
        }
    }
}
