/// One present PCI function and the identifying header fields read from it.

/// A PCI function's identity, as read from its configuration-space header (§6.1, §6.2.1).
public struct PCIFunction: Equatable, Sendable {
    /// Where the function is.
    public var address: PCIAddress
    /// The vendor (0x8086 Intel, 0x1AF4 Red Hat/virtio, 0x1234 QEMU, 0x1B36 Red Hat/QEMU).
    public var vendorID: UInt16
    /// The vendor's device number.
    public var deviceID: UInt16
    /// The revision ID.
    public var revision: UInt8
    /// The base class (0x02 network, 0x06 bridge, …).
    public var classCode: UInt8
    /// The subclass within the base class.
    public var subclass: UInt8
    /// The register-level programming interface within the subclass.
    public var programmingInterface: UInt8
    /// The header layout (bits 6:0 of the header type): 0 device, 1 PCI-PCI bridge, 2 CardBus.
    public var headerType: UInt8
    /// Whether the device has functions besides function 0 (bit 7 of the header type).
    public var multiFunction: Bool
    /// The legacy interrupt line firmware routed (0xFF: none).
    public var interruptLine: UInt8
    /// The interrupt pin: 0 none, 1 INTA# … 4 INTD#.
    public var interruptPin: UInt8
    /// The subsystem vendor (type 0 headers; 0 otherwise). For virtio legacy IDs it says
    /// the device type (1 network).
    public var subsystemVendorID: UInt16
    /// The subsystem ID (type 0 headers; 0 otherwise).
    public var subsystemID: UInt16
    /// Whether the status register announces a capability list (§6.7).
    public var statusHasCapabilities: Bool

    /// Reads the header of the function at `address`, or nil when none answers
    /// (vendor ID 0xFFFF: the master abort of an absent function reads all ones).
    public init?<Space: ConfigurationSpace>(space: Space, address: PCIAddress) {
        let identity = space.read32(address, offset: HeaderRegister.vendorID.rawValue)
        let vendor = UInt16(truncatingIfNeeded: identity)
        guard vendor != 0xFFFF else { return nil }
        self.address = address
        vendorID = vendor
        deviceID = UInt16(truncatingIfNeeded: identity >> 16)
        let status = space.read16(address, offset: HeaderRegister.status.rawValue)
        statusHasCapabilities = status & StatusBit.capabilitiesList != 0
        let classDword = space.read32(address, offset: HeaderRegister.revision.rawValue)
        revision = UInt8(truncatingIfNeeded: classDword)
        programmingInterface = UInt8(truncatingIfNeeded: classDword >> 8)
        subclass = UInt8(truncatingIfNeeded: classDword >> 16)
        classCode = UInt8(truncatingIfNeeded: classDword >> 24)
        let type = space.read8(address, offset: HeaderRegister.headerType.rawValue)
        headerType = type & 0x7F
        multiFunction = type & 0x80 != 0
        interruptLine = space.read8(address, offset: HeaderRegister.interruptLine.rawValue)
        interruptPin = space.read8(address, offset: HeaderRegister.interruptPin.rawValue)
        if headerType == 0 {
            let subsystem = space.read32(address, offset: HeaderRegister.subsystemVendorID.rawValue)
            subsystemVendorID = UInt16(truncatingIfNeeded: subsystem)
            subsystemID = UInt16(truncatingIfNeeded: subsystem >> 16)
        } else {
            subsystemVendorID = 0
            subsystemID = 0
        }
    }
}
