/// Tests of feature negotiation and the driver's initialization handshake against a fake device.
import Paging
import Virtio
import XCTest

final class VirtioInitializerTests: XCTestCase {
    let offered: FeatureSet = [.version1, .mac, .status, .deviceChecksum, .mergeableReceiveBuffers,
                               .ringEventIndex, .controlQueue, .accessPlatform]
    let wanted: FeatureSet = [.mac, .status]
    let required: FeatureSet = [.version1]

    func makeDevice(offered: FeatureSet? = nil, maximumSizes: [UInt16] = [256, 256]) -> FakeVirtioDevice {
        FakeVirtioDevice(offered: offered ?? self.offered,
                         queues: maximumSizes.enumerated().map {
                             FakeQueue(maximumSize: $0.element, size: $0.element, notifyOffset: UInt16($0.offset))
                         })
    }

    func testFeatureBitsMatchTheSpecification() {
        XCTAssertEqual(FeatureSet.version1.rawValue, 1 << 32)
        XCTAssertEqual(FeatureSet.ringEventIndex.rawValue, 1 << 29)
        XCTAssertEqual(FeatureSet.indirectDescriptors.rawValue, 1 << 28)
        XCTAssertEqual(FeatureSet.deviceChecksum.rawValue, 1 << 0)
        XCTAssertEqual(FeatureSet.guestChecksum.rawValue, 1 << 1)
        XCTAssertEqual(FeatureSet.mac.rawValue, 1 << 5)
        XCTAssertEqual(FeatureSet.mergeableReceiveBuffers.rawValue, 1 << 15)
        XCTAssertEqual(FeatureSet.status.rawValue, 1 << 16)
        XCTAssertEqual(FeatureSet.controlQueue.rawValue, 1 << 17)
        XCTAssertEqual(FeatureSet(lowHalf: 0x20, highHalf: 1), [.mac, .version1])
        XCTAssertEqual(FeatureSet([.mac, .version1]).lowHalf, 0x20)
        XCTAssertEqual(FeatureSet([.mac, .version1]).highHalf, 1)
    }

    func testNegotiateAcceptsOnlyWhatWeHandle() throws {
        XCTAssertEqual(try FeatureSet.negotiate(offered: offered, wanted: wanted, required: required),
                       [.version1, .mac, .status])
        // Wanted but not offered: simply not accepted.
        XCTAssertEqual(try FeatureSet.negotiate(offered: [.version1], wanted: wanted, required: required), [.version1])
        XCTAssertThrowsError(try FeatureSet.negotiate(offered: [.mac, .status], wanted: wanted, required: [.version1, .ringEventIndex])) {
            XCTAssertEqual($0 as? VirtioError, .missingFeatures([.version1, .ringEventIndex]))
        }
    }

    func testSuccessfulHandshake() throws {
        let device = makeDevice()
        let initializer = VirtioDeviceInitializer(transport: device)
        let accepted = try initializer.initialize(wanted: wanted, required: required)
        XCTAssertEqual(accepted, [.version1, .mac, .status])
        XCTAssertEqual(device.acceptedFeatures, [.version1, .mac, .status])
        // §3.1.1: reset, ACKNOWLEDGE, +DRIVER, +FEATURES_OK.
        XCTAssertEqual(device.statusWrites, [0, 1, 3, 11])
        XCTAssertEqual(initializer.queueCount, 2)

        XCTAssertEqual(try initializer.maximumQueueSize(index: 1), 256)
        let addresses = VirtqueueAddresses(size: 64, descriptorTable: PhysicalAddress(0x10_0000), driverArea: PhysicalAddress(0x10_1000), deviceArea: PhysicalAddress(0x10_2000))
        XCTAssertEqual(try initializer.setUpQueue(index: 1, addresses: addresses), 1)
        let queue = device.queues[1]
        XCTAssertEqual(queue.size, 64)
        XCTAssertEqual(queue.descriptorTable, 0x10_0000)
        XCTAssertEqual(queue.driverArea, 0x10_1000)
        XCTAssertEqual(queue.deviceArea, 0x10_2000)
        XCTAssertEqual(queue.msixVector, 0xFFFF)
        XCTAssertEqual(queue.enabled, 1)
        XCTAssertEqual(device.queues[0].enabled, 0)

        // A ring as large as the device's maximum: the size register is left alone.
        let full = VirtqueueAddresses(size: 256, descriptorTable: PhysicalAddress(0x20_0000), driverArea: PhysicalAddress(0x20_1000), deviceArea: PhysicalAddress(0x20_2000))
        XCTAssertEqual(try initializer.setUpQueue(index: 0, addresses: full), 0)
        XCTAssertFalse(device.queues[0].sizeWritten)
        XCTAssertEqual(device.queues[0].enabled, 1)

        try initializer.finish()
        XCTAssertEqual(initializer.status, [.acknowledge, .driver, .featuresOK, .driverOK])
        XCTAssertEqual(device.statusWrites.last, 15)
    }

    func testResetIsAwaited() throws {
        let device = makeDevice()
        device.status = 0x0F
        device.resetReadsBeforeZero = 3
        XCTAssertNoThrow(try VirtioDeviceInitializer(transport: device).initialize(wanted: wanted, required: required))

        let stuck = makeDevice()
        stuck.status = 0x0F
        stuck.resetReadsBeforeZero = 1000
        var initializer = VirtioDeviceInitializer(transport: stuck)
        initializer.resetPollLimit = 100
        XCTAssertThrowsError(try initializer.initialize(wanted: wanted, required: required)) {
            XCTAssertEqual($0 as? VirtioError, .resetTimedOut)
        }
        XCTAssertEqual(stuck.statusWrites, [0])
    }

    func testDeviceRejectingFeaturesOK() {
        let device = makeDevice()
        device.rejectFeatures = true
        XCTAssertThrowsError(try VirtioDeviceInitializer(transport: device).initialize(wanted: wanted, required: required)) {
            XCTAssertEqual($0 as? VirtioError, .deviceRejectedFeatures)
        }
        XCTAssertEqual(device.statusWrites, [0, 1, 3, 11, 128 | 3])
        XCTAssertTrue(DeviceStatus(rawValue: device.status).contains(.failed))
    }

    func testDeviceNeedingResetFails() {
        let device = makeDevice()
        device.needsResetOnFeaturesOK = true
        XCTAssertThrowsError(try VirtioDeviceInitializer(transport: device).initialize(wanted: wanted, required: required)) {
            XCTAssertEqual($0 as? VirtioError, .deviceFailed([.acknowledge, .driver, .featuresOK, .deviceNeedsReset]))
        }
        XCTAssertTrue(DeviceStatus(rawValue: device.status).contains(.failed))
    }

    func testMissingVersion1() {
        let device = makeDevice(offered: [.mac, .status, .deviceChecksum])
        XCTAssertThrowsError(try VirtioDeviceInitializer(transport: device).initialize(wanted: wanted, required: required)) {
            XCTAssertEqual($0 as? VirtioError, .missingFeatures(.version1))
        }
        // FAILED set; FEATURES_OK never offered; no features accepted.
        XCTAssertEqual(device.statusWrites, [0, 1, 3, 128 | 3])
        XCTAssertEqual(device.acceptedFeatures, [])
    }

    func testQueueSizeZeroIsUnavailable() throws {
        let device = makeDevice(maximumSizes: [256, 256, 0])
        let initializer = VirtioDeviceInitializer(transport: device)
        _ = try initializer.initialize(wanted: wanted, required: required)
        XCTAssertThrowsError(try initializer.maximumQueueSize(index: 2)) {
            XCTAssertEqual($0 as? VirtioError, .queueUnavailable(index: 2))
        }
        let addresses = VirtqueueAddresses(size: 64, descriptorTable: PhysicalAddress(0x10_0000), driverArea: PhysicalAddress(0x10_1000), deviceArea: PhysicalAddress(0x10_2000))
        XCTAssertThrowsError(try initializer.setUpQueue(index: 2, addresses: addresses)) {
            XCTAssertEqual($0 as? VirtioError, .queueUnavailable(index: 2))
        }
        // A queue index beyond num_queues reads size 0 too.
        XCTAssertThrowsError(try initializer.setUpQueue(index: 7, addresses: addresses)) {
            XCTAssertEqual($0 as? VirtioError, .queueUnavailable(index: 7))
        }
        XCTAssertTrue(initializer.status.contains(.failed))
    }

    func testRingLargerThanTheDeviceAllows() throws {
        let device = makeDevice(maximumSizes: [128])
        let initializer = VirtioDeviceInitializer(transport: device)
        _ = try initializer.initialize(wanted: wanted, required: required)
        let addresses = VirtqueueAddresses(size: 256, descriptorTable: PhysicalAddress(0x10_0000), driverArea: PhysicalAddress(0x10_1000), deviceArea: PhysicalAddress(0x10_2000))
        XCTAssertThrowsError(try initializer.setUpQueue(index: 0, addresses: addresses)) {
            XCTAssertEqual($0 as? VirtioError, .queueTooSmall(index: 0, maximum: 128))
        }
        XCTAssertEqual(device.queues[0].enabled, 0)
    }
}
