/// How the driver reaches a virtio device's registers: MMIO in the kernel, a fake in tests.

/// Access to one virtio PCI device's common configuration, notification area and device
/// configuration (virtio 1.2 §4.1.4), however the platform reaches them.
///
/// Values are in host order; a little-endian platform stores them as they are (virtio 1.x
/// registers are little-endian, §4.1.3). Accesses must be exactly the register's width
/// (§4.1.3.1); a 64-bit write may be done as two 32-bit writes, low half first.
public protocol VirtioTransport {
    /// Reads an 8-bit common configuration register.
    func read8(_ register: CommonConfiguration.Register) -> UInt8
    /// Reads a 16-bit common configuration register.
    func read16(_ register: CommonConfiguration.Register) -> UInt16
    /// Reads a 32-bit common configuration register.
    func read32(_ register: CommonConfiguration.Register) -> UInt32
    /// Writes an 8-bit common configuration register.
    func write8(_ register: CommonConfiguration.Register, _ value: UInt8)
    /// Writes a 16-bit common configuration register.
    func write16(_ register: CommonConfiguration.Register, _ value: UInt16)
    /// Writes a 32-bit common configuration register.
    func write32(_ register: CommonConfiguration.Register, _ value: UInt32)
    /// Writes a 64-bit common configuration register (the queue addresses).
    func write64(_ register: CommonConfiguration.Register, _ value: UInt64)
    /// Tells the device that queue `queue` has new available buffers: writes the queue index
    /// (16 bits) at notify cap.offset + `queueNotifyOffset` × notify_off_multiplier in the
    /// notify capability's BAR (§4.1.4.4). `queueNotifyOffset` is what
    /// `VirtioDeviceInitializer.setUpQueue` returned for that queue; see
    /// `VirtioPCICapability.notificationOffset(queueNotifyOffset:)`.
    func notify(queue: UInt16, queueNotifyOffset: UInt16)
    /// Reads the byte at `offset` of the device-specific configuration.
    func readDeviceConfiguration8(offset: Int) -> UInt8
    /// Reads the 16-bit field at `offset` of the device-specific configuration.
    func readDeviceConfiguration16(offset: Int) -> UInt16
    /// Reads the 32-bit field at `offset` of the device-specific configuration.
    func readDeviceConfiguration32(offset: Int) -> UInt32
}
