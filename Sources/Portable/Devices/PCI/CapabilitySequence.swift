/// Walks a function's capability list safely, even when the list is corrupt.

/// The capabilities of one function, as (id, offset) pairs — PCI Local Bus 3.0 §6.7.
///
/// The list starts at the pointer in register 0x34 and each entry holds its ID in byte 0
/// and the next pointer in byte 1. Pointers have their two low bits masked off, as §6.7
/// requires ("software must mask these bits off"); a pointer below 0x40 (inside the
/// standard header, including 0) ends the walk, and at most 48 entries are yielded — that
/// many dwords fit in 0x40…0xFF — so a list that loops back on itself still ends.
/// Empty when the status register does not announce a capability list.
public struct CapabilitySequence<Space: ConfigurationSpace>: Sequence, IteratorProtocol {
    /// The most entries a well-formed list can hold: (256 − 64) / 4.
    public static var maximumEntryCount: Int { 48 }

    private let space: Space
    private let address: PCIAddress
    private var nextPointer: UInt8
    private var yielded = 0

    /// The capability list of the function at `address`.
    public init(space: Space, address: PCIAddress) {
        self.space = space
        self.address = address
        let status = space.read16(address, offset: HeaderRegister.status.rawValue)
        if status & StatusBit.capabilitiesList != 0 {
            nextPointer = space.read8(address, offset: HeaderRegister.capabilitiesPointer.rawValue)
        } else {
            nextPointer = 0
        }
    }

    /// The next capability's ID and its offset in configuration space, or nil at the end.
    public mutating func next() -> (id: UInt8, offset: UInt8)? {
        let offset = nextPointer & 0xFC
        guard offset >= 0x40, yielded < Self.maximumEntryCount else { return nil }
        yielded += 1
        let header = space.read16(address, offset: offset)
        nextPointer = UInt8(truncatingIfNeeded: header >> 8)
        return (id: UInt8(truncatingIfNeeded: header), offset: offset)
    }
}

/// Capability IDs — PCI Code and ID Assignment Specification 1.11 §2.
public enum CapabilityID {
    /// Power management.
    public static let powerManagement: UInt8 = 0x01
    /// Message Signaled Interrupts.
    public static let messageSignaledInterrupts: UInt8 = 0x05
    /// Vendor specific: virtio's structure locations (virtio 1.2 §4.1.4).
    public static let vendorSpecific: UInt8 = 0x09
    /// PCI Express.
    public static let pciExpress: UInt8 = 0x10
    /// MSI-X.
    public static let messageSignaledInterruptsExtended: UInt8 = 0x11
}
