/// The registers of the virtio PCI common configuration structure.

/// The common configuration structure (struct virtio_pci_common_cfg) — virtio 1.2 §4.1.4.3.
/// It sits in the BAR and at the offset the common-configuration capability names.
public enum CommonConfiguration {
    /// Register offsets within the structure; `width` gives each register's size in bytes.
    public enum Register: Int, Sendable {
        /// le32, driver writes: which 32-bit half of the device features to show (0 or 1).
        case deviceFeatureSelect = 0x00
        /// le32, read-only: the selected half of the device's features.
        case deviceFeature = 0x04
        /// le32, driver writes: which half of the driver features `driverFeature` sets.
        case driverFeatureSelect = 0x08
        /// le32: the selected half of the features the driver accepts.
        case driverFeature = 0x0C
        /// le16: the MSI-X vector for configuration changes (0xFFFF: none).
        case configurationMSIXVector = 0x10
        /// le16, read-only: how many virtqueues the device has.
        case numberOfQueues = 0x12
        /// u8: the device status (`DeviceStatus`); writing 0 resets the device.
        case deviceStatus = 0x14
        /// u8, read-only: changes whenever the device configuration changes (§2.5.1).
        case configurationGeneration = 0x15
        /// le16: which queue the queue_* registers below refer to.
        case queueSelect = 0x16
        /// le16: the selected queue's size; reads the maximum (0: no such queue).
        case queueSize = 0x18
        /// le16: the MSI-X vector for the selected queue (0xFFFF: none).
        case queueMSIXVector = 0x1A
        /// le16: 1 enables the selected queue.
        case queueEnable = 0x1C
        /// le16, read-only: the selected queue's notification offset, in units of the
        /// notify capability's notify_off_multiplier (§4.1.4.4).
        case queueNotifyOffset = 0x1E
        /// le64: physical address of the selected queue's descriptor table.
        case queueDescriptorTable = 0x20
        /// le64: physical address of the selected queue's driver area (available ring).
        case queueDriverArea = 0x28
        /// le64: physical address of the selected queue's device area (used ring).
        case queueDeviceArea = 0x30

        /// The register's width in bytes.
        public var width: Int {
            switch self {
            case .deviceStatus, .configurationGeneration: return 1
            case .configurationMSIXVector, .numberOfQueues, .queueSelect, .queueSize,
                 .queueMSIXVector, .queueEnable, .queueNotifyOffset: return 2
            case .deviceFeatureSelect, .deviceFeature, .driverFeatureSelect, .driverFeature: return 4
            case .queueDescriptorTable, .queueDriverArea, .queueDeviceArea: return 8
            }
        }
    }

    /// "No MSI-X vector" for configurationMSIXVector and queueMSIXVector (VIRTIO_MSI_NO_VECTOR).
    public static let noVector: UInt16 = 0xFFFF
}
