/// The offsets of the configuration-space header registers this module reads.

/// Configuration-space header register offsets — PCI Local Bus 3.0 §6.1 (figure 6-1, the
/// type 00h header; the first 0x10 bytes and the capability pointer are common to every type).
public enum HeaderRegister: UInt8, Sendable {
    /// Vendor ID, 16 bits; 0xFFFF means no function is present.
    case vendorID = 0x00
    /// Device ID, 16 bits.
    case deviceID = 0x02
    /// Command, 16 bits (§6.2.2).
    case command = 0x04
    /// Status, 16 bits (§6.2.3).
    case status = 0x06
    /// Revision ID, 8 bits.
    case revision = 0x08
    /// Programming interface, 8 bits (low byte of the class code).
    case programmingInterface = 0x09
    /// Subclass, 8 bits.
    case subclass = 0x0A
    /// Base class, 8 bits.
    case classCode = 0x0B
    /// Header type, 8 bits: bits 6:0 the layout, bit 7 multi-function.
    case headerType = 0x0E
    /// Base address register 0 of six (type 00h header), each 32 bits (§6.2.5.1).
    case baseAddress0 = 0x10
    /// Subsystem vendor ID, 16 bits (type 00h header only).
    case subsystemVendorID = 0x2C
    /// Subsystem ID, 16 bits (type 00h header only).
    case subsystemID = 0x2E
    /// Capabilities pointer, 8 bits, valid when the status register's bit 4 is set (§6.7).
    case capabilitiesPointer = 0x34
    /// Interrupt line, 8 bits: the legacy IRQ routing firmware wrote.
    case interruptLine = 0x3C
    /// Interrupt pin, 8 bits: 0 none, 1 INTA# … 4 INTD#.
    case interruptPin = 0x3D
}

/// Status register bits — PCI Local Bus 3.0 §6.2.3.
public enum StatusBit {
    /// Bit 4, Capabilities List: the capabilities pointer at 0x34 is valid.
    public static let capabilitiesList: UInt16 = 1 << 4
}
