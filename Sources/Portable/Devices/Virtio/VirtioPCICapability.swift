/// Where a virtio PCI device keeps each of its register structures, parsed from its capabilities; and the vendor ID all virtio PCI devices share.

/// One virtio structure location (struct virtio_pci_cap, and virtio_pci_notify_cap for
/// notifications) — virtio 1.2 §4.1.4. Found in PCI capabilities with ID 0x09 (vendor specific).
public struct VirtioPCICapability: Equatable, Sendable {
    /// cfg_type: which structure the capability locates — §4.1.4.
    public enum StructureType: UInt8, Sendable {
        /// VIRTIO_PCI_CAP_COMMON_CFG: the common configuration (§4.1.4.3).
        case commonConfiguration = 1
        /// VIRTIO_PCI_CAP_NOTIFY_CFG: the notification area (§4.1.4.4).
        case notification = 2
        /// VIRTIO_PCI_CAP_ISR_CFG: the interrupt status byte (§4.1.4.5).
        case interruptStatus = 3
        /// VIRTIO_PCI_CAP_DEVICE_CFG: the device-specific configuration (§4.1.4.6).
        case deviceConfiguration = 4
        /// VIRTIO_PCI_CAP_PCI_CFG: a window to the other structures through config space (§4.1.4.9).
        case configurationAccess = 5
        /// VIRTIO_PCI_CAP_SHARED_MEMORY_CFG: a shared memory region (§4.1.4.7).
        case sharedMemory = 8
        /// VIRTIO_PCI_CAP_VENDOR_CFG: vendor data (§4.1.4.8).
        case vendor = 9
    }

    /// Field offsets within the capability — §4.1.4 (struct virtio_pci_cap, 16 bytes, then
    /// notify_off_multiplier for the notify capability).
    public enum Offset {
        /// cap_vndr, u8: 0x09.
        public static let vendor = 0
        /// cap_next, u8: the next capability.
        public static let next = 1
        /// cap_len, u8: this capability's length (16, or 20 for notify).
        public static let length = 2
        /// cfg_type, u8.
        public static let type = 3
        /// bar, u8: which BAR holds the structure (0–5).
        public static let bar = 4
        /// id, u8: tells apart several capabilities of one type.
        public static let identifier = 5
        /// offset, le32: where in the BAR the structure starts.
        public static let structureOffset = 8
        /// length, le32: the structure's length in bytes.
        public static let structureLength = 12
        /// notify_off_multiplier, le32 (notify capability only).
        public static let notifyOffsetMultiplier = 16
    }

    /// The PCI capability ID of virtio's capabilities (vendor specific).
    public static let capabilityID: UInt8 = 0x09

    /// Which structure this is.
    public var type: StructureType
    /// The BAR holding it (0–5).
    public var bar: UInt8
    /// The capability's id field.
    public var identifier: UInt8
    /// Byte offset of the structure within the BAR.
    public var offset: UInt32
    /// Length of the structure in bytes.
    public var length: UInt32
    /// For `notification`: bytes between the notify addresses of consecutive
    /// queue_notify_off values (0: every queue shares one address). 0 for other types.
    public var notifyOffsetMultiplier: UInt32

    /// A capability with these fields.
    public init(type: StructureType, bar: UInt8, identifier: UInt8 = 0, offset: UInt32, length: UInt32,
                notifyOffsetMultiplier: UInt32 = 0) {
        self.type = type
        self.bar = bar
        self.identifier = identifier
        self.offset = offset
        self.length = length
        self.notifyOffsetMultiplier = notifyOffsetMultiplier
    }

    /// Parses the capability at `capabilityOffset` of a function's configuration space,
    /// reading dwords through `read32` (its argument is a dword-aligned config offset).
    /// Nil when it is not a virtio capability, is too short, names a reserved BAR (§4.1.4:
    /// the driver must ignore those) or an unknown type.
    public static func parse(capabilityOffset: UInt8, read32: (UInt8) -> UInt32) -> VirtioPCICapability? {
        guard capabilityOffset & 3 == 0, capabilityOffset <= 0xFF - 15 else { return nil }
        let header = read32(capabilityOffset)
        let vendor = UInt8(truncatingIfNeeded: header)
        let capabilityLength = UInt8(truncatingIfNeeded: header >> 16)
        let rawType = UInt8(truncatingIfNeeded: header >> 24)
        guard vendor == capabilityID, capabilityLength >= 16,
              let type = StructureType(rawValue: rawType) else { return nil }
        let location = read32(capabilityOffset + UInt8(Offset.bar))
        let bar = UInt8(truncatingIfNeeded: location)
        guard bar <= 5 else { return nil }
        var multiplier: UInt32 = 0
        if type == .notification {
            guard capabilityLength >= 20, capabilityOffset <= 0xFF - 19 else { return nil }
            multiplier = read32(capabilityOffset + UInt8(Offset.notifyOffsetMultiplier))
        }
        return VirtioPCICapability(type: type, bar: bar, identifier: UInt8(truncatingIfNeeded: location >> 8),
                                   offset: read32(capabilityOffset + UInt8(Offset.structureOffset)),
                                   length: read32(capabilityOffset + UInt8(Offset.structureLength)),
                                   notifyOffsetMultiplier: multiplier)
    }

    /// For the notify capability: the byte offset within its BAR where queue notifications
    /// with this queue_notify_off go — cap.offset + queue_notify_off × notify_off_multiplier
    /// (§4.1.4.4).
    public func notificationOffset(queueNotifyOffset: UInt16) -> UInt64 {
        UInt64(offset) + UInt64(queueNotifyOffset) * UInt64(notifyOffsetMultiplier)
    }
}

/// The structures a virtio PCI device exposes, the first capability of each type
/// (§4.1.4: "the driver SHOULD use the first instance of each virtio structure type").
public struct VirtioPCIStructures: Equatable, Sendable {
    /// The common configuration.
    public var commonConfiguration: VirtioPCICapability?
    /// The notification area.
    public var notification: VirtioPCICapability?
    /// The ISR status byte.
    public var interruptStatus: VirtioPCICapability?
    /// The device-specific configuration.
    public var deviceConfiguration: VirtioPCICapability?

    /// No structures found yet.
    public init() {}

    /// Keeps `capability` if it is the first of its type that a driver uses.
    public mutating func record(_ capability: VirtioPCICapability) {
        switch capability.type {
        case .commonConfiguration: if commonConfiguration == nil { commonConfiguration = capability }
        case .notification: if notification == nil { notification = capability }
        case .interruptStatus: if interruptStatus == nil { interruptStatus = capability }
        case .deviceConfiguration: if deviceConfiguration == nil { deviceConfiguration = capability }
        case .configurationAccess, .sharedMemory, .vendor: break
        }
    }

    /// Whether a modern (virtio 1.x) driver can run: common configuration and notification
    /// are present. (A transitional device without them is legacy-only.)
    public var isModern: Bool { commonConfiguration != nil && notification != nil }
}

/// What every virtio device on PCI shares (virtio 1.2 §4.1.2).
public enum VirtioPCIDevice {
    /// The PCI vendor ID of every virtio device (§4.1.2: 0x1AF4); the device ID says which kind.
    public static let vendorID: UInt16 = 0x1AF4
}
