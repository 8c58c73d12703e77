// Tests of 32-bit modular sequence number arithmetic, especially across the 2^32 wrap.

import TCP
import XCTest

final class SequenceNumberTests: XCTestCase {
    func testAdditionWrapsAtTwoToThe32() {
        XCTAssertEqual((SequenceNumber(0xFFFF_FFF0) + 0x20).rawValue, 0x10)
        var number = SequenceNumber(0xFFFF_FFFF)
        number += 1
        XCTAssertEqual(number.rawValue, 0)
        XCTAssertEqual((SequenceNumber(5) - 10).rawValue, 0xFFFF_FFFB)
    }

    func testOrderingAcrossTheWrap() {
        let beforeWrap = SequenceNumber(0xFFFF_FF00)
        let afterWrap = SequenceNumber(0x0000_0100)
        XCTAssertTrue(beforeWrap < afterWrap, "0x100 is 0x200 ahead of 0xFFFFFF00 on the circle")
        XCTAssertFalse(afterWrap < beforeWrap)
        XCTAssertTrue(afterWrap > beforeWrap)
        XCTAssertTrue(beforeWrap <= afterWrap)
        XCTAssertTrue(afterWrap >= beforeWrap)
        XCTAssertEqual(SequenceNumber.distance(from: beforeWrap, to: afterWrap), 0x200)
        XCTAssertEqual(SequenceNumber.distance(from: afterWrap, to: beforeWrap), -0x200)
        XCTAssertEqual(SequenceNumber.octets(from: beforeWrap, to: afterWrap), 0x200)
    }

    func testEqualNumbersAreNeitherLessNorGreater() {
        let number = SequenceNumber(42)
        XCTAssertFalse(number < number)
        XCTAssertFalse(number > number)
        XCTAssertTrue(number <= number)
        XCTAssertTrue(number >= number)
    }

    func testHalfCircleApartIsUnordered() {
        // RFC 1982 §3.2 leaves this undefined; we define it as neither less nor greater.
        let low = SequenceNumber(0)
        let high = SequenceNumber(0x8000_0000)
        XCTAssertFalse(low < high)
        XCTAssertFalse(high < low)
        // Just under half the circle is still ordered.
        XCTAssertTrue(low < SequenceNumber(0x7FFF_FFFF))
        XCTAssertTrue(SequenceNumber(0x8000_0001) < low)
    }

    func testWindowMembershipAcrossTheWrap() {
        let start = SequenceNumber(0xFFFF_FFFE)
        XCTAssertTrue(SequenceNumber(0xFFFF_FFFE).isInWindow(start: start, length: 4))
        XCTAssertTrue(SequenceNumber(0x0000_0001).isInWindow(start: start, length: 4))
        XCTAssertFalse(SequenceNumber(0x0000_0002).isInWindow(start: start, length: 4), "the end is exclusive")
        XCTAssertFalse(SequenceNumber(0xFFFF_FFFD).isInWindow(start: start, length: 4))
        XCTAssertFalse(start.isInWindow(start: start, length: 0), "an empty window holds nothing")
    }
}
