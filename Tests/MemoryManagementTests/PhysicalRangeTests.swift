/// Tests of PhysicalRange rounding and overlap.
import XCTest
import MemoryManagement

final class PhysicalRangeTests: XCTestCase {
    func testLengthAndInitializers() {
        let range = PhysicalRange(start: 0x1000, length: 0x2000)
        XCTAssertEqual(range.end, 0x3000)
        XCTAssertEqual(range.length, 0x2000)
        XCTAssertEqual(PhysicalRange(start: .max - 10, length: 100).end, .max)
        var changed = PhysicalRange(start: 0x1000, end: 0x1000)
        XCTAssertTrue(changed.isEmpty)
        changed.length = 0x10
        XCTAssertEqual(changed.end, 0x1010)
    }

    func testAlignment() {
        let range = PhysicalRange(start: 0x1001, end: 0x4fff)
        XCTAssertEqual(range.alignedInward(), PhysicalRange(start: 0x2000, end: 0x4000))
        XCTAssertEqual(range.alignedOutward(), PhysicalRange(start: 0x1000, end: 0x5000))
        XCTAssertTrue(PhysicalRange(start: 0x1001, end: 0x1fff).alignedInward().isEmpty)
        XCTAssertEqual(PhysicalRange(start: 0x20_0001, end: 0x60_0000).alignedInward(to: 0x20_0000),
                       PhysicalRange(start: 0x40_0000, end: 0x60_0000))
        XCTAssertTrue(PhysicalRange(start: .max - 5, end: .max).alignedInward().isEmpty)
        XCTAssertEqual(PhysicalRange(start: .max - 5, end: .max).alignedOutward().end, .max)
    }

    func testContainsAndOverlaps() {
        let range = PhysicalRange(start: 0x1000, end: 0x2000)
        XCTAssertTrue(range.contains(0x1000))
        XCTAssertTrue(range.contains(0x1fff))
        XCTAssertFalse(range.contains(0x2000))
        XCTAssertTrue(range.overlaps(PhysicalRange(start: 0x1fff, end: 0x3000)))
        XCTAssertFalse(range.overlaps(PhysicalRange(start: 0x2000, end: 0x3000)))
        XCTAssertFalse(range.overlaps(PhysicalRange(start: 0x1800, end: 0x1800)))
    }
}
