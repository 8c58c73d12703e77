// PIT reload arithmetic, calibration, and MC146818 RTC decoding.

import Timekeeping
import XCTest

final class ProgrammableIntervalTimerTests: XCTestCase {
    func testReloadValues() {
        XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 1_000_000), 1_193)  // 1 ms
        XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 10_000_000), 11_932)  // 10 ms
        XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 50_000_000), 59_659)
        // 65,536 counts (~54.925 ms) is written as 0.
        XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 54_925_000), 0)
        XCTAssertNil(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 55_000_000))
        XCTAssertNil(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 1_000_000_000))
        XCTAssertNil(ProgrammableIntervalTimer.reloadValue(forNanoseconds: UInt64.max))
        XCTAssertNil(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 0))
        XCTAssertNil(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 1_000))  // rounds to 1
        XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: 1_677), 2)
    }

    func testPeriods() {
        XCTAssertEqual(ProgrammableIntervalTimer.nanoseconds(forReloadValue: 1_193), 999_847)
        XCTAssertEqual(ProgrammableIntervalTimer.nanoseconds(forReloadValue: 0), 54_925_401)
        XCTAssertEqual(ProgrammableIntervalTimer.nanoseconds(forReloadValue: 1), 838)
        for reload: UInt16 in [2, 100, 1_193, 11_932, 40_000, 65_535] {
            let period = ProgrammableIntervalTimer.nanoseconds(forReloadValue: reload)
            XCTAssertEqual(ProgrammableIntervalTimer.reloadValue(forNanoseconds: period), reload)
        }
    }
}

final class CalibrationTests: XCTestCase {
    func testTicksPerSecond() {
        XCTAssertEqual(Calibration.ticksPerSecond(ticks: 24_000_000, elapsedNanoseconds: 10_000_000), 2_400_000_000)
        XCTAssertEqual(Calibration.ticksPerSecond(ticks: 1, elapsedNanoseconds: 3), 333_333_333)
        XCTAssertEqual(Calibration.ticksPerSecond(ticks: 5, elapsedNanoseconds: 0), 0)
        // 60 s of a 4 GHz TSC: ticks * 1e9 = 2.4e20 overflows 64 bits.
        XCTAssertEqual(Calibration.ticksPerSecond(ticks: 240_000_000_000, elapsedNanoseconds: 60_000_000_000), 4_000_000_000)
        XCTAssertEqual(Calibration.ticksPerSecond(ticks: UInt64.max, elapsedNanoseconds: 1), UInt64.max)
    }

    func testElapsedNanosecondsOfAReferenceCounter() {
        XCTAssertEqual(Calibration.elapsedNanoseconds(referenceTicks: 3_579_545, referenceTicksPerSecond: 3_579_545),
                       1_000_000_000)
        XCTAssertEqual(Calibration.elapsedNanoseconds(referenceTicks: 35_795, referenceTicksPerSecond:
                       Calibration.powerManagementTimerFrequency), 9_999_874)
        XCTAssertEqual(Calibration.elapsedNanoseconds(referenceTicks: 1, referenceTicksPerSecond: 0), 0)
    }
}

final class RealTimeClockTests: XCTestCase {
    func testBinaryCodedDecimalTwentyFourHour() throws {
        let time = try XCTUnwrap(RealTimeClockTime(
            rawSeconds: 0x59, rawMinutes: 0x34, rawHours: 0x23, rawDay: 0x27, rawMonth: 0x11, rawYear: 0x26,
            binaryCodedDecimal: true, twentyFourHour: true))
        XCTAssertEqual([time.hour, time.minute, time.second, time.day, time.month], [23, 34, 59, 27, 11])
        XCTAssertEqual(time.year, 2026)
        XCTAssertEqual(time.secondsSinceMidnight, 23 * 3600 + 34 * 60 + 59)
    }

    func testBinaryTwelveHour() throws {
        let afternoon = try XCTUnwrap(RealTimeClockTime(
            rawSeconds: 5, rawMinutes: 6, rawHours: 0x80 | 7, rawDay: 1, rawMonth: 1, rawYear: 99,
            rawCentury: 19, binaryCodedDecimal: false, twentyFourHour: false))
        XCTAssertEqual(afternoon.hour, 19)
        XCTAssertEqual(afternoon.year, 1999)
        let midnight = try XCTUnwrap(RealTimeClockTime(
            rawSeconds: 0, rawMinutes: 0, rawHours: 12, rawDay: 1, rawMonth: 1, rawYear: 0,
            binaryCodedDecimal: false, twentyFourHour: false))
        XCTAssertEqual(midnight.hour, 0)
        let noon = try XCTUnwrap(RealTimeClockTime(
            rawSeconds: 0, rawMinutes: 0, rawHours: 0x80 | 0x12, rawDay: 1, rawMonth: 1, rawYear: 0,
            binaryCodedDecimal: true, twentyFourHour: false))
        XCTAssertEqual(noon.hour, 12)
    }

    func testInvalidValuesAreRejected() {
        func make(seconds: UInt8 = 0, hours: UInt8 = 0, day: UInt8 = 1, month: UInt8 = 1, year: UInt8 = 0,
                  bcd: Bool = true, twentyFour: Bool = true) -> RealTimeClockTime? {
            RealTimeClockTime(rawSeconds: seconds, rawMinutes: 0, rawHours: hours, rawDay: day, rawMonth: month,
                              rawYear: year, binaryCodedDecimal: bcd, twentyFourHour: twentyFour)
        }
        XCTAssertNotNil(make())
        XCTAssertNil(make(seconds: 0x5A))  // BCD digit above 9
        XCTAssertNil(make(seconds: 0x60))
        XCTAssertNil(make(hours: 0x24))
        XCTAssertNil(make(hours: 0x00, twentyFour: false))  // 12-hour clocks have no hour 0
        XCTAssertNil(make(hours: 0x13, twentyFour: false))
        XCTAssertNil(make(day: 0))
        XCTAssertNil(make(month: 0x13))
        XCTAssertNil(make(day: 0x31, month: 0x04))
        XCTAssertNil(make(day: 0x29, month: 0x02, year: 0x23))
        XCTAssertNotNil(make(day: 0x29, month: 0x02, year: 0x24))
        XCTAssertNil(make(seconds: 60, bcd: false))
        XCTAssertNil(make(year: 100, bcd: false))
    }

    func testUnixTime() throws {
        XCTAssertEqual(RealTimeClockTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0)?.secondsSinceUnixEpoch, 0)
        XCTAssertEqual(RealTimeClockTime(year: 2000, month: 3, day: 1, hour: 0, minute: 0, second: 0)?.secondsSinceUnixEpoch,
                       951_868_800)
        XCTAssertEqual(RealTimeClockTime(year: 2026, month: 11, day: 27, hour: 5, minute: 44, second: 22)?.secondsSinceUnixEpoch,
                       1_795_758_262)
        XCTAssertEqual(RealTimeClockTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59)?.secondsSinceUnixEpoch, 0)
        XCTAssertNil(RealTimeClockTime(year: 2023, month: 2, day: 29, hour: 0, minute: 0, second: 0))
        XCTAssertTrue(RealTimeClockTime.isLeapYear(2000))
        XCTAssertFalse(RealTimeClockTime.isLeapYear(2100))
    }

    func testStatusRegisters() {
        let statusB = RealTimeClockStatusB(rawValue: 0x02)  // QEMU's default: BCD, 24-hour
        XCTAssertTrue(statusB.binaryCodedDecimal)
        XCTAssertTrue(statusB.twentyFourHour)
        XCTAssertFalse(RealTimeClockStatusB(rawValue: 0x04).binaryCodedDecimal)
        XCTAssertTrue(RealTimeClockStatusA(rawValue: 0xA6).updateInProgress)
        XCTAssertFalse(RealTimeClockStatusA(rawValue: 0x26).updateInProgress)
        XCTAssertEqual(RealTimeClockRegister.statusB.rawValue, 0x0B)
    }
}
