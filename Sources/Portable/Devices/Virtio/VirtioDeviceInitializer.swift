/// The driver side of virtio device initialization: reset, feature negotiation, queues, DRIVER_OK.
import Paging

/// Steps a device through initialization — virtio 1.2 §3.1.1 — over any transport.
///
/// Use: `initialize(wanted:required:)` (steps 1–6), then `setUpQueue` for every queue
/// (step 7), then `finish()` (step 8, DRIVER_OK). A failed step sets FAILED in the device
/// status and throws.
public struct VirtioDeviceInitializer<Transport: VirtioTransport> {
    /// The device's registers.
    public let transport: Transport
    /// How many times to read device_status after a reset before giving up. A reset in QEMU
    /// completes within the write, so the first read returns 0; real hardware may take longer.
    public var resetPollLimit: Int = 1_000_000

    /// An initializer driving the device behind `transport`.
    public init(transport: Transport) { self.transport = transport }

    /// The device status as the device shows it now.
    public var status: DeviceStatus { DeviceStatus(rawValue: transport.read8(.deviceStatus)) }

    /// Steps 1–6 of §3.1.1: reset, ACKNOWLEDGE, DRIVER, negotiate features, FEATURES_OK and
    /// check that it stuck. Returns the accepted features.
    public func initialize(wanted: FeatureSet, required: FeatureSet) throws(VirtioError) -> FeatureSet {
        // 1. Reset. §4.1.4.3.2: the driver must wait for device_status to read 0 before
        // reinitializing, because the reset may still be in progress.
        transport.write8(.deviceStatus, 0)
        var polls = 0
        while transport.read8(.deviceStatus) != 0 {
            polls += 1
            guard polls < resetPollLimit else { throw .resetTimedOut }
        }
        // 2–3. The device is noticed and we can drive it.
        var status: DeviceStatus = .acknowledge
        transport.write8(.deviceStatus, status.rawValue)
        status.insert(.driver)
        transport.write8(.deviceStatus, status.rawValue)
        // 4. Read the offered features (two 32-bit halves through the select register) and
        // write back our subset.
        transport.write32(.deviceFeatureSelect, 0)
        let offeredLow = transport.read32(.deviceFeature)
        transport.write32(.deviceFeatureSelect, 1)
        let offeredHigh = transport.read32(.deviceFeature)
        let offered = FeatureSet(lowHalf: offeredLow, highHalf: offeredHigh)
        let accepted: FeatureSet
        do {
            accepted = try FeatureSet.negotiate(offered: offered, wanted: wanted, required: required)
        } catch {
            fail()
            throw error
        }
        transport.write32(.driverFeatureSelect, 0)
        transport.write32(.driverFeature, accepted.lowHalf)
        transport.write32(.driverFeatureSelect, 1)
        transport.write32(.driverFeature, accepted.highHalf)
        // 5. Close negotiation; 6. the device clears FEATURES_OK again if it cannot work
        // with this subset, so re-read it.
        status.insert(.featuresOK)
        transport.write8(.deviceStatus, status.rawValue)
        let confirmed = self.status
        if confirmed.contains(.failed) || confirmed.contains(.deviceNeedsReset) {
            fail()
            throw .deviceFailed(confirmed)
        }
        guard confirmed.contains(.featuresOK) else {
            fail()
            throw .deviceRejectedFeatures
        }
        return accepted
    }

    /// The number of virtqueues the device has (num_queues).
    public var queueCount: UInt16 { transport.read16(.numberOfQueues) }

    /// The largest size queue `index` accepts; throws `queueUnavailable` when it has none.
    /// Choose the ring size (a power of two, at most this) before allocating its memory.
    public func maximumQueueSize(index: UInt16) throws(VirtioError) -> UInt16 {
        transport.write16(.queueSelect, index)
        let maximum = transport.read16(.queueSize)
        guard maximum != 0 else { throw .queueUnavailable(index: index) }
        return maximum
    }

    /// Step 7 for one queue (§4.1.5.1.3): select it, check and set its size, give the ring
    /// addresses, no MSI-X vector (we poll), enable it. Returns queue_notify_off, the value to
    /// pass to `VirtioTransport.notify(queue:queueNotifyOffset:)` for this queue.
    public func setUpQueue(index: UInt16, addresses: VirtqueueAddresses) throws(VirtioError) -> UInt16 {
        transport.write16(.queueSelect, index)
        let maximum = transport.read16(.queueSize)
        guard maximum != 0 else {
            fail()
            throw .queueUnavailable(index: index)
        }
        guard addresses.size <= maximum else {
            fail()
            throw .queueTooSmall(index: index, maximum: maximum)
        }
        if addresses.size != maximum { transport.write16(.queueSize, addresses.size) }
        transport.write16(.queueMSIXVector, CommonConfiguration.noVector)
        transport.write64(.queueDescriptorTable, addresses.descriptorTable.rawValue)
        transport.write64(.queueDriverArea, addresses.driverArea.rawValue)
        transport.write64(.queueDeviceArea, addresses.deviceArea.rawValue)
        let notifyOffset = transport.read16(.queueNotifyOffset)
        transport.write16(.queueEnable, 1)
        return notifyOffset
    }

    /// Step 8: DRIVER_OK — the device may now use the queues. Throws `deviceFailed` when the
    /// device shows FAILED or DEVICE_NEEDS_RESET afterwards.
    public func finish() throws(VirtioError) {
        var current = status
        current.insert(.driverOK)
        transport.write8(.deviceStatus, current.rawValue)
        let after = status
        if after.contains(.failed) || after.contains(.deviceNeedsReset) { throw .deviceFailed(after) }
    }

    /// Gives up on the device: sets FAILED (§3.1.1: "the driver SHOULD set the FAILED status
    /// bit" when a step goes irrecoverably wrong).
    public func fail() {
        var current = status
        current.insert(.failed)
        transport.write8(.deviceStatus, current.rawValue)
    }
}
