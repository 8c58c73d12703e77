/// Tests of the virtio-net header layout and of reading the device configuration.
import Virtio
import XCTest

final class VirtioNetTests: XCTestCase {
    func testHeaderBytes() {
        let header = VirtioNetHeader(flags: .needsChecksum, segmentationType: VirtioNetHeader.SegmentationType.tcpIPv4.rawValue,
                                     headerLength: 0x0036, segmentSize: 0x05B4, checksumStart: 0x0022,
                                     checksumOffset: 0x0010, bufferCount: 0x0001)
        var bytes = [UInt8](repeating: 0xEE, count: 14)
        bytes.withUnsafeMutableBytes { header.store(to: $0.baseAddress! + 1) }
        XCTAssertEqual(bytes, [0xEE, 0x01, 0x01, 0x36, 0x00, 0xB4, 0x05, 0x22, 0x00, 0x10, 0x00, 0x01, 0x00, 0xEE])
        let loaded = bytes.withUnsafeBytes { VirtioNetHeader(loadingFrom: $0.baseAddress! + 1) }
        XCTAssertEqual(loaded, header)
        XCTAssertEqual(VirtioNetHeader.byteCount, 12)
        // The default transmit header is all zeros.
        var zero = [UInt8](repeating: 0xEE, count: 12)
        zero.withUnsafeMutableBytes { VirtioNetHeader().store(to: $0.baseAddress!) }
        XCTAssertEqual(zero, [UInt8](repeating: 0, count: 12))
    }

    func makeDevice() -> FakeVirtioDevice {
        let device = FakeVirtioDevice(offered: [.version1, .mac, .status], queues: [])
        device.deviceConfiguration = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56,   // mac
                                      0x01, 0x00,                           // status: link up
                                      0x04, 0x00,                           // max_virtqueue_pairs
                                      0xDC, 0x05, 0, 0, 0, 0]               // mtu 1500
        return device
    }

    func testConfigurationFields() {
        let device = makeDevice()
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1, .mac, .status, .multiqueue, .maximumTransmissionUnit])
        XCTAssertTrue(configuration.mac! == (0x52, 0x54, 0x00, 0x12, 0x34, 0x56))
        XCTAssertEqual(configuration.status, .linkUp)
        XCTAssertEqual(configuration.maximumQueuePairs, 4)
        XCTAssertEqual(configuration.maximumTransmissionUnit, 1500)
    }

    func testConfigurationWithoutFeaturesUsesDefaults() {
        let device = makeDevice()
        device.deviceConfiguration[6] = 0   // link down, but STATUS not negotiated
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1])
        XCTAssertNil(configuration.mac)
        XCTAssertEqual(configuration.status, .linkUp)
        XCTAssertEqual(configuration.maximumQueuePairs, 1)
        XCTAssertNil(configuration.maximumTransmissionUnit)
    }

    func testConfigurationIsRereadWhenTheGenerationChanges() {
        let device = makeDevice()
        // The MAC changes after the driver read its first byte: that pass is torn, and only a
        // re-read gives the new address whole.
        var changed = device.deviceConfiguration
        changed.replaceSubrange(0..<6, with: [0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE])
        device.configurationChange = changed
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1, .mac, .status])
        XCTAssertTrue(configuration.mac! == (0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE), "\(configuration.mac!)")
        XCTAssertEqual(device.generation, 1)
    }
}
