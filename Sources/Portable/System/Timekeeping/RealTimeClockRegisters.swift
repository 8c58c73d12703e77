// The MC146818 CMOS real-time clock register indices and status register layouts.

/// Register indices of the MC146818 real-time clock (written to CMOS index port 0x70, read from
/// data port 0x71) — Motorola MC146818A datasheet, "Address Map".
public enum RealTimeClockRegister: UInt8, Sendable {
    /// Seconds (0-59).
    case seconds = 0x00
    /// Minutes (0-59).
    case minutes = 0x02
    /// Hours (0-23, or 1-12 with bit 7 = PM in 12-hour mode).
    case hours = 0x04
    /// Day of the week (1-7, Sunday = 1; unreliable on many machines).
    case dayOfWeek = 0x06
    /// Day of the month (1-31).
    case dayOfMonth = 0x07
    /// Month (1-12).
    case month = 0x08
    /// Year within the century (0-99).
    case year = 0x09
    /// Status register A (update-in-progress flag, divider, rate).
    case statusA = 0x0A
    /// Status register B (data mode, hour format, interrupt enables).
    case statusB = 0x0B
    /// Status register C (interrupt flags; reading it acknowledges them).
    case statusC = 0x0C
    /// The century register most PCs use; the FADT's CENTURY field gives the real index.
    case conventionalCentury = 0x32
}

/// Status register A — MC146818A datasheet, "Register A".
public struct RealTimeClockStatusA: RawRepresentable, Equatable, Sendable {
    /// The raw register value.
    public let rawValue: UInt8
    /// Wraps a raw register value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// UIP (bit 7): an update cycle is in progress or imminent; time registers may be inconsistent.
    public var updateInProgress: Bool { rawValue & 0x80 != 0 }
    /// Rate selection bits RS3-RS0 (bits 0-3) for the periodic interrupt.
    public var rateSelection: UInt8 { rawValue & 0x0F }
}

/// Status register B — MC146818A datasheet, "Register B".
public struct RealTimeClockStatusB: RawRepresentable, Equatable, Sendable {
    /// The raw register value.
    public let rawValue: UInt8
    /// Wraps a raw register value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// 24/12 (bit 1): hours run 0-23 when set, else 1-12 with bit 7 of the hours register = PM.
    public var twentyFourHour: Bool { rawValue & 0x02 != 0 }
    /// DM (bit 2): registers hold binary values when set, binary-coded decimal when clear.
    public var binaryCodedDecimal: Bool { rawValue & 0x04 == 0 }
    /// UIE (bit 4): update-ended interrupt enabled.
    public var updateEndedInterruptEnabled: Bool { rawValue & 0x10 != 0 }
    /// AIE (bit 5): alarm interrupt enabled.
    public var alarmInterruptEnabled: Bool { rawValue & 0x20 != 0 }
    /// PIE (bit 6): periodic interrupt enabled.
    public var periodicInterruptEnabled: Bool { rawValue & 0x40 != 0 }
}
