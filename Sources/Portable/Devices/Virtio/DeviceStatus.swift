/// The device_status bits the driver and device use to step through initialization.

/// Device status field — virtio 1.2 §2.1.
public struct DeviceStatus: OptionSet, Equatable, Sendable {
    /// The field's 8 bits.
    public var rawValue: UInt8
    /// The bits `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// ACKNOWLEDGE (1): the guest noticed the device.
    public static let acknowledge = DeviceStatus(rawValue: 1)
    /// DRIVER (2): the guest knows how to drive the device.
    public static let driver = DeviceStatus(rawValue: 2)
    /// DRIVER_OK (4): the driver is set up and ready to drive the device.
    public static let driverOK = DeviceStatus(rawValue: 4)
    /// FEATURES_OK (8): the driver acknowledged the features it understands; negotiation is over.
    public static let featuresOK = DeviceStatus(rawValue: 8)
    /// DEVICE_NEEDS_RESET (64): the device hit an error it cannot recover from without reset.
    public static let deviceNeedsReset = DeviceStatus(rawValue: 64)
    /// FAILED (128): the driver gave up on the device.
    public static let failed = DeviceStatus(rawValue: 128)
}
