/// Where a PCI function sits: bus, device and function number, and its CONFIG_ADDRESS encoding.

/// The bus/device/function triple that names one PCI function in configuration space.
public struct PCIAddress: Equatable, Sendable {
    /// The bus number, 0 to 255.
    public var bus: UInt8
    /// The device number on the bus, 0 to 31 (five bits of CONFIG_ADDRESS).
    public var device: UInt8
    /// The function number within the device, 0 to 7 (three bits of CONFIG_ADDRESS).
    public var function: UInt8

    /// The function `bus:device.function`; `device` must be below 32 and `function` below 8.
    public init(bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32, "PCI device number above 31")
        precondition(function < 8, "PCI function number above 7")
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// The CONFIG_ADDRESS value for port 0xCF8 — PCI Local Bus 3.0 §3.2.2.3.2, configuration
    /// mechanism #1: bit 31 enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 the
    /// dword register; bits 1:0 are zero because the data port 0xCFC always moves a whole
    /// dword (narrower accesses pick bytes of it, see `ConfigurationSpace.read16`).
    public func configurationAddress(offset: UInt8) -> UInt32 {
        0x8000_0000
            | UInt32(bus) << 16
            | UInt32(device & 0x1F) << 11
            | UInt32(function & 0x07) << 8
            | UInt32(offset & 0xFC)
    }
}
