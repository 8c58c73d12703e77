/// A fake virtio device behind the common configuration structure, for handshake tests.
import Paging
import Virtio

/// Registers of one queue of the fake device.
struct FakeQueue {
    var maximumSize: UInt16
    var size: UInt16
    var msixVector: UInt16 = 0
    var enabled: UInt16 = 0
    var notifyOffset: UInt16
    var descriptorTable: UInt64 = 0
    var driverArea: UInt64 = 0
    var deviceArea: UInt64 = 0
    var sizeWritten = false
}

/// The device side of §3.1.1 and §4.1.4.3 as a test double, with knobs for misbehaviour.
final class FakeVirtioDevice: VirtioTransport {
    var offeredFeatures: FeatureSet
    var acceptedFeatures = FeatureSet()
    var status: UInt8 = 0
    var deviceFeatureSelect: UInt32 = 0
    var driverFeatureSelect: UInt32 = 0
    var queueSelect: UInt16 = 0
    var queues: [FakeQueue]
    var configurationMSIXVector: UInt16 = 0
    var generation: UInt8 = 0
    var deviceConfiguration = [UInt8](repeating: 0, count: 16)

    /// Every status value the driver wrote, in order.
    var statusWrites: [UInt8] = []
    /// Queues notified, with the offset given.
    var notifications: [(queue: UInt16, offset: UInt16)] = []
    /// Knob: clear FEATURES_OK when the driver sets it.
    var rejectFeatures = false
    /// Knob: set DEVICE_NEEDS_RESET when the driver sets FEATURES_OK.
    var needsResetOnFeaturesOK = false
    /// Knob: after a reset write, status reads as its old value this many more times.
    var resetReadsBeforeZero = 0
    /// Knob: right after the next device-configuration read, the configuration becomes these
    /// bytes and the generation changes — a change racing with the driver's read.
    var configurationChange: [UInt8]?
    private var pendingResetReads = 0
    private var statusBeforeReset: UInt8 = 0

    init(offered: FeatureSet, queues: [FakeQueue]) {
        offeredFeatures = offered
        self.queues = queues
    }

    private var selected: Int? { Int(queueSelect) < queues.count ? Int(queueSelect) : nil }

    func read8(_ register: CommonConfiguration.Register) -> UInt8 {
        switch register {
        case .deviceStatus:
            if pendingResetReads > 0 {
                pendingResetReads -= 1
                return statusBeforeReset
            }
            return status
        case .configurationGeneration: return generation
        default: fatalError("8-bit read of \(register)")
        }
    }

    func read16(_ register: CommonConfiguration.Register) -> UInt16 {
        switch register {
        case .numberOfQueues: return UInt16(queues.count)
        case .configurationMSIXVector: return configurationMSIXVector
        case .queueSelect: return queueSelect
        case .queueSize: return selected.map { queues[$0].size } ?? 0
        case .queueMSIXVector: return selected.map { queues[$0].msixVector } ?? 0
        case .queueEnable: return selected.map { queues[$0].enabled } ?? 0
        case .queueNotifyOffset: return selected.map { queues[$0].notifyOffset } ?? 0
        default: fatalError("16-bit read of \(register)")
        }
    }

    func read32(_ register: CommonConfiguration.Register) -> UInt32 {
        switch register {
        case .deviceFeature:
            return deviceFeatureSelect == 0 ? offeredFeatures.lowHalf : deviceFeatureSelect == 1 ? offeredFeatures.highHalf : 0
        case .driverFeature:
            return driverFeatureSelect == 0 ? acceptedFeatures.lowHalf : acceptedFeatures.highHalf
        default: fatalError("32-bit read of \(register)")
        }
    }

    func write8(_ register: CommonConfiguration.Register, _ value: UInt8) {
        precondition(register == .deviceStatus, "8-bit write of \(register)")
        statusWrites.append(value)
        if value == 0 {
            statusBeforeReset = status
            pendingResetReads = resetReadsBeforeZero
            status = 0
            acceptedFeatures = []
            for index in queues.indices {
                queues[index].size = queues[index].maximumSize
                queues[index].enabled = 0
            }
            return
        }
        var newStatus = DeviceStatus(rawValue: value)
        if newStatus.contains(.featuresOK) && !DeviceStatus(rawValue: status).contains(.featuresOK) {
            // §2.2.2: accept FEATURES_OK only for a subset of what was offered.
            if rejectFeatures || !offeredFeatures.isSuperset(of: acceptedFeatures) { newStatus.remove(.featuresOK) }
            if needsResetOnFeaturesOK { newStatus.insert(.deviceNeedsReset) }
        }
        status = newStatus.rawValue
    }

    func write16(_ register: CommonConfiguration.Register, _ value: UInt16) {
        switch register {
        case .queueSelect: queueSelect = value
        case .configurationMSIXVector: configurationMSIXVector = value
        case .queueSize:
            guard let index = selected else { return }
            queues[index].size = value
            queues[index].sizeWritten = true
        case .queueMSIXVector: if let index = selected { queues[index].msixVector = value }
        case .queueEnable: if let index = selected { queues[index].enabled = value }
        default: fatalError("16-bit write of \(register)")
        }
    }

    func write32(_ register: CommonConfiguration.Register, _ value: UInt32) {
        switch register {
        case .deviceFeatureSelect: deviceFeatureSelect = value
        case .driverFeatureSelect: driverFeatureSelect = value
        case .driverFeature:
            acceptedFeatures = driverFeatureSelect == 0
                ? FeatureSet(lowHalf: value, highHalf: acceptedFeatures.highHalf)
                : FeatureSet(lowHalf: acceptedFeatures.lowHalf, highHalf: value)
        default: fatalError("32-bit write of \(register)")
        }
    }

    func write64(_ register: CommonConfiguration.Register, _ value: UInt64) {
        guard let index = selected else { return }
        switch register {
        case .queueDescriptorTable: queues[index].descriptorTable = value
        case .queueDriverArea: queues[index].driverArea = value
        case .queueDeviceArea: queues[index].deviceArea = value
        default: fatalError("64-bit write of \(register)")
        }
    }

    func notify(queue: UInt16, queueNotifyOffset: UInt16) {
        notifications.append((queue, queueNotifyOffset))
        onNotify?(queue)
    }

    /// Knob: what the device does when a queue is notified (e.g. a `SimulatedDevice` serving it).
    var onNotify: ((UInt16) -> Void)?

    /// Queue `index`'s ring addresses as the driver wrote them.
    func addresses(ofQueue index: Int) -> VirtqueueAddresses {
        VirtqueueAddresses(size: queues[index].size, descriptorTable: PhysicalAddress(queues[index].descriptorTable),
                           driverArea: PhysicalAddress(queues[index].driverArea), deviceArea: PhysicalAddress(queues[index].deviceArea))
    }

    private func configurationRead() {
        if let change = configurationChange {
            configurationChange = nil
            deviceConfiguration = change
            generation &+= 1
        }
    }

    func readDeviceConfiguration8(offset: Int) -> UInt8 {
        defer { configurationRead() }
        return deviceConfiguration[offset]
    }

    func readDeviceConfiguration16(offset: Int) -> UInt16 {
        defer { configurationRead() }
        return UInt16(deviceConfiguration[offset]) | UInt16(deviceConfiguration[offset + 1]) << 8
    }

    func readDeviceConfiguration32(offset: Int) -> UInt32 {
        UInt32(readDeviceConfiguration16(offset: offset)) | UInt32(readDeviceConfiguration16(offset: offset + 2)) << 16
    }
}
