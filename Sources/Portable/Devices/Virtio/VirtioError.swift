/// Why bringing up a virtio device or one of its queues failed.

/// A failed step of device initialization (virtio 1.2 §3.1.1) or queue setup (§4.1.5.1.3).
public enum VirtioError: Error, Equatable, Sendable {
    /// device_status did not read back 0 after the reset write within the polling budget.
    case resetTimedOut
    /// The device does not offer these features we require (e.g. `FeatureSet.version1`).
    case missingFeatures(FeatureSet)
    /// FEATURES_OK did not stick: the device cannot work with the subset we accepted.
    case deviceRejectedFeatures
    /// The device set FAILED or DEVICE_NEEDS_RESET; this is the status it showed.
    case deviceFailed(DeviceStatus)
    /// queue_size read 0 for this queue: the device has no such queue.
    case queueUnavailable(index: UInt16)
    /// Our ring has more entries than the device accepts for this queue (its maximum).
    case queueTooSmall(index: UInt16, maximum: UInt16)
}
