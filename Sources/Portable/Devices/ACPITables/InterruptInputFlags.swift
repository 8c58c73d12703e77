// The MPS INTI flags (polarity and trigger mode) carried by MADT override and NMI entries.

/// MPS INTI flags — ACPI 6.5 §5.2.12.5 (Table 5.26): bits 0-1 polarity, bits 2-3 trigger mode.
public struct InterruptInputFlags: RawRepresentable, Equatable, Sendable {
    /// The raw 16-bit Flags field.
    public let rawValue: UInt16

    /// Wraps a raw Flags field.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Polarity of the interrupt signal (bits 0-1).
    public enum Polarity: UInt8, Equatable, Sendable {
        /// Conforms to the specifications of the bus (ISA: active high).
        case conformsToBus = 0
        /// Active high.
        case activeHigh = 1
        /// Reserved encoding.
        case reserved = 2
        /// Active low.
        case activeLow = 3
    }

    /// Trigger mode of the interrupt signal (bits 2-3).
    public enum TriggerMode: UInt8, Equatable, Sendable {
        /// Conforms to the specifications of the bus (ISA: edge).
        case conformsToBus = 0
        /// Edge-triggered.
        case edge = 1
        /// Reserved encoding.
        case reserved = 2
        /// Level-triggered.
        case level = 3
    }

    /// The polarity field.
    public var polarity: Polarity { Polarity(rawValue: UInt8(rawValue & 0b11)) ?? .reserved }

    /// The trigger mode field.
    public var triggerMode: TriggerMode { TriggerMode(rawValue: UInt8((rawValue >> 2) & 0b11)) ?? .reserved }
}
