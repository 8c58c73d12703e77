/// Tests of the virtio-rng driver (virtio 1.2 §5.4) against a fake device that fills requests from a seeded generator.
import TestSupport
import Virtio
import XCTest

final class VirtioEntropyTests: XCTestCase {
    /// A fake entropy device: the handshake of `FakeVirtioDevice`, and on each notification a
    /// `SimulatedDevice` that fills every available buffer with `fill` bytes (or as many as
    /// `written` says) and returns it.
    final class EntropyDevice {
        let fake = FakeVirtioDevice(offered: [.version1], queues: [FakeQueue(maximumSize: 256, size: 256, notifyOffset: 3)])
        var simulated: SimulatedDevice?
        var random = SplitMix64(seed: 0xE7)
        var written: (UInt32) -> UInt32 = { $0 }
        var answers = true
        var seen: [SeenBuffer] = []
        var memory: [QueueMemory] = []

        init() {
            fake.onNotify = { [unowned self] queue in
                guard queue == 0, answers else { return }
                if simulated == nil { simulated = SimulatedDevice(addresses: fake.addresses(ofQueue: 0)) }
                for buffer in simulated!.takeAvailable() {
                    seen.append(buffer)
                    let descriptor = buffer.chain[0]
                    let count = written(descriptor.length)
                    let target = UnsafeMutableRawPointer(bitPattern: UInt(descriptor.address))!
                    for offset in 0..<Int(min(count, descriptor.length)) {
                        target.storeBytes(of: UInt8(truncatingIfNeeded: random.next()), toByteOffset: offset, as: UInt8.self)
                    }
                    simulated!.complete(id: UInt32(buffer.head), length: count)
                }
                simulated!.publishUsed()
            }
        }

        func driver() throws -> VirtioEntropy<FakeVirtioDevice> {
            try VirtioEntropy(initializer: VirtioDeviceInitializer(transport: fake)) { [unowned self] bytes in
                let area = QueueMemory(byteCount: (bytes + 4095) / 4096 * 4096)
                memory.append(area)
                return (area.pointer, area.physicalAddress)
            }
        }
    }

    /// The handshake ends in DRIVER_OK with only VERSION_1 accepted, the ring is 8 entries,
    /// and each fill is one device-writable descriptor the device fills: the bytes come back.
    func testFillsDeviceWritableBuffersWithTheDevicesBytes() throws {
        let device = EntropyDevice()
        var driver = try device.driver()
        XCTAssertTrue(DeviceStatus(rawValue: device.fake.status).contains(.driverOK))
        XCTAssertEqual(device.fake.acceptedFeatures, [.version1])
        XCTAssertEqual(device.fake.queues[0].size, VirtioEntropy<FakeVirtioDevice>.queueSize)
        XCTAssertEqual(device.fake.queues[0].enabled, 1)
        let target = QueueMemory(byteCount: 4096)
        var expected = SplitMix64(seed: 0xE7)
        for round in 0..<20 {   // more than the ring's 8 entries: descriptors come back for reuse
            target.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
            let got = driver.fill(physicalAddress: target.physicalAddress, length: 64, pollLimit: 10, pause: {})
            XCTAssertEqual(got, 64, "round \(round)")
            let bytes = (0..<64).map { target.pointer.load(fromByteOffset: $0, as: UInt8.self) }
            XCTAssertEqual(bytes, (0..<64).map { _ in UInt8(truncatingIfNeeded: expected.next()) }, "round \(round)")
        }
        XCTAssertEqual(device.seen.count, 20)
        for buffer in device.seen {
            XCTAssertEqual(buffer.chain.count, 1)
            XCTAssertEqual(buffer.chain[0].length, 64)
            XCTAssertEqual(buffer.chain[0].address, target.physicalAddress.rawValue)
            XCTAssertNotEqual(buffer.chain[0].flags & VirtqueueDescriptor.Flags.write.rawValue, 0, "§5.4.6.1: device-writable only")
        }
        XCTAssertEqual(device.fake.notifications.map(\.offset), Array(repeating: 3, count: 20), "notified at queue_notify_off")
    }

    /// A device may write fewer bytes than asked (§5.4.6.2): the count says so.
    func testAShortFillIsReportedAsShort() throws {
        let device = EntropyDevice()
        device.written = { $0 / 2 }
        var driver = try device.driver()
        let target = QueueMemory(byteCount: 4096)
        XCTAssertEqual(driver.fill(physicalAddress: target.physicalAddress, length: 32, pollLimit: 10, pause: {}), 16)
    }

    /// A device that never answers, or claims more bytes than the buffer holds, gives nil.
    func testASilentOrLyingDeviceGivesNothing() throws {
        let silent = EntropyDevice()
        silent.answers = false
        var driver = try silent.driver()
        let target = QueueMemory(byteCount: 4096)
        var pauses = 0
        XCTAssertNil(driver.fill(physicalAddress: target.physicalAddress, length: 8, pollLimit: 100, pause: { pauses += 1 }))
        XCTAssertEqual(pauses, 100)

        let liar = EntropyDevice()
        liar.written = { $0 + 1 }
        var lied = try liar.driver()
        XCTAssertNil(lied.fill(physicalAddress: target.physicalAddress, length: 8, pollLimit: 10, pause: {}))
    }

    /// A device without VERSION_1 is refused and marked FAILED.
    func testALegacyOnlyDeviceIsRefused() {
        let device = EntropyDevice()
        device.fake.offeredFeatures = []
        XCTAssertThrowsError(try device.driver())
        XCTAssertTrue(DeviceStatus(rawValue: device.fake.status).contains(.failed))
    }
}
