// Real frames Linux sent to a Swiglet guest under QEMU (Golden/*.pcap): parsed field by field, then answered byte for byte.

import XCTest
import RawBytes
import TestSupport
@testable import Network

final class GoldenFrameTests: XCTestCase {
    private func reader(_ bytes: [UInt8], _ body: (ByteReader) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { try body(ByteReader($0)) }
    }

    // MARK: ARP

    func testARPRequestsFromLinuxParse() throws {
        let records = try readPcap("arp-requests")
        XCTAssertEqual(records.count, 2)
        for record in records {
            XCTAssertEqual(record.bytes.count, 60)
            XCTAssertEqual(record.originalLength, 60)
            try reader(record.bytes) { frame in
                let ethernet = try XCTUnwrap(EthernetHeader(reading: frame))
                XCTAssertEqual(ethernet.destination, .broadcast)
                XCTAssertEqual(ethernet.source, hostMAC)
                XCTAssertEqual(ethernet.etherType, .arp)
                let packet = try ARPPacket(parsing: try XCTUnwrap(frame.suffix(from: 14)))
                XCTAssertEqual(packet.hardwareType, 1)
                XCTAssertEqual(packet.protocolType, .ipv4)
                XCTAssertEqual(packet.hardwareAddressLength, 6)
                XCTAssertEqual(packet.protocolAddressLength, 4)
                XCTAssertEqual(packet.operation, .request)
                XCTAssertEqual(packet.senderHardwareAddress, hostMAC)
                XCTAssertEqual(packet.senderProtocolAddress, IPv4Address(10, 0, 2, 2))
                // arping puts the broadcast address in the target hardware field.
                XCTAssertEqual(packet.targetHardwareAddress, .broadcast)
                XCTAssertEqual(packet.targetProtocolAddress, IPv4Address(10, 0, 2, 15))
            }
            XCTAssertEqual(Array(record.bytes[42...]), [UInt8](repeating: 0, count: 18), "Ethernet padding")
        }
    }

    func testARPRequestIsAnsweredByteForByte() throws {
        let records = try readPcap("arp-requests")
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        deliver(records[0].bytes, to: &stack, now: 1_000, transmitter: &transmitter)
        let expected: [UInt8] = hostMACBytes + guestMACBytes + [0x08, 0x06]
            + [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02]
            + guestMACBytes + guestIP + hostMACBytes + hostIP
            + [UInt8](repeating: 0, count: 18)
        XCTAssertEqual(transmitter.frames, [expected])
        // The request was for us: its sender is now in the cache (RFC 826 merge, "add" branch).
        let entry = try XCTUnwrap(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 2)))
        XCTAssertEqual(entry.state, .resolved)
        XCTAssertEqual(entry.hardwareAddress, hostMAC)
        XCTAssertEqual(entry.updatedAt, 1_000)
        // The second request refreshes the same entry and gets the same answer.
        deliver(records[1].bytes, to: &stack, now: 2_000, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames, [expected, expected])
        XCTAssertEqual(stack.arpCache.count, 1)
        XCTAssertEqual(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 2))?.updatedAt, 2_000)
        XCTAssertEqual(stack.counters.ethernet, LayerCounters(framesIn: 2, bytesIn: 120, framesOut: 2, bytesOut: 120))
        XCTAssertEqual(stack.counters.arp, LayerCounters(framesIn: 2, bytesIn: 56, framesOut: 2, bytesOut: 56))
        XCTAssertEqual(stack.counters.framesDelivered, 2)
        XCTAssertEqual(stack.counters.totalDrops, 0)
    }

    // MARK: ICMP

    func testEchoRequestsFromLinuxParse() throws {
        let records = try readPcap("icmp-echo-requests")
        XCTAssertEqual(records.count, 2)
        for (index, record) in records.enumerated() {
            XCTAssertEqual(record.bytes.count, 98)
            try reader(record.bytes) { frame in
                let ethernet = try XCTUnwrap(EthernetHeader(reading: frame))
                XCTAssertEqual(ethernet.destination, guestMAC)
                XCTAssertEqual(ethernet.source, hostMAC)
                XCTAssertEqual(ethernet.etherType, .ipv4)
                let datagram = try IPv4Datagram(parsing: try XCTUnwrap(frame.suffix(from: 14)))
                let header = datagram.header
                XCTAssertEqual(header.version, 4)
                XCTAssertEqual(header.headerLength, 20)
                XCTAssertEqual(header.typeOfService, 0)
                XCTAssertEqual(header.totalLength, 84)
                XCTAssertEqual(header.identification, index == 0 ? 0x69C8 : 0x6A41)
                XCTAssertTrue(header.dontFragment)
                XCTAssertFalse(header.moreFragments)
                XCTAssertFalse(header.reservedFlag)
                XCTAssertEqual(header.fragmentOffset, 0)
                XCTAssertEqual(header.timeToLive, 64)
                XCTAssertEqual(header.protocolNumber, .icmp)
                XCTAssertEqual(header.headerChecksum, index == 0 ? 0xB8D0 : 0xB857)
                XCTAssertEqual(header.source, IPv4Address(10, 0, 2, 2))
                XCTAssertEqual(header.destination, IPv4Address(10, 0, 2, 15))
                XCTAssertEqual(datagram.payload.count, 64)
                let message = try ICMPMessage(parsing: datagram.payload)
                XCTAssertEqual(message.header.type, .echoRequest)
                XCTAssertEqual(message.header.code, 0)
                XCTAssertEqual(message.header.identifier, 0x4E94)
                XCTAssertEqual(message.header.sequenceNumber, UInt16(index + 1))
                XCTAssertEqual(message.header.checksum, index == 0 ? 0x7E62 : 0x94F9)
            }
            // Independently: both checksums verify, and ping's pattern follows its 16-byte timestamp.
            XCTAssertEqual(onesComplementChecksum(Array(record.bytes[14..<34])), 0)
            XCTAssertEqual(onesComplementChecksum(Array(record.bytes[34..<98])), 0)
            XCTAssertEqual(Array(record.bytes[58..<98]), (0..<40).map { UInt8(0x10 + $0) })
        }
    }

    func testEchoRequestsAreAnsweredByteForByte() throws {
        let records = try readPcap("icmp-echo-requests")
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        for (index, record) in records.enumerated() {
            deliver(record.bytes, to: &stack, now: UInt64(index), transmitter: &transmitter)
            let request = record.bytes
            // The reply, built by hand: addresses swapped, our IP header (TTL 64, DF, our
            // identification counter starting at 0), type 0, same identifier/sequence/data.
            var ip: [UInt8] = [0x45, 0x00] + bytes16(84) + bytes16(UInt16(index)) + [0x40, 0x00, 64, 1, 0, 0]
                + guestIP + hostIP
            put16(&ip, 10, onesComplementChecksum(ip))
            var icmp = [0, 0, 0, 0] + Array(request[38..<98])
            put16(&icmp, 2, onesComplementChecksum(icmp))
            // RFC 1624: changing the type from 8 to 0 raises the checksum by 0x0800.
            let requestChecksum = UInt32(be16(request, 36))
            var incremental = requestChecksum + 0x0800
            incremental = (incremental & 0xFFFF) + (incremental >> 16)
            XCTAssertEqual(be16(icmp, 2), UInt16(incremental))
            let expected = hostMACBytes + guestMACBytes + [0x08, 0x00] + ip + icmp
            XCTAssertEqual(transmitter.frames.last, expected, "reply \(index)")
        }
        XCTAssertEqual(transmitter.frames.count, 2)
        XCTAssertEqual(stack.counters.icmp, LayerCounters(framesIn: 2, bytesIn: 128, framesOut: 2, bytesOut: 128))
        XCTAssertEqual(stack.counters.ipv4, LayerCounters(framesIn: 2, bytesIn: 168, framesOut: 2, bytesOut: 168))
        XCTAssertEqual(stack.counters.framesDelivered, 2)
        XCTAssertEqual(stack.counters.totalDrops, 0)
    }

    // MARK: UDP

    private static let echoPayloadSizes = [0, 1, 18, 64, 512, 1472]

    func testUDPDatagramsFromLinuxParse() throws {
        let records = try readPcap("udp-echo-requests")
        XCTAssertEqual(records.count, 7)
        for (index, record) in records.enumerated() {
            let zeroChecksum = index == 6
            let payloadSize = zeroChecksum ? 13 : GoldenFrameTests.echoPayloadSizes[index]
            XCTAssertEqual(record.bytes.count, max(60, 42 + payloadSize))
            try reader(record.bytes) { frame in
                let datagram = try IPv4Datagram(parsing: try XCTUnwrap(frame.suffix(from: 14)))
                XCTAssertEqual(datagram.header.protocolNumber, .udp)
                XCTAssertEqual(Int(datagram.header.totalLength), 28 + payloadSize)
                // Short frames were padded to 60 bytes: the datagram is cut to its total length.
                XCTAssertEqual(datagram.bytes.count, 28 + payloadSize)
                let udp = try UDPDatagram(parsing: datagram.payload, source: datagram.header.source,
                                          destination: datagram.header.destination)
                XCTAssertEqual(udp.header.sourcePort, zeroChecksum ? 40001 : 40000)
                XCTAssertEqual(udp.header.destinationPort, 7)
                XCTAssertEqual(Int(udp.header.length), 8 + payloadSize)
                XCTAssertEqual(udp.payload.count, payloadSize)
                if zeroChecksum {
                    XCTAssertEqual(udp.header.checksum, 0)
                    XCTAssertEqual(Array(udp.payload), Array("zero checksum".utf8))
                } else {
                    XCTAssertNotEqual(udp.header.checksum, 0)
                    XCTAssertEqual(Array(udp.payload), (0..<payloadSize).map { UInt8(($0 * 7 + 3) & 0xFF) })
                }
            }
            if !zeroChecksum {
                let udpBytes = Array(record.bytes[34..<(42 + payloadSize)])
                var pseudo = hostIP + guestIP + [0, 17] + bytes16(UInt16(udpBytes.count))
                pseudo += udpBytes
                XCTAssertEqual(onesComplementChecksum(pseudo), 0, "Linux's UDP checksum verifies")
            }
        }
    }

    func testUDPEchoRepliesByteForByte() throws {
        let records = try readPcap("udp-echo-requests")
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        for (index, record) in records.enumerated() {
            deliver(record.bytes, to: &stack, now: 0, transmitter: &transmitter)
            let request = record.bytes
            let udpLength = Int(be16(request, 38))
            let payload = Array(request[42..<(34 + udpLength)])
            let clientPort = be16(request, 34)
            var ip: [UInt8] = [0x45, 0x00] + bytes16(UInt16(20 + udpLength)) + bytes16(UInt16(index))
                + [0x40, 0x00, 64, 17, 0, 0] + guestIP + hostIP
            put16(&ip, 10, onesComplementChecksum(ip))
            var udp = bytes16(7) + bytes16(clientPort) + bytes16(UInt16(udpLength)) + [0, 0] + payload
            put16(&udp, 6, udpChecksum(source: guestIP, destination: hostIP, udp: udp))
            var expected = hostMACBytes + guestMACBytes + [0x08, 0x00] + ip + udp
            while expected.count < 60 { expected.append(0) }
            XCTAssertEqual(transmitter.frames.count, index + 1)
            XCTAssertEqual(transmitter.frames.last, expected, "echo of datagram \(index)")
        }
        XCTAssertEqual(stack.counters.udp.framesIn, 7)
        XCTAssertEqual(stack.counters.udp.framesOut, 7)
        XCTAssertEqual(stack.counters.udp.bytesIn, stack.counters.udp.bytesOut)
        XCTAssertEqual(stack.counters.framesDelivered, 7)
        XCTAssertEqual(stack.counters.totalDrops, 0)
    }

    func testUDPWithoutListenerGetsPortUnreachable() throws {
        let records = try readPcap("udp-no-listener")
        XCTAssertEqual(records.count, 1)
        let request = records[0].bytes
        XCTAssertEqual(be16(request, 36), 9)
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        deliver(request, to: &stack, transmitter: &transmitter)
        XCTAssertEqual(stack.counters[drop: .noListener], 1)
        // RFC 792: type 3 code 3, four unused bytes, then the original IP header and 8 bytes of data.
        var icmp: [UInt8] = [3, 3, 0, 0, 0, 0, 0, 0] + Array(request[14..<42])
        put16(&icmp, 2, onesComplementChecksum(icmp))
        var ip: [UInt8] = [0x45, 0x00] + bytes16(UInt16(20 + icmp.count)) + bytes16(0)
            + [0x40, 0x00, 64, 1, 0, 0] + guestIP + hostIP
        put16(&ip, 10, onesComplementChecksum(ip))
        let expected = hostMACBytes + guestMACBytes + [0x08, 0x00] + ip + icmp
        XCTAssertEqual(transmitter.frames, [expected])
        // With the echo service disabled, port 7 has no listener either.
        stack.udpEchoPort = nil
        deliver(try readPcap("udp-echo-requests")[2].bytes, to: &stack, now: 2_000_000_000, transmitter: &transmitter)
        XCTAssertEqual(stack.counters[drop: .noListener], 2)
        XCTAssertEqual(transmitter.frames.count, 2)
        XCTAssertEqual(transmitter.frames[1][34], 3)
        assertCountersConsistent(stack, transmitted: 2)
    }

    // MARK: Fragments

    func testFragmentsFromLinuxAreDroppedAndCounted() throws {
        let records = try readPcap("ipv4-fragments")
        XCTAssertEqual(records.map(\.bytes.count), [1514, 1514, 82])
        var dataLength = 0
        for (index, record) in records.enumerated() {
            try reader(record.bytes) { frame in
                let datagram = try IPv4Datagram(parsing: try XCTUnwrap(frame.suffix(from: 14)))
                XCTAssertEqual(datagram.header.identification, 0x6BBC)
                XCTAssertEqual(datagram.header.moreFragments, index < 2)
                XCTAssertFalse(datagram.header.dontFragment)
                XCTAssertEqual(datagram.header.fragmentOffset, [0, 185, 370][index])
                XCTAssertTrue(datagram.header.isFragment)
                dataLength += datagram.payload.count
            }
        }
        XCTAssertEqual(dataLength, 8 + 3000, "ping -s 3000: one ICMP message in three fragments")
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        for record in records { deliver(record.bytes, to: &stack, transmitter: &transmitter) }
        XCTAssertEqual(transmitter.frames.count, 0)
        XCTAssertEqual(stack.counters[drop: .fragment], 3)
        XCTAssertEqual(stack.counters.totalDrops, 3)
        XCTAssertEqual(stack.counters.icmp.framesIn, 0)
        assertCountersConsistent(stack, transmitted: 0)
    }

    // MARK: Every prefix of every golden frame

    func testEveryTruncationOfEveryGoldenFrame() throws {
        for name in ["arp-requests", "icmp-echo-requests", "udp-echo-requests", "udp-no-listener"] {
            for record in try readPcap(name) {
                let frame = record.bytes
                // The bytes that matter: ARP's 28, or IPv4's total length; the rest is padding.
                let needed = be16(frame, 12) == 0x0806 ? 42 : 14 + Int(be16(frame, 16))
                for length in 0..<frame.count {
                    var stack = makeStack()
                    var transmitter = RecordingTransmitter()
                    deliver(Array(frame[0..<length]), to: &stack, transmitter: &transmitter)
                    if length < needed {
                        XCTAssertEqual(stack.counters[drop: .truncated], 1, "\(name) cut to \(length)")
                        XCTAssertEqual(stack.counters.totalDrops, 1, "\(name) cut to \(length): \(nonZeroDrops(stack))")
                        XCTAssertTrue(transmitter.frames.isEmpty, "\(name) cut to \(length)")
                    } else {
                        XCTAssertEqual(stack.counters[drop: .truncated], 0, "\(name) cut to \(length)")
                        XCTAssertEqual(transmitter.frames.count, 1, "\(name) cut to \(length) still answered")
                    }
                    assertCountersConsistent(stack)
                }
            }
        }
    }
}
