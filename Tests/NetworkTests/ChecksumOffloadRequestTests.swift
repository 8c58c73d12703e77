/// Which frames the driver marks for the device to finish their checksum, and where (virtio 1.2 §5.1.6.2), and the UDP pseudo-header sum left in them.

import Network
import RawBytes
import XCTest

final class ChecksumOffloadRequestTests: XCTestCase {
    /// An Ethernet + IPv4 frame of `protocolNumber` with `transport` bytes after an IPv4 header
    /// of `ihl` words; `fragment` is the flags-and-offset word.
    private func frame(protocolNumber: UInt8, ihl: UInt8 = 5, fragment: UInt16 = 0x4000, transport: Int = 20,
                       etherType: UInt16 = 0x0800) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 12) + [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
        var ip = [UInt8](repeating: 0, count: Int(ihl) * 4)
        ip[0] = 0x40 | ihl
        ip[6] = UInt8(fragment >> 8)
        ip[7] = UInt8(fragment & 0xFF)
        ip[9] = protocolNumber
        bytes += ip + [UInt8](repeating: 0, count: transport)
        return bytes
    }

    private func request(_ bytes: [UInt8]) -> ChecksumOffloadRequest? {
        bytes.withUnsafeBytes { ChecksumOffloadRequest(frame: $0) }
    }

    func testTCPAndUDPAreMarkedAtTheirChecksumField() {
        XCTAssertEqual(request(frame(protocolNumber: 6)), ChecksumOffloadRequest(start: 34, offset: 16))
        XCTAssertEqual(request(frame(protocolNumber: 17, transport: 8)), ChecksumOffloadRequest(start: 34, offset: 6))
        // IPv4 options move the transport header (IHL 6: 24 bytes).
        XCTAssertEqual(request(frame(protocolNumber: 6, ihl: 6)), ChecksumOffloadRequest(start: 38, offset: 16))
    }

    func testOtherFramesKeepTheirCompleteChecksums() {
        XCTAssertNil(request(frame(protocolNumber: 1)), "ICMP")
        XCTAssertNil(request(frame(protocolNumber: 6, etherType: 0x0806)), "ARP")
        XCTAssertNil(request(frame(protocolNumber: 6, fragment: 0x2000)), "a first fragment (MF)")
        XCTAssertNil(request(frame(protocolNumber: 17, fragment: 0x0010, transport: 8)), "a later fragment")
        XCTAssertNil(request(frame(protocolNumber: 6, ihl: 4)), "an IHL below 5")
        XCTAssertNil(request(frame(protocolNumber: 6, transport: 19)), "shorter than a TCP header")
        XCTAssertNil(request(frame(protocolNumber: 17, transport: 7)), "shorter than a UDP header")
        XCTAssertNil(request(Array(frame(protocolNumber: 6).prefix(33))), "shorter than an IPv4 header")
        var version6 = frame(protocolNumber: 6)
        version6[14] = 0x65
        XCTAssertNil(request(version6), "not version 4")
    }

    /// The pseudo-header sum of RFC 768, uncomplemented: with it in the field, the complement of
    /// the sum over header and data (what the device stores) is the datagram's checksum.
    func testUDPPseudoHeaderSumFinishesToTheChecksum() {
        let source = IPv4Address(10, 0, 2, 15)
        let destination = IPv4Address(10, 0, 2, 2)
        var datagram: [UInt8] = [0x13, 0x88, 0x00, 0x07, 0x00, 0x0D, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 0x01]
        let full = datagram.withUnsafeBytes { UDPHeader.checksum(of: ByteReader($0), source: source, destination: destination) }
        let pseudo = UDPHeader.pseudoHeaderSum(source: source, destination: destination, length: datagram.count)
        datagram[6] = UInt8(pseudo >> 8)
        datagram[7] = UInt8(pseudo & 0xFF)
        XCTAssertEqual(datagram.withUnsafeBytes { InternetChecksum.of(ByteReader($0)) }, full)
    }
}
