/// Tests of the virtio-net control commands, the RSS configuration fields and queue indices.
import Virtio
import XCTest

final class VirtioNetControlTests: XCTestCase {
    func testSetQueuePairsBytes() {
        var bytes = [UInt8](repeating: 0xEE, count: 6)
        let length = bytes.withUnsafeMutableBytes { VirtioNetControl.writeSetQueuePairs(0x0104, to: $0) }
        XCTAssertEqual(length, 4)
        // class VIRTIO_NET_CTRL_MQ, command VQ_PAIRS_SET, le16 0x0104; the rest untouched.
        XCTAssertEqual(bytes, [0x04, 0x00, 0x04, 0x01, 0xEE, 0xEE])
    }

    func testSetQueuePairsRejectsBadInput() {
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes.withUnsafeMutableBytes { buffer in
            XCTAssertNil(VirtioNetControl.writeSetQueuePairs(0, to: buffer))
            XCTAssertNil(VirtioNetControl.writeSetQueuePairs(0x8001, to: buffer))
            XCTAssertEqual(VirtioNetControl.writeSetQueuePairs(0x8000, to: buffer), 4)
            XCTAssertNil(VirtioNetControl.writeSetQueuePairs(2, to: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<3])))
        }
    }

    func testRSSConfigurationBytes() {
        let table: [UInt16] = [0, 1, 2, 0x0103]
        let key: [UInt8] = [0xA1, 0xB2, 0xC3]
        let expectedLength = 2 + 4 + 2 + 2 + 2 * 4 + 2 + 1 + 3
        XCTAssertEqual(VirtioNetControl.rssConfigurationByteCount(tableLength: 4, keyLength: 3), expectedLength)
        var bytes = [UInt8](repeating: 0xEE, count: expectedLength + 1)
        let length = bytes.withUnsafeMutableBytes { buffer in
            table.withUnsafeBufferPointer { table in
                key.withUnsafeBytes { key in
                    VirtioNetControl.writeRSSConfiguration(hashTypes: [.ipv4, .tcpIPv4, .udpIPv4], indirectionTable: table,
                                                           unclassifiedQueue: 2, maximumTransmitQueues: 0x0203,
                                                           key: key, to: buffer)
                }
            }
        }
        XCTAssertEqual(length, expectedLength)
        XCTAssertEqual(bytes, [0x04, 0x01,                          // class MQ, command RSS_CONFIG
                               0x07, 0x00, 0x00, 0x00,              // hash_types IPv4 | TCPv4 | UDPv4
                               0x03, 0x00,                          // indirection_table_mask
                               0x02, 0x00,                          // unclassified_queue
                               0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x01,  // indirection_table
                               0x03, 0x02,                          // max_tx_vq
                               0x03, 0xA1, 0xB2, 0xC3,              // hash_key_length, hash_key_data
                               0xEE])
    }

    func testRSSConfigurationWithAFullTableAndKey() {
        let table = (0..<128).map { UInt16($0 % 4) }
        let key = [UInt8](0..<40)
        let length = VirtioNetControl.rssConfigurationByteCount(tableLength: 128, keyLength: 40)
        XCTAssertEqual(length, 2 + 8 + 256 + 3 + 40)
        var bytes = [UInt8](repeating: 0, count: length)
        let written = bytes.withUnsafeMutableBytes { buffer in
            table.withUnsafeBufferPointer { table in
                key.withUnsafeBytes { key in
                    VirtioNetControl.writeRSSConfiguration(hashTypes: .tcpIPv4, indirectionTable: table, unclassifiedQueue: 0,
                                                           maximumTransmitQueues: 4, key: key, to: buffer)
                }
            }
        }
        XCTAssertEqual(written, length)
        let data = 2
        XCTAssertEqual(bytes[data + 4], 127)
        XCTAssertEqual(bytes[data + 5], 0)
        XCTAssertEqual(bytes[data + 8 + 2 * 5], 1)
        XCTAssertEqual(bytes[data + VirtioNetControl.RSSConfigurationOffset.maximumTransmitQueues(tableLength: 128)], 4)
        XCTAssertEqual(bytes[data + VirtioNetControl.RSSConfigurationOffset.hashKeyLength(tableLength: 128)], 40)
        XCTAssertEqual(Array(bytes.suffix(40)), key)
    }

    func testRSSConfigurationRejectsBadInput() {
        func write(tableLength: Int, keyLength: Int, bufferLength: Int? = nil) -> Int? {
            let table = [UInt16](repeating: 0, count: tableLength)
            let key = [UInt8](repeating: 0x5A, count: keyLength)
            var bytes = [UInt8](repeating: 0, count: bufferLength ?? 2 + 8 + 2 * tableLength + 3 + keyLength)
            return bytes.withUnsafeMutableBytes { buffer in
                table.withUnsafeBufferPointer { table in
                    key.withUnsafeBytes { key in
                        VirtioNetControl.writeRSSConfiguration(hashTypes: .ipv4, indirectionTable: table, unclassifiedQueue: 0,
                                                               maximumTransmitQueues: 1, key: key, to: buffer)
                    }
                }
            }
        }
        XCTAssertNotNil(write(tableLength: 1, keyLength: 0))
        XCTAssertNil(write(tableLength: 0, keyLength: 40))      // no table
        XCTAssertNil(write(tableLength: 3, keyLength: 40))      // not a power of two
        XCTAssertNil(write(tableLength: 4, keyLength: 256))     // key length is a u8
        XCTAssertNil(write(tableLength: 4, keyLength: 40, bufferLength: 2 + 8 + 8 + 3 + 39))
    }

    func testConstantsMatchTheSpecification() {
        XCTAssertEqual(VirtioNetControl.multiqueueClass, 4)
        XCTAssertEqual(VirtioNetControl.MultiqueueCommand.setQueuePairs.rawValue, 0)
        XCTAssertEqual(VirtioNetControl.MultiqueueCommand.rssConfiguration.rawValue, 1)
        XCTAssertEqual(VirtioNetControl.MultiqueueCommand.hashConfiguration.rawValue, 2)
        XCTAssertEqual(VirtioNetControl.Acknowledgement(rawValue: 0), .ok)
        XCTAssertEqual(VirtioNetControl.Acknowledgement(rawValue: 1), .error)
        XCTAssertNil(VirtioNetControl.Acknowledgement(rawValue: 2))
        XCTAssertEqual(VirtioNetHashTypes.ipv4.rawValue, 1 << 0)
        XCTAssertEqual(VirtioNetHashTypes.tcpIPv4.rawValue, 1 << 1)
        XCTAssertEqual(VirtioNetHashTypes.udpIPv4.rawValue, 1 << 2)
        XCTAssertEqual(VirtioNetHashTypes.ipv6.rawValue, 1 << 3)
        XCTAssertEqual(VirtioNetHashTypes.udpIPv6WithExtensions.rawValue, 1 << 8)
        XCTAssertEqual(FeatureSet.multiqueue.rawValue, 1 << 22)
        XCTAssertEqual(FeatureSet.hashReport.rawValue, 1 << 57)
        XCTAssertEqual(FeatureSet.receiveSideScaling.rawValue, 1 << 60)
    }

    func testQueueIndices() {
        XCTAssertEqual(VirtioNetConfiguration.receiveQueueIndex(pair: 0), 0)
        XCTAssertEqual(VirtioNetConfiguration.transmitQueueIndex(pair: 0), 1)
        XCTAssertEqual(VirtioNetConfiguration.receiveQueueIndex(pair: 3), 6)
        XCTAssertEqual(VirtioNetConfiguration.transmitQueueIndex(pair: 3), 7)
        XCTAssertEqual(VirtioNetConfiguration.transmitQueueIndex(pair: 0x7FFF), 0xFFFF)
        XCTAssertEqual(VirtioNetConfiguration.controlQueueIndex(maximumQueuePairs: 1), 2)
        XCTAssertEqual(VirtioNetConfiguration.controlQueueIndex(maximumQueuePairs: 4), 8)
        XCTAssertEqual(VirtioNetConfiguration.controlQueueIndex(maximumQueuePairs: 0x7FFF), 0xFFFE)
        XCTAssertNil(VirtioNetConfiguration.controlQueueIndex(maximumQueuePairs: 0x8000))
    }

    /// struct virtio_net_config of a device with RSS: 4 pairs, 40-byte keys, 128 entries.
    func makeRSSDevice() -> FakeVirtioDevice {
        let device = FakeVirtioDevice(offered: [.version1, .mac, .controlQueue, .multiqueue, .receiveSideScaling], queues: [])
        device.deviceConfiguration = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56,   // mac
                                      0x01, 0x00,                           // status
                                      0x04, 0x00,                           // max_virtqueue_pairs
                                      0xDC, 0x05,                           // mtu
                                      0xFF, 0xFF, 0xFF, 0xFF,               // speed: unknown
                                      0xFF,                                 // duplex: unknown
                                      0x28,                                 // rss_max_key_size 40
                                      0x80, 0x00,                           // rss_max_indirection_table_length 128
                                      0x3F, 0x00, 0x00, 0x00]               // supported_hash_types
        return device
    }

    func testRSSConfigurationFields() {
        let device = makeRSSDevice()
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1, .controlQueue, .receiveSideScaling])
        // RSS alone makes max_virtqueue_pairs valid (§5.1.4).
        XCTAssertEqual(configuration.maximumQueuePairs, 4)
        XCTAssertEqual(configuration.controlQueueIndex, 8)
        XCTAssertEqual(configuration.rssMaximumKeySize, 40)
        XCTAssertEqual(configuration.rssMaximumIndirectionTableLength, 128)
        XCTAssertEqual(configuration.supportedHashTypes, [.ipv4, .tcpIPv4, .udpIPv4, .ipv6, .tcpIPv6, .udpIPv6])
    }

    func testHashReportAloneGivesKeySizeAndHashTypesOnly() {
        let device = makeRSSDevice()
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1, .controlQueue, .hashReport])
        XCTAssertEqual(configuration.maximumQueuePairs, 1)
        XCTAssertEqual(configuration.controlQueueIndex, 2)
        XCTAssertEqual(configuration.rssMaximumKeySize, 40)
        XCTAssertNil(configuration.rssMaximumIndirectionTableLength)
        XCTAssertEqual(configuration.supportedHashTypes?.contains(.tcpIPv4), true)
    }

    func testRSSFieldsAbsentWithoutTheirFeatures() {
        let device = makeRSSDevice()
        let configuration = VirtioNetConfiguration(transport: device, features: [.version1, .multiqueue])
        XCTAssertEqual(configuration.maximumQueuePairs, 4)
        XCTAssertNil(configuration.rssMaximumKeySize)
        XCTAssertNil(configuration.rssMaximumIndirectionTableLength)
        XCTAssertNil(configuration.supportedHashTypes)
    }
}
