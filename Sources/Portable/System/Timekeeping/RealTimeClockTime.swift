// Decodes raw MC146818 RTC register values (BCD or binary, 12- or 24-hour) into a calendar time.

/// A calendar date and time read from the MC146818 CMOS real-time clock, decoded and validated.
public struct RealTimeClockTime: Equatable {
    /// Seconds, 0-59.
    public let second: UInt8
    /// Minutes, 0-59.
    public let minute: UInt8
    /// Hours, 0-23.
    public let hour: UInt8
    /// Day of the month, 1-31 (valid for the month and year).
    public let day: UInt8
    /// Month, 1-12.
    public let month: UInt8
    /// Full year, e.g. 2026.
    public let year: UInt16

    /// Decodes raw register values — MC146818A datasheet, "Time, Calendar and Alarm Data Modes".
    ///
    /// `binaryCodedDecimal` and `twentyFourHour` come from status register B. In 12-hour mode bit 7
    /// of `rawHours` marks PM (12 AM is hour 0). `rawCentury` is the century register (FADT
    /// CENTURY index) in the same data mode; without it the year is taken to be 20xx. Returns
    /// `nil` when a BCD digit is above 9 or any field is out of range (including days past the
    /// end of the month).
    public init?(
        rawSeconds: UInt8, rawMinutes: UInt8, rawHours: UInt8, rawDay: UInt8, rawMonth: UInt8, rawYear: UInt8,
        rawCentury: UInt8? = nil, binaryCodedDecimal: Bool, twentyFourHour: Bool
    ) {
        func decode(_ raw: UInt8) -> UInt8? {
            guard binaryCodedDecimal else { return raw }
            let high = raw >> 4, low = raw & 0x0F
            guard high <= 9, low <= 9 else { return nil }
            return high * 10 + low
        }
        guard let second = decode(rawSeconds), second <= 59,
              let minute = decode(rawMinutes), minute <= 59,
              let day = decode(rawDay), day >= 1,
              let month = decode(rawMonth), month >= 1, month <= 12,
              let yearInCentury = decode(rawYear), yearInCentury <= 99
        else { return nil }

        let hour: UInt8
        if twentyFourHour {
            guard let value = decode(rawHours), value <= 23 else { return nil }
            hour = value
        } else {
            let afternoon = rawHours & 0x80 != 0
            guard let value = decode(rawHours & 0x7F), value >= 1, value <= 12 else { return nil }
            hour = (value % 12) + (afternoon ? 12 : 0)
        }

        var century: UInt16 = 20
        if let rawCentury {
            guard let value = decode(rawCentury), value <= 99 else { return nil }
            century = UInt16(value)
        }
        let year = century * 100 + UInt16(yearInCentury)
        guard day <= Self.daysInMonth(month, year: year) else { return nil }

        self.second = second
        self.minute = minute
        self.hour = hour
        self.day = day
        self.month = month
        self.year = year
    }

    /// Creates a time from already decoded fields; `nil` when any is out of range.
    public init?(year: UInt16, month: UInt8, day: UInt8, hour: UInt8, minute: UInt8, second: UInt8) {
        guard month >= 1, month <= 12, day >= 1, day <= Self.daysInMonth(month, year: year),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Seconds elapsed since midnight, 0-86,399.
    public var secondsSinceMidnight: UInt32 {
        UInt32(hour) * 3600 + UInt32(minute) * 60 + UInt32(second)
    }

    /// Seconds since 1970-01-01T00:00:00 (the RTC is assumed to hold UTC); 0 for earlier dates.
    public var secondsSinceUnixEpoch: UInt64 {
        let days = Self.daysSinceUnixEpoch(year: Int64(year), month: Int64(month), day: Int64(day))
        guard days >= 0 else { return 0 }
        return UInt64(days) * 86_400 + UInt64(secondsSinceMidnight)
    }

    /// Whether `year` is a Gregorian leap year.
    public static func isLeapYear(_ year: UInt16) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// Number of days in `month` (1-12) of `year`.
    public static func daysInMonth(_ month: UInt8, year: UInt16) -> UInt8 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's
    /// `days_from_civil`, integer only).
    static func daysSinceUnixEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
