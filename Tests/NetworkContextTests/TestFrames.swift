/// Ethernet, ARP, IPv4, UDP and TCP frames built and parsed by hand, with checksums computed independently of the stack.

import TestSupport
import XCTest

// The addresses of the tests: QEMU user networking's guest (us) and gateway (the peer).

/// Our MAC (QEMU's default for the first NIC) and address, 10.0.2.15/24.
let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
let guestIP: [UInt8] = [10, 0, 2, 15]
/// The peer: the gateway 10.0.2.2, with the MAC QEMU's slirp uses for it.
let peerMAC: [UInt8] = [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02]
let peerIP: [UInt8] = [10, 0, 2, 2]
/// The peer's address as a number, as programs name it.
let peerAddress: UInt32 = 0x0A00_0202

// MARK: Byte arithmetic (written here on purpose: the module's own is what is under test)

func be16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}
func bytes16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
func bytes32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}
func put16(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt16) {
    bytes[offset] = UInt8(value >> 8)
    bytes[offset + 1] = UInt8(value & 0xFF)
}


/// The checksum of a UDP (17) or TCP (6) segment over the RFC 768 / RFC 9293 §3.1
/// pseudo-header, with the segment's checksum field zero.
func transportChecksum(protocolNumber: UInt8, source: [UInt8], destination: [UInt8], segment: [UInt8]) -> UInt16 {
    onesComplementChecksum(source + destination + [0, protocolNumber] + bytes16(UInt16(segment.count)) + segment)
}

// MARK: Frames from the peer

func ethernetHeader(destination: [UInt8] = guestMAC, source: [UInt8] = peerMAC, type: UInt16) -> [UInt8] {
    destination + source + bytes16(type)
}

/// An IPv4 header without options, DF set, with a correct checksum (RFC 791 §3.1).
func ipv4Header(protocolNumber: UInt8, payloadLength: Int, source: [UInt8] = peerIP,
                destination: [UInt8] = guestIP) -> [UInt8] {
    var header: [UInt8] = [0x45, 0] + bytes16(UInt16(20 + payloadLength)) + [0x12, 0x34, 0x40, 0x00]
    header += [64, protocolNumber, 0, 0] + source + destination
    put16(&header, 10, onesComplementChecksum(header))
    return header
}

/// "10.0.2.2 is at 52:55:0a:00:02:02", sent to us: teaches the stack the peer's MAC, so that
/// nothing the tests provoke waits for ARP.
func arpReplyFrame() -> [UInt8] {
    ethernetHeader(type: 0x0806) + [0, 1, 8, 0, 6, 4] + bytes16(2) + peerMAC + peerIP + guestMAC + guestIP
}

/// A UDP datagram from the peer to us (RFC 768), checksummed.
func udpFrame(from sourcePort: UInt16, to destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
    var udp = bytes16(sourcePort) + bytes16(destinationPort) + bytes16(UInt16(8 + payload.count)) + [0, 0] + payload
    let checksum = transportChecksum(protocolNumber: 17, source: peerIP, destination: guestIP, segment: udp)
    put16(&udp, 6, checksum == 0 ? 0xFFFF : checksum)
    return ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 17, payloadLength: udp.count) + udp
}

/// TCP header flags (RFC 9293 §3.1).
struct TCPFlags: OptionSet, CustomStringConvertible {
    let rawValue: UInt8
    static let fin = TCPFlags(rawValue: 0x01)
    static let syn = TCPFlags(rawValue: 0x02)
    static let rst = TCPFlags(rawValue: 0x04)
    static let psh = TCPFlags(rawValue: 0x08)
    static let ack = TCPFlags(rawValue: 0x10)

    var description: String {
        let names: [(TCPFlags, String)] = [(.syn, "SYN"), (.fin, "FIN"), (.rst, "RST"), (.psh, "PSH"), (.ack, "ACK")]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}

/// The MSS option (kind 2) announcing 1460, for the peer's SYNs.
let maximumSegmentSizeOption: [UInt8] = [2, 4, 0x05, 0xB4]

/// A TCP segment from the peer to us (RFC 9293 §3.1), checksummed; no window scaling, so
/// `window` is the window in bytes.
func tcpFrame(from sourcePort: UInt16, to destinationPort: UInt16, sequence: UInt32, acknowledgment: UInt32 = 0,
              flags: TCPFlags, window: UInt16 = 65535, options: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
    precondition(options.count % 4 == 0)
    let headerLength = 20 + options.count
    var tcp = bytes16(sourcePort) + bytes16(destinationPort) + bytes32(sequence) + bytes32(acknowledgment)
    tcp += [UInt8(headerLength / 4) << 4, flags.rawValue] + bytes16(window) + [0, 0, 0, 0] + options + payload
    put16(&tcp, 16, transportChecksum(protocolNumber: 6, source: peerIP, destination: guestIP, segment: tcp))
    return ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 6, payloadLength: tcp.count) + tcp
}

// MARK: Frames we sent

/// A TCP segment read back from a transmitted frame.
struct SentSegment: Equatable {
    var sourcePort: UInt16
    var destinationPort: UInt16
    var sequence: UInt32
    var acknowledgment: UInt32
    var flags: TCPFlags
    var window: UInt16
    var payload: [UInt8]
}

/// A UDP datagram read back from a transmitted frame.
struct SentDatagram: Equatable {
    var sourcePort: UInt16
    var destinationPort: UInt16
    var payload: [UInt8]
}

/// A transmitted frame, parsed by the test's own code. `problem` names the first thing wrong
/// with it (a bad checksum, a length that does not add up), nil for a well-formed frame.
struct SentFrame {
    var bytes: [UInt8]
    var destinationMAC: [UInt8] = []
    var sourceMAC: [UInt8] = []
    var etherType: UInt16 = 0
    var ipSource: [UInt8] = []
    var ipDestination: [UInt8] = []
    var ipProtocol: UInt8 = 0
    var segment: SentSegment?
    var datagram: SentDatagram?
    var problem: String?

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        problem = parse()
    }

    private mutating func parse() -> String? {
        guard bytes.count >= 14 else { return "shorter than an Ethernet header" }
        destinationMAC = Array(bytes[0..<6])
        sourceMAC = Array(bytes[6..<12])
        etherType = be16(bytes, 12)
        guard sourceMAC == guestMAC else { return "source MAC" }
        guard etherType == 0x0800 else { return nil }   // ARP: nothing more to check here
        guard bytes.count >= 34, bytes[14] == 0x45 else { return "IPv4 version/IHL" }
        let totalLength = Int(be16(bytes, 16))
        guard totalLength >= 20, 14 + totalLength <= bytes.count else { return "IPv4 total length" }
        guard bytes.count == max(60, 14 + totalLength) else { return "frame length vs IPv4 total length" }
        guard onesComplementChecksum(Array(bytes[14..<34])) == 0 else { return "IPv4 header checksum" }
        ipProtocol = bytes[23]
        ipSource = Array(bytes[26..<30])
        ipDestination = Array(bytes[30..<34])
        guard ipSource == guestIP else { return "IPv4 source" }
        let payload = Array(bytes[34..<(14 + totalLength)])
        switch ipProtocol {
        case 17:
            guard payload.count >= 8, Int(be16(payload, 4)) == payload.count else { return "UDP length" }
            var zeroed = payload
            put16(&zeroed, 6, 0)
            let expected = transportChecksum(protocolNumber: 17, source: ipSource, destination: ipDestination, segment: zeroed)
            guard be16(payload, 6) == (expected == 0 ? 0xFFFF : expected) else { return "UDP checksum" }
            datagram = SentDatagram(sourcePort: be16(payload, 0), destinationPort: be16(payload, 2),
                                    payload: Array(payload[8...]))
        case 6:
            guard payload.count >= 20 else { return "TCP header" }
            let headerLength = Int(payload[12] >> 4) * 4
            guard headerLength >= 20, headerLength <= payload.count else { return "TCP data offset" }
            guard transportChecksum(protocolNumber: 6, source: ipSource, destination: ipDestination, segment: payload) == 0
            else { return "TCP checksum" }
            segment = SentSegment(sourcePort: be16(payload, 0), destinationPort: be16(payload, 2),
                                  sequence: be32(payload, 4), acknowledgment: be32(payload, 8),
                                  flags: TCPFlags(rawValue: payload[13] & 0x3F), window: be16(payload, 14),
                                  payload: Array(payload[headerLength...]))
        default:
            break
        }
        return nil
    }
}

/// Parses every frame, failing the test for any that is malformed.
func parseSent(_ frames: [[UInt8]], file: StaticString = #filePath, line: UInt = #line) -> [SentFrame] {
    frames.map { bytes in
        let frame = SentFrame(bytes)
        if let problem = frame.problem { XCTFail("transmitted frame: \(problem)", file: file, line: line) }
        return frame
    }
}
