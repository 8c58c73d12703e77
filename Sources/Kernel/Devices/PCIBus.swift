/// The PCI bus through configuration mechanism #1 (ports 0xCF8/0xCFC), and the boot listing.
import PCI

/// Configuration space through I/O ports — PCI Local Bus 3.0 §3.2.2.3.2. The address port and
/// the data port are one shared pair, so each access holds a lock from address to data.
struct PortConfigurationSpace: ConfigurationSpace {
    private static let lock = SpinLock()
    private static let addressPort = IOPort(0xCF8), dataPort = IOPort(0xCFC)

    func read32(_ address: PCIAddress, offset: UInt8) -> UInt32 {
        Self.lock.withLock {
            Self.addressPort.write32(address.configurationAddress(offset: offset))
            return Self.dataPort.read32()
        }
    }

    func write32(_ address: PCIAddress, offset: UInt8, value: UInt32) {
        Self.lock.withLock {
            Self.addressPort.write32(address.configurationAddress(offset: offset))
            Self.dataPort.write32(value)
        }
    }
}

enum PCIBus {
    /// Lists every function on the console (debug level: one line each) and returns how many.
    @discardableResult
    static func list() -> Int {
        var count = 0
        enumerateFunctions(PortConfigurationSpace()) { function in
            count += 1
            let name = deviceName(vendor: function.vendorID, device: function.deviceID,
                                  classCode: function.classCode, subclass: function.subclass)
            Log.info("""
                pci: \(hex: function.address.bus, digits: 2, prefix: false):\(hex: function.address.device, digits: 2, prefix: false).\(function.address.function) \
                \(hex: function.vendorID, digits: 4, prefix: false):\(hex: function.deviceID, digits: 4, prefix: false) class \(hex: function.classCode, digits: 2, prefix: false)\
                \(hex: function.subclass, digits: 2, prefix: false) \(name)
                """)
        }
        return count
    }

    /// The first function that `matches`, if any.
    static func find(_ matches: (PCIFunction) -> Bool) -> PCIFunction? {
        var found: PCIFunction? = nil
        enumerateFunctions(PortConfigurationSpace()) { function in
            if found == nil && matches(function) { found = function }
        }
        return found
    }
}
