/// The virtio PCI transport through memory-mapped BAR regions (virtio 1.2 §4.1.4).
import Virtio

/// Where the three register areas of one virtio PCI device are, as identity-mapped addresses
/// worked out from its vendor capabilities and BARs.
struct MemoryMappedVirtioTransport: VirtioTransport {
    /// The common configuration structure (§4.1.4.3).
    let common: UInt64
    /// The start of the notification area and its multiplier (§4.1.4.4).
    let notifyBase: UInt64
    let notifyOffsetMultiplier: UInt32
    /// The device-specific configuration (virtio-net's is §5.1.4).
    let device: UInt64

    private func address(_ register: CommonConfiguration.Register) -> UInt64 { common + UInt64(register.rawValue) }

    func read8(_ register: CommonConfiguration.Register) -> UInt8 { DeviceMemory.read8(address(register)) }
    func read16(_ register: CommonConfiguration.Register) -> UInt16 { DeviceMemory.read16(address(register)) }
    func read32(_ register: CommonConfiguration.Register) -> UInt32 { DeviceMemory.read32(address(register)) }
    func write8(_ register: CommonConfiguration.Register, _ value: UInt8) { DeviceMemory.write8(address(register), value) }
    func write16(_ register: CommonConfiguration.Register, _ value: UInt16) { DeviceMemory.write16(address(register), value) }
    func write32(_ register: CommonConfiguration.Register, _ value: UInt32) { DeviceMemory.write32(address(register), value) }
    /// 64-bit registers as two 32-bit writes, low half first (§4.1.3.1 allows this).
    func write64(_ register: CommonConfiguration.Register, _ value: UInt64) {
        DeviceMemory.write32(address(register), UInt32(truncatingIfNeeded: value))
        DeviceMemory.write32(address(register) + 4, UInt32(truncatingIfNeeded: value >> 32))
    }

    func notify(queue: UInt16, queueNotifyOffset: UInt16) {
        DeviceMemory.write16(notifyBase + UInt64(queueNotifyOffset) * UInt64(notifyOffsetMultiplier), queue)
    }

    func readDeviceConfiguration8(offset: Int) -> UInt8 { DeviceMemory.read8(device + UInt64(offset)) }
    func readDeviceConfiguration16(offset: Int) -> UInt16 { DeviceMemory.read16(device + UInt64(offset)) }
    func readDeviceConfiguration32(offset: Int) -> UInt32 { DeviceMemory.read32(device + UInt64(offset)) }
}
