// Hand-made bad frames: each is dropped under the right reason, answered with nothing, and read only within its bounds.

import XCTest
import TestSupport
@testable import Network

final class MalformedFrameTests: XCTestCase {
    /// Delivers `frame` to a fresh stack and checks it was dropped for `reason` only, with no reply.
    private func assertDropped(_ frame: [UInt8], as reason: DropReason, _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        deliver(frame, to: &stack, transmitter: &transmitter)
        XCTAssertEqual(stack.counters[drop: reason], 1, "\(message): \(nonZeroDrops(stack))", file: file, line: line)
        XCTAssertEqual(stack.counters.totalDrops, 1, "\(message): \(nonZeroDrops(stack))", file: file, line: line)
        XCTAssertEqual(stack.counters.framesDelivered, 0, message, file: file, line: line)
        XCTAssertEqual(transmitter.frames.count, 0, "\(message): no reply", file: file, line: line)
        assertCountersConsistent(stack, transmitted: 0, file: file, line: line)
    }

    /// Delivers `frame` and returns what the stack sent.
    private func replies(to frame: [UInt8], stack: inout NetworkStack) -> [[UInt8]] {
        var transmitter = RecordingTransmitter()
        deliver(frame, to: &stack, transmitter: &transmitter)
        return transmitter.frames
    }

    func testHandMadeFramesAreAnswered() {
        // The builders below are sound: unmodified, each frame gets its reply.
        var stack = makeStack()
        XCTAssertEqual(replies(to: icmpEchoRequestFrame(), stack: &stack).count, 1)
        XCTAssertEqual(replies(to: udpFrame(payload: Array(0..<10)), stack: &stack).count, 1)
        XCTAssertEqual(replies(to: udpFrame(payload: Array("x".utf8), zeroChecksum: true), stack: &stack).count, 1)
        XCTAssertEqual(replies(to: arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP),
                               stack: &stack).count, 1)
        XCTAssertEqual(stack.counters.framesDelivered, 4)
        XCTAssertEqual(stack.counters.totalDrops, 0)
    }

    // MARK: Ethernet

    func testFrameSizes() {
        assertDropped([], as: .truncated, "empty frame")
        assertDropped(Array(icmpEchoRequestFrame()[0..<13]), as: .truncated, "13 bytes")
        assertDropped(ethernetHeader(type: 0x0800), as: .truncated, "Ethernet header alone, IPv4")
        assertDropped(ethernetHeader(type: 0x0806), as: .truncated, "Ethernet header alone, ARP")
        var oversized = udpFrame(payload: [UInt8](repeating: 1, count: 1472))
        XCTAssertEqual(oversized.count, 1514)
        oversized.append(0)
        assertDropped(oversized, as: .oversized, "1515 bytes")
        assertDropped([UInt8](repeating: 0, count: 9000), as: .oversized, "jumbo")
        // 1514 bytes is fine.
        var stack = makeStack()
        XCTAssertEqual(replies(to: udpFrame(payload: [UInt8](repeating: 1, count: 1472)), stack: &stack).count, 1)
    }

    func testUnknownEtherTypes() {
        var ipv6 = icmpEchoRequestFrame()
        put16(&ipv6, 12, 0x86DD)
        assertDropped(ipv6, as: .unknownEtherType, "IPv6")
        // An 802.1Q tag where the EtherType should be: VLANs are not supported.
        let tagged = Array(icmpEchoRequestFrame()[0..<12]) + [0x81, 0x00, 0x00, 0x05] + Array(icmpEchoRequestFrame()[12...])
        assertDropped(tagged, as: .unknownEtherType, "VLAN tag")
        // An 802.3 length field instead of a type.
        var lengthField = icmpEchoRequestFrame()
        put16(&lengthField, 12, 46)
        assertDropped(lengthField, as: .unknownEtherType, "802.3 length")
    }

    func testFramesForOtherStations() {
        assertDropped(icmpEchoRequestFrame(destinationMAC: [0x52, 0x54, 0x00, 0x12, 0x34, 0x57]), as: .notForUs, "other MAC")
        assertDropped(icmpEchoRequestFrame(destinationMAC: [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01]), as: .notForUs, "multicast MAC")
        assertDropped(icmpEchoRequestFrame(destination: [10, 0, 2, 99]), as: .notForUs, "other IP")
        assertDropped(icmpEchoRequestFrame(destination: [224, 0, 0, 1]), as: .notForUs, "multicast IP")
        var groupSource = icmpEchoRequestFrame()
        groupSource[6] = 0x01
        assertDropped(groupSource, as: .badAddress, "multicast source MAC")
        var broadcastSource = icmpEchoRequestFrame()
        broadcastSource.replaceSubrange(26..<30, with: [255, 255, 255, 255])
        fixIPv4Checksum(&broadcastSource)
        assertDropped(broadcastSource, as: .badAddress, "broadcast source IP")
        // Echo to a broadcast address is ignored (RFC 1122 §3.2.2.6), not answered.
        assertDropped(icmpEchoRequestFrame(destination: [10, 0, 2, 255], destinationMAC: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
                      as: .unsupportedMessage, "echo to subnet broadcast")
        assertDropped(udpFrame(payload: [1, 2, 3], destination: [255, 255, 255, 255]), as: .noListener,
                      "UDP echo to the limited broadcast: no reply, no ICMP error")
    }

    // MARK: IPv4

    func testLyingIPv4Lengths() {
        let good = udpFrame(payload: Array(0..<20))
        var tooLong = good
        put16(&tooLong, 16, be16(good, 16) + 1)
        fixIPv4Checksum(&tooLong)
        assertDropped(tooLong, as: .truncated, "total length beyond the frame")
        var huge = good
        put16(&huge, 16, 0xFFFF)
        fixIPv4Checksum(&huge)
        assertDropped(huge, as: .truncated, "total length 65535")
        var belowHeader = good
        put16(&belowHeader, 16, 19)
        fixIPv4Checksum(&belowHeader)
        assertDropped(belowHeader, as: .badHeader, "total length below the header")
        var zero = good
        put16(&zero, 16, 0)
        fixIPv4Checksum(&zero)
        assertDropped(zero, as: .badHeader, "total length 0")
        // A shorter total length cuts the UDP datagram: UDP's own length then lies.
        var cut = good
        put16(&cut, 16, be16(good, 16) - 4)
        fixIPv4Checksum(&cut)
        assertDropped(cut, as: .truncated, "UDP length beyond the IP payload")
    }

    func testBadIPv4HeaderFields() {
        for headerLengthField: UInt8 in 0..<5 {
            var frame = icmpEchoRequestFrame()
            frame[14] = 0x40 | headerLengthField
            assertDropped(frame, as: .badHeader, "IHL \(headerLengthField)")
        }
        var version6 = icmpEchoRequestFrame()
        version6[14] = 0x65
        fixIPv4Checksum(&version6)
        assertDropped(version6, as: .badHeader, "version 6 in an IPv4 EtherType")
        // IHL 15 (60 bytes) with a 28-byte total length: the header cannot fit in the datagram.
        var longHeader = ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 17, payloadLength: 8)
            + [0x9C, 0x40, 0, 7, 0, 8, 0, 0] + [UInt8](repeating: 0, count: 40)
        longHeader[14] = 0x4F
        assertDropped(longHeader, as: .badHeader, "IHL 15 beyond the total length")
        // IHL 15 in a frame shorter than 60 bytes of header.
        var shortFrame = Array(icmpEchoRequestFrame()[0..<50])
        shortFrame[14] = 0x4F
        assertDropped(shortFrame, as: .truncated, "IHL 15 beyond the frame")
    }

    func testBadChecksums() {
        var ip = icmpEchoRequestFrame()
        ip[24] ^= 0x01
        assertDropped(ip, as: .badChecksum, "IPv4 header checksum")
        var ipField = icmpEchoRequestFrame()
        ipField[22] = 63  // TTL changed without fixing the checksum
        assertDropped(ipField, as: .badChecksum, "IPv4 header changed")
        var icmp = icmpEchoRequestFrame()
        icmp[36] ^= 0x80
        assertDropped(icmp, as: .badChecksum, "ICMP checksum")
        var icmpData = icmpEchoRequestFrame()
        icmpData[50] ^= 0xFF
        assertDropped(icmpData, as: .badChecksum, "ICMP data changed")
        var udp = udpFrame(payload: Array(0..<20))
        udp[40] ^= 0x10
        assertDropped(udp, as: .badChecksum, "UDP checksum")
        var udpData = udpFrame(payload: Array(0..<20))
        udpData[45] ^= 0x01
        assertDropped(udpData, as: .badChecksum, "UDP data changed")
        // The pseudo-header counts: the same UDP bytes from another source do not verify.
        var otherSource = udpFrame(payload: Array(0..<20))
        otherSource[29] = 3
        fixIPv4Checksum(&otherSource)
        assertDropped(otherSource, as: .badChecksum, "UDP pseudo-header source")
    }

    func testTCPSegmentsToUsAreHandedToTheCallerWithTheirAddresses() {
        var tcp = udpFrame(payload: Array(0..<20))
        tcp[23] = 6
        fixIPv4Checksum(&tcp)
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        let outcome = tcp.withUnsafeBytes { frame in
            stack.receive(frame: frame, now: 0, transmitter: &transmitter)
        }
        guard case .segment(let delivery) = outcome else { return XCTFail("not handed over as a TCP segment: \(outcome)") }
        XCTAssertEqual(delivery.destination, stack.configuration.address)
        XCTAssertEqual(delivery.source, IPv4Address(10, 0, 2, 2))
        XCTAssertEqual(delivery.segment.count, 28, "the whole IPv4 payload: TCP parses its own header")
        XCTAssertEqual(stack.counters.tcp.framesIn, 1)
        XCTAssertEqual(stack.counters.totalDrops, 0)
        XCTAssertTrue(transmitter.frames.isEmpty)
    }

    func testUnknownProtocolsAndMessages() {
        var generic = udpFrame(payload: Array(0..<20))
        generic[23] = 47   // GRE: no handler
        fixIPv4Checksum(&generic)
        assertDropped(generic, as: .unknownProtocol, "GRE")
        var echoReply = icmpEchoRequestFrame()
        echoReply[34] = 0
        put16(&echoReply, 36, 0)
        put16(&echoReply, 36, onesComplementChecksum(Array(echoReply[34...])))
        assertDropped(echoReply, as: .unsupportedMessage, "ICMP echo reply")
        assertDropped(Array(icmpEchoRequestFrame()[0..<34]) , as: .truncated, "IPv4 header alone")
        var shortICMP = ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 1, payloadLength: 4) + [8, 0, 0xF7, 0xFF]
        shortICMP += [UInt8](repeating: 0, count: 60 - shortICMP.count)
        assertDropped(shortICMP, as: .truncated, "ICMP shorter than its header")
        assertDropped(udpFrame(sourcePort: 0, payload: [1]), as: .unsupportedMessage, "echo from port 0 cannot be answered")
        assertDropped(udpFrame(sourcePort: 7, payload: [1]), as: .unsupportedMessage, "echo to echo would loop")
    }

    func testFragmentsAreDropped() {
        for flagsAndOffset: UInt16 in [0x2000, 0x0001, 0x20B9, 0x1FFF] {
            var frame = icmpEchoRequestFrame()
            put16(&frame, 20, flagsAndOffset)
            fixIPv4Checksum(&frame)
            assertDropped(frame, as: .fragment, "flags/offset \(flagsAndOffset)")
        }
    }

    func testIPv4OptionsAreSkipped() throws {
        // IHL 6: four NOP options. The echo data must come from after them; the reply has none.
        let frame = icmpEchoRequestFrame(data: Array(100..<120), options: [1, 1, 1, 1])
        var stack = makeStack()
        let sent = replies(to: frame, stack: &stack)
        XCTAssertEqual(sent.count, 1)
        let reply = try XCTUnwrap(sent.first)
        XCTAssertEqual(reply[14], 0x45)
        XCTAssertEqual(Array(reply[34..<62]), [0, 0] + Array(reply[36..<38]) + [1, 1, 0, 1] + Array(100..<120))
        XCTAssertNil(problemWithTransmittedFrame(reply))
    }

    // MARK: UDP

    func testLyingUDPLengths() {
        for udpLength: UInt16 in [0, 1, 7] {
            var frame = udpFrame(payload: Array(0..<20))
            put16(&frame, 38, udpLength)
            assertDropped(frame, as: .badHeader, "UDP length \(udpLength)")
        }
        var beyond = udpFrame(payload: Array(0..<20))
        put16(&beyond, 38, 29)
        assertDropped(beyond, as: .truncated, "UDP length one beyond the IP payload")
        var max = udpFrame(payload: Array(0..<20))
        put16(&max, 38, 0xFFFF)
        assertDropped(max, as: .truncated, "UDP length 65535")
        assertDropped(ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 17, payloadLength: 4) + [0x9C, 0x40, 0, 7]
                      + [UInt8](repeating: 0, count: 22), as: .truncated, "IP payload shorter than a UDP header")
    }

    func testUDPLengthShorterThanIPPayloadEchoesOnlyTheDatagram() throws {
        // A UDP length of 8 + 4 inside 8 + 10 bytes of IP payload: the last 6 bytes are not data.
        var udp: [UInt8] = bytes16(40000) + bytes16(7) + bytes16(12) + [0, 0] + [1, 2, 3, 4]
        put16(&udp, 6, udpChecksum(source: hostIP, destination: guestIP, udp: udp))
        let frame = ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 17, payloadLength: 18) + udp + [9, 9, 9, 9, 9, 9]
        var stack = makeStack()
        let reply = try XCTUnwrap(replies(to: frame, stack: &stack).first)
        XCTAssertEqual(be16(reply, 38), 12)
        XCTAssertEqual(Array(reply[42..<46]), [1, 2, 3, 4])
        XCTAssertNil(problemWithTransmittedFrame(reply))
    }

    // MARK: ARP

    func testMalformedARP() {
        var hardware = arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP)
        hardware[15] = 6  // IEEE 802 hardware type
        assertDropped(hardware, as: .badHeader, "hardware type 6")
        var protocolType = arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP)
        put16(&protocolType, 16, 0x86DD)
        assertDropped(protocolType, as: .badHeader, "protocol IPv6")
        var lengths = arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP)
        lengths[19] = 16
        assertDropped(lengths, as: .badHeader, "protocol address length 16")
        let short = Array(arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP)[0..<41])
        assertDropped(short, as: .truncated, "ARP packet one byte short")
        assertDropped(arpFrame(operation: 1, senderMAC: [0x01, 0, 0, 0, 0, 1], senderIP: hostIP, targetIP: guestIP,
                               destinationMAC: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).enumerated().map { $0.offset >= 6 && $0.offset < 12 ? hostMACBytes[$0.offset - 6] : $0.element },
                      as: .badAddress, "multicast sender hardware address")
        assertDropped(arpFrame(operation: 9, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: guestIP),
                      as: .unsupportedMessage, "operation 9")
        assertDropped(arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: hostIP, targetIP: [10, 0, 2, 77]),
                      as: .notForUs, "request for another address from an unknown sender")
    }

    func testARPProbeIsAnsweredButNotCached() throws {
        // RFC 5227 probe: sender IP 0.0.0.0. We defend our address but learn nothing.
        var stack = makeStack()
        let sent = replies(to: arpFrame(operation: 1, senderMAC: hostMACBytes, senderIP: [0, 0, 0, 0], targetIP: guestIP),
                           stack: &stack)
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(Array(try XCTUnwrap(sent.first)[38..<42]), [0, 0, 0, 0])
        XCTAssertEqual(stack.arpCache.count, 0)
    }
}
