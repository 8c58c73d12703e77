// Addresses, subnet arithmetic, the Internet checksum and the counters' enumeration.

import XCTest
import RawBytes
import TestSupport
@testable import Network

final class AddressAndCounterTests: XCTestCase {
    private func parse(_ text: String) -> IPv4Address? {
        Array(text.utf8).withUnsafeBytes { IPv4Address(parsing: $0) }
    }

    func testParsingDottedDecimal() {
        XCTAssertEqual(parse("10.0.2.15"), IPv4Address(10, 0, 2, 15))
        XCTAssertEqual(parse("10.0.2.15")?.rawValue, 0x0A00_020F)
        XCTAssertEqual(parse("255.255.255.255"), .broadcast)
        XCTAssertEqual(parse("0.0.0.0"), .any)
        XCTAssertEqual(parse("001.002.003.004"), IPv4Address(1, 2, 3, 4))
        for bad in ["", "10", "10.0.2", "10.0.2.15.", ".10.0.2.15", "10..2.15", "256.0.0.1", "10.0.2.1000", "10.0.2.x",
                    "10.0.2.15 ", " 10.0.2.15", "10.0.2.-1", "1.2.3.4.5", "0000.1.1.1"] {
            XCTAssertNil(parse(bad), bad)
        }
    }

    func testOctetsAndMulticast() {
        let address = IPv4Address(192, 168, 1, 200)
        XCTAssertEqual(address.octets.0, 192)
        XCTAssertEqual(address.octets.3, 200)
        XCTAssertTrue(IPv4Address(224, 0, 0, 1).isMulticast)
        XCTAssertTrue(IPv4Address(239, 255, 255, 255).isMulticast)
        XCTAssertFalse(IPv4Address(240, 0, 0, 1).isMulticast)
        XCTAssertTrue(MACAddress.broadcast.isGroup)
        XCTAssertFalse(guestMAC.isGroup)
    }

    func testSubnetArithmetic() {
        let configuration = InterfaceConfiguration()
        XCTAssertEqual(configuration.address, IPv4Address(10, 0, 2, 15))
        XCTAssertEqual(configuration.gateway, IPv4Address(10, 0, 2, 2))
        XCTAssertEqual(configuration.hardwareAddress, guestMAC)
        XCTAssertEqual(configuration.subnetMask, 0xFFFF_FF00)
        XCTAssertEqual(configuration.subnetBroadcast, IPv4Address(10, 0, 2, 255))
        XCTAssertTrue(configuration.isOnLink(IPv4Address(10, 0, 2, 200)))
        XCTAssertFalse(configuration.isOnLink(IPv4Address(10, 0, 3, 1)))
        XCTAssertTrue(configuration.accepts(IPv4Address(10, 0, 2, 255)))
        XCTAssertTrue(configuration.accepts(.broadcast))
        XCTAssertFalse(configuration.accepts(IPv4Address(10, 0, 2, 16)))
        for (length, mask) in [(0, UInt32(0)), (8, 0xFF00_0000), (32, 0xFFFF_FFFF), (-3, 0), (40, 0xFFFF_FFFF)] as [(Int, UInt32)] {
            XCTAssertEqual(InterfaceConfiguration(prefixLength: length).subnetMask, mask, "/\(length)")
        }
    }

    func testInternetChecksumMatchesTheBookVersion() {
        var generator = SplitMix64(seed: 7)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let ours = bytes.withUnsafeBytes { InternetChecksum.of(ByteReader($0)) }
            XCTAssertEqual(ours, onesComplementChecksum(bytes), "length \(length)")
        }
        // RFC 1071 §3's example words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum is 220d.
        XCTAssertEqual(([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7] as [UInt8]).withUnsafeBytes { InternetChecksum.of(ByteReader($0)) }, 0x220D)
    }

    func testCounterEnumeration() {
        var counters = NetworkCounters()
        counters.ethernet.framesIn = 11
        counters.udp.bytesOut = 22
        counters.countDrop(.badChecksum, count: 3)
        counters.countDrop(.noRoute)
        let entries = Array(counters.entries)
        XCTAssertEqual(entries.count, NetworkCounters.entryCount)
        XCTAssertEqual(NetworkCounters.entryCount, 26 + DropReason.allCases.count)
        XCTAssertEqual(DropReason.count, DropReason.allCases.count)
        let names = entries.map { "\($0.name)" }
        XCTAssertEqual(Set(names).count, names.count, "names are unique")
        let values = Dictionary(uniqueKeysWithValues: entries.map { ("\($0.name)", $0.value) })
        XCTAssertEqual(values["ethernet.framesIn"], 11)
        XCTAssertEqual(values["udp.bytesOut"], 22)
        XCTAssertEqual(values["badChecksum"], 3)
        XCTAssertEqual(values["noRoute"], 1)
        XCTAssertEqual(entries.reduce(0) { $0 + $1.value }, 37)
        XCTAssertNil(counters.entry(at: -1))
        XCTAssertNil(counters.entry(at: NetworkCounters.entryCount))
        XCTAssertEqual(counters.totalDrops, 4)
        XCTAssertEqual(counters.receivedFramesDropped, 3)
        for (index, reason) in DropReason.allCases.enumerated() {
            XCTAssertEqual(Int(reason.rawValue), index)
            XCTAssertFalse("\(reason.name)".isEmpty)
        }
    }
}
