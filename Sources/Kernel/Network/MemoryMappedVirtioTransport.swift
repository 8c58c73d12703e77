/// The virtio PCI transport through memory-mapped BAR regions (virtio 1.2 §4.1.4), for every virtio device the kernel drives.
import PCI
import Synchronization
import Virtio

/// Why a virtio PCI function's registers cannot be reached.
enum VirtioPCIError: Error {
    /// No common, notification or device configuration capability: a legacy-only device.
    case notModern
    /// A capability points outside its BAR, or the BAR cannot be mapped.
    case barUnusable(bar: UInt8)
}

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
        let start = MonotonicClock.nanosecondsSinceBoot
        DeviceMemory.write16(notifyBase + UInt64(queueNotifyOffset) * UInt64(notifyOffsetMultiplier), queue)
        // Relaxed: this CPU's own statistics (see `CPUBlock.deviceNotifyNanoseconds`).
        CPU.current.pointee.deviceNotifyNanoseconds.wrappingAdd(MonotonicClock.nanosecondsSinceBoot &- start, ordering: .relaxed)
    }

    func readDeviceConfiguration8(offset: Int) -> UInt8 { DeviceMemory.read8(device + UInt64(offset)) }
    func readDeviceConfiguration16(offset: Int) -> UInt16 { DeviceMemory.read16(device + UInt64(offset)) }
    func readDeviceConfiguration32(offset: Int) -> UInt32 { DeviceMemory.read32(device + UInt64(offset)) }
}

extension MemoryMappedVirtioTransport {
    /// Finds `function`'s virtio structures through its vendor capabilities (§4.1.4), maps
    /// them, and turns on memory decoding and DMA with the legacy INTx line off (the kernel
    /// polls, or uses MSI-X). Returns the transport and the BARs (for the MSI-X table). The
    /// device-specific configuration is optional (virtio-rng has none, §5.4.4).
    static func open(_ function: PCIFunction) throws(VirtioPCIError) -> (MemoryMappedVirtioTransport, BaseAddressRegisters) {
        let space = PortConfigurationSpace()
        var structures = VirtioPCIStructures()
        for capability in CapabilitySequence(space: space, address: function.address)
            where capability.id == VirtioPCICapability.capabilityID {
            if let parsed = VirtioPCICapability.parse(capabilityOffset: capability.offset,
                                                      read32: { space.read32(function.address, offset: $0) }) {
                structures.record(parsed)
            }
        }
        guard structures.isModern, let common = structures.commonConfiguration, let notification = structures.notification else {
            throw .notModern
        }
        let bars = readBaseAddressRegisters(space, function.address)
        func mapped(_ capability: VirtioPCICapability) throws(VirtioPCIError) -> UInt64 {
            guard capability.bar < 6, case .memory(let base, let size, _, _) = bars[Int(capability.bar)],
                  base != 0, UInt64(capability.offset) + UInt64(capability.length) <= size else {
                throw .barUnusable(bar: capability.bar)
            }
            let address = base + UInt64(capability.offset)
            guard KernelAddressSpace.mapDevice(physical: address, byteCount: UInt64(max(capability.length, 1))) else {
                throw .barUnusable(bar: capability.bar)
            }
            return address
        }
        var command = space.readCommand(function.address)
        command.formUnion([.memorySpace, .busMaster, .interruptDisable])
        space.writeCommand(function.address, command)
        let device: UInt64 = if let configuration = structures.deviceConfiguration { try mapped(configuration) } else { 0 }
        let transport = MemoryMappedVirtioTransport(
            common: try mapped(common), notifyBase: try mapped(notification),
            notifyOffsetMultiplier: notification.notifyOffsetMultiplier, device: device)
        return (transport, bars)
    }
}
