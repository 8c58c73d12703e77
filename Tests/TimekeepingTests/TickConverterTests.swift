// TickConverter and the wide arithmetic behind it, checked against exact 128-bit references.

@testable import Timekeeping
import XCTest

/// Exact floor(a * b / c) using the host's UInt128 (tests only; the kernel has no __udivti3).
func exactMultiplyDivide(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64? {
    let result = UInt128(a) * UInt128(b) / UInt128(c)
    return result > UInt128(UInt64.max) ? nil : UInt64(result)
}

final class TickConverterTests: XCTestCase {
    let frequencies: [UInt64] = [
        1, 3, 1_000, 32_768, 1_193_182, 3_579_545, 14_318_180, 100_000_000, 999_999_937,
        1_000_000_000, 1_000_000_001, 2_399_999_000, 3_000_000_000, 5_123_456_789, 1 << 40, UInt64.max / 3,
    ]

    func testWholeSecondsAreExact() {
        for frequency in frequencies {
            let converter = TickConverter(ticksPerSecond: frequency)
            XCTAssertEqual(converter.ticksPerSecond, frequency)
            XCTAssertEqual(converter.nanoseconds(fromTicks: frequency), 1_000_000_000, "\(frequency)")
            XCTAssertEqual(converter.nanoseconds(fromTicks: 0), 0)
            XCTAssertEqual(converter.ticks(fromNanoseconds: 1_000_000_000), frequency, "\(frequency)")
            XCTAssertEqual(converter.ticks(fromNanoseconds: 0), 0)
            if frequency < UInt64.max / 7 {
                XCTAssertEqual(converter.nanoseconds(fromTicks: frequency * 7), 7_000_000_000)
            }
        }
    }

    func testConversionsAreWithinOneUnitOfExact() {
        var generator = SystemRandomNumberGenerator()
        for frequency in frequencies {
            let converter = TickConverter(ticksPerSecond: frequency)
            // Exact floor up to 9.2 GHz; above, the sub-second part may be one more.
            let slack: UInt64 = frequency <= (1 << 63) / 1_000_000_000 ? 0 : 1
            for _ in 0..<2000 {
                let ticks = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63, using: &generator)
                let nanoseconds = converter.nanoseconds(fromTicks: ticks)
                if let exact = exactMultiplyDivide(ticks, 1_000_000_000, frequency) {
                    XCTAssertTrue(nanoseconds >= exact && nanoseconds <= exact + slack,
                                  "ticks \(ticks) at \(frequency) Hz: \(nanoseconds) vs \(exact)")
                } else {
                    XCTAssertEqual(nanoseconds, UInt64.max)
                }
                let back = converter.ticks(fromNanoseconds: ticks)
                if let exact = exactMultiplyDivide(ticks, frequency, 1_000_000_000) {
                    XCTAssertTrue(back >= exact && back <= exact + slack,
                                  "ns \(ticks) at \(frequency) Hz: \(back) vs \(exact)")
                } else {
                    XCTAssertEqual(back, UInt64.max)
                }
            }
        }
    }

    func testKnownValues() {
        let tsc = TickConverter(ticksPerSecond: 2_400_000_000)
        XCTAssertEqual(tsc.nanoseconds(fromTicks: 2_400), 1_000)
        XCTAssertEqual(tsc.nanoseconds(fromTicks: 3_600_000_000), 1_500_000_000)
        XCTAssertEqual(tsc.ticks(fromNanoseconds: 1_000), 2_400)
        // One day of a 3 GHz TSC: 2.592e14 ticks; naive ticks * 1e9 would overflow.
        let fast = TickConverter(ticksPerSecond: 3_000_000_000)
        XCTAssertEqual(fast.nanoseconds(fromTicks: 259_200_000_000_000), 86_400_000_000_000)
        let pit = TickConverter(ticksPerSecond: 1_193_182)
        XCTAssertEqual(pit.nanoseconds(fromTicks: 1_193), 999_847)  // floor(1193e9 / 1193182)
    }

    func testOneMicrosecondAfterAHundredYearsIsStillResolved() {
        let converter = TickConverter(ticksPerSecond: 3_000_000_000)
        let base: UInt64 = 3_000_000_000 * 86_400 * 365 * 100
        let difference = converter.nanoseconds(fromTicks: base + 3_000) - converter.nanoseconds(fromTicks: base)
        XCTAssertEqual(difference, 1_000)
    }

    func testSaturatesInsteadOfOverflowing() {
        let slow = TickConverter(ticksPerSecond: 1)
        XCTAssertEqual(slow.nanoseconds(fromTicks: UInt64.max), UInt64.max)
        XCTAssertEqual(slow.nanoseconds(fromTicks: 18_446_744_073), 18_446_744_073_000_000_000)
        XCTAssertEqual(slow.nanoseconds(fromTicks: 18_446_744_074), UInt64.max)
        let fast = TickConverter(ticksPerSecond: 10_000_000_000)
        XCTAssertEqual(fast.ticks(fromNanoseconds: UInt64.max), UInt64.max)
    }

    func testMonotonic() {
        let converter = TickConverter(ticksPerSecond: 1_193_182)
        var previous: UInt64 = 0
        for ticks in UInt64(0)..<3_000_000 where ticks % 7 == 0 || ticks % 1_193_182 < 3 || ticks % 1_193_182 > 1_193_179 {
            let nanoseconds = converter.nanoseconds(fromTicks: ticks)
            XCTAssertGreaterThanOrEqual(nanoseconds, previous)
            previous = nanoseconds
        }
    }

    func testFixedPointRatioUsesAFullWidthFactor() {
        let ratio = FixedPointRatio(numerator: 1_000_000_000, denominator: 3_000_000_000)
        XCTAssertGreaterThanOrEqual(ratio.factor, 1 << 63)
        XCTAssertEqual(ratio.apply(3), 1)  // the factor is rounded up, so thirds come out exact
        XCTAssertEqual(ratio.apply(2), 0)
        XCTAssertEqual(ratio.apply(2_999_999_999), 999_999_999)
        let identity = FixedPointRatio(numerator: 5, denominator: 5)
        XCTAssertEqual(identity.factor, 1 << 63)
        XCTAssertEqual(identity.shift, 63)
        XCTAssertEqual(identity.apply(UInt64.max), UInt64.max)
    }

    func testMultiplyDivideMatchesExactArithmetic() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let a = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63, using: &generator)
            let b = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63, using: &generator)
            let c = max(1, UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63, using: &generator))
            XCTAssertEqual(WideArithmetic.multiplyDivide(a, b, c), exactMultiplyDivide(a, b, c) ?? UInt64.max,
                           "\(a) * \(b) / \(c)")
        }
        XCTAssertEqual(WideArithmetic.multiplyDivide(UInt64.max, UInt64.max, UInt64.max), UInt64.max)
        XCTAssertEqual(WideArithmetic.multiplyDivide(UInt64.max, 2, UInt64.max), 2)
        XCTAssertEqual(WideArithmetic.multiplyDivide(1 << 63, 4, (1 << 63) + 1), 3)
    }
}
