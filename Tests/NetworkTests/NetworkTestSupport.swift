// Helpers for the network tests: a pcap reader, a recording transmitter, an independent checksum, frame builders and a frame validator.

import Foundation
import XCTest
import RawBytes
import TestSupport
@testable import Network

// MARK: Addresses used throughout (those of the QEMU capture, see Golden/README.md)

/// The guest (us): QEMU's default MAC for the first NIC, and QEMU user networking's guest address.
let guestMAC = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
let guestMACBytes: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
let guestIP: [UInt8] = [10, 0, 2, 15]
/// The host side of the capture: tap0 inside the namespace, given the MAC QEMU's slirp uses for 10.0.2.2.
let hostMAC = MACAddress(0x52, 0x55, 0x0A, 0x00, 0x02, 0x02)
let hostMACBytes: [UInt8] = [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02]
let hostIP: [UInt8] = [10, 0, 2, 2]

func makeStack(arpCacheCapacity: Int = 64, pendingQueueCapacity: Int = 16) -> NetworkStack {
    NetworkStack(configuration: InterfaceConfiguration(), arpCacheCapacity: arpCacheCapacity,
                 pendingQueueCapacity: pendingQueueCapacity)
}

// MARK: pcap

/// One record of a classic pcap file (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
struct PcapRecord {
    var seconds: UInt32
    var microseconds: UInt32
    var originalLength: Int
    var bytes: [UInt8]
}

enum PcapError: Error { case missing(String), badHeader, truncatedRecord }

/// Reads a little-endian, microsecond, Ethernet (link type 1) pcap file from Golden/.
func readPcap(_ name: String) throws -> [PcapRecord] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "pcap", subdirectory: "Golden")
    else { throw PcapError.missing(name) }
    let data = [UInt8](try Data(contentsOf: url))
    func u32(_ offset: Int) -> UInt32 {
        UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24
    }
    guard data.count >= 24, u32(0) == 0xA1B2_C3D4, data[4] == 2, data[6] == 4, u32(20) == 1 else { throw PcapError.badHeader }
    var records: [PcapRecord] = []
    var offset = 24
    while offset < data.count {
        guard offset + 16 <= data.count else { throw PcapError.truncatedRecord }
        let captured = Int(u32(offset + 8))
        guard offset + 16 + captured <= data.count else { throw PcapError.truncatedRecord }
        records.append(PcapRecord(seconds: u32(offset), microseconds: u32(offset + 4), originalLength: Int(u32(offset + 12)),
                                  bytes: Array(data[(offset + 16)..<(offset + 16 + captured)])))
        offset += 16 + captured
    }
    return records
}

// MARK: Transmitter

/// Records every frame the stack sends. Buffers are pre-filled with 0xA5 so that padding the stack
/// forgot to zero shows up; `availableBuffers` simulates a full transmit ring.
struct RecordingTransmitter: FrameTransmitter {
    var frames: [[UInt8]] = []
    var availableBuffers = Int.max
    var bufferSize = 1514
    var refusals = 0

    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard availableBuffers > 0 else {
            refusals += 1
            return false
        }
        if availableBuffers != Int.max { availableBuffers -= 1 }
        var buffer = [UInt8](repeating: 0xA5, count: bufferSize)
        let length = buffer.withUnsafeMutableBytes { build($0) }
        XCTAssert(length >= 0 && length <= bufferSize)
        if length > 0 { frames.append(Array(buffer[0..<length])) }
        return true
    }
}

/// Hands `bytes` to the stack from a GuardedBuffer, so that any read past the frame crashes.
func deliver(_ bytes: [UInt8], to stack: inout NetworkStack, now: UInt64 = 0, transmitter: inout RecordingTransmitter) {
    let guarded = GuardedBuffer(bytes)
    stack.receive(frame: UnsafeRawBufferPointer(start: guarded.start, count: guarded.count), now: now,
                  transmitter: &transmitter)
}

// MARK: Independent byte arithmetic (written separately from the module on purpose)

func be16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}
func put16(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt16) {
    bytes[offset] = UInt8(value >> 8)
    bytes[offset + 1] = UInt8(value & 0xFF)
}
func bytes16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }


/// The UDP checksum with the RFC 768 pseudo-header (as transmitted: 0 becomes 0xFFFF).
func udpChecksum(source: [UInt8], destination: [UInt8], udp: [UInt8]) -> UInt16 {
    var pseudo = source + destination + [0, 17] + bytes16(UInt16(udp.count))
    pseudo += udp
    let value = onesComplementChecksum(pseudo)
    return value == 0 ? 0xFFFF : value
}

// MARK: Frame builders for hand-made frames

func ethernetHeader(destination: [UInt8] = guestMACBytes, source: [UInt8] = hostMACBytes, type: UInt16) -> [UInt8] {
    destination + source + bytes16(type)
}

/// An IPv4 header (with optional options) with a correct checksum.
func ipv4Header(protocolNumber: UInt8, payloadLength: Int, source: [UInt8] = hostIP, destination: [UInt8] = guestIP,
                identification: UInt16 = 0x1234, flagsAndOffset: UInt16 = 0x4000, options: [UInt8] = [],
                timeToLive: UInt8 = 64) -> [UInt8] {
    precondition(options.count % 4 == 0)
    let headerLength = 20 + options.count
    var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0]
    header += bytes16(UInt16(headerLength + payloadLength))
    header += bytes16(identification) + bytes16(flagsAndOffset)
    header += [timeToLive, protocolNumber, 0, 0]
    header += source + destination + options
    put16(&header, 10, onesComplementChecksum(header))
    return header
}

/// Recomputes the header checksum of the IPv4 header at offset 14 (after a test edited it).
func fixIPv4Checksum(_ frame: inout [UInt8]) {
    let headerLength = Int(frame[14] & 0x0F) * 4
    guard headerLength >= 20, frame.count >= 14 + headerLength else { return }
    put16(&frame, 24, 0)
    put16(&frame, 24, onesComplementChecksum(Array(frame[14..<(14 + headerLength)])))
}

func icmpEchoRequestFrame(identifier: UInt16 = 0x0101, sequence: UInt16 = 1, data: [UInt8] = Array(0..<32),
                          destination: [UInt8] = guestIP, destinationMAC: [UInt8] = guestMACBytes,
                          options: [UInt8] = []) -> [UInt8] {
    var icmp: [UInt8] = [8, 0, 0, 0] + bytes16(identifier) + bytes16(sequence) + data
    put16(&icmp, 2, onesComplementChecksum(icmp))
    return ethernetHeader(destination: destinationMAC, type: 0x0800)
        + ipv4Header(protocolNumber: 1, payloadLength: icmp.count, destination: destination, options: options) + icmp
}

func udpFrame(sourcePort: UInt16 = 40000, destinationPort: UInt16 = 7, payload: [UInt8],
              destination: [UInt8] = guestIP, zeroChecksum: Bool = false) -> [UInt8] {
    var udp = bytes16(sourcePort) + bytes16(destinationPort) + bytes16(UInt16(8 + payload.count)) + [0, 0] + payload
    if !zeroChecksum { put16(&udp, 6, udpChecksum(source: hostIP, destination: destination, udp: udp)) }
    return ethernetHeader(type: 0x0800) + ipv4Header(protocolNumber: 17, payloadLength: udp.count, destination: destination) + udp
}

func arpFrame(operation: UInt16, senderMAC: [UInt8], senderIP: [UInt8], targetMAC: [UInt8] = [0, 0, 0, 0, 0, 0],
              targetIP: [UInt8], destinationMAC: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) -> [UInt8] {
    ethernetHeader(destination: destinationMAC, source: senderMAC, type: 0x0806)
        + [0, 1, 8, 0, 6, 4] + bytes16(operation) + senderMAC + senderIP + targetMAC + targetIP
}

// MARK: Validation of what the stack transmits

/// Checks that a frame the stack sent is well-formed from Ethernet to UDP/ICMP, using only the
/// test's own parsing. Returns a description of the first problem, or nil.
func problemWithTransmittedFrame(_ frame: [UInt8]) -> String? {
    guard frame.count >= 60, frame.count <= 1514 else { return "length \(frame.count)" }
    guard Array(frame[6..<12]) == guestMACBytes else { return "source MAC" }
    let type = be16(frame, 12)
    if type == 0x0806 {
        guard Array(frame[14..<22]) == [0, 1, 8, 0, 6, 4, 0, 1] || Array(frame[14..<22]) == [0, 1, 8, 0, 6, 4, 0, 2]
        else { return "ARP header" }
        guard Array(frame[22..<28]) == guestMACBytes, Array(frame[28..<32]) == guestIP else { return "ARP sender" }
        guard frame.count == 60, frame[42..<60].allSatisfy({ $0 == 0 }) else { return "ARP padding" }
        return nil
    }
    guard type == 0x0800 else { return "EtherType \(type)" }
    guard frame[14] == 0x45 else { return "version/IHL" }
    let totalLength = Int(be16(frame, 16))
    guard totalLength >= 28, 14 + totalLength <= frame.count else { return "total length" }
    guard frame.count == max(60, 14 + totalLength) else { return "frame length vs total length" }
    guard frame[(14 + totalLength)...].allSatisfy({ $0 == 0 }) else { return "padding not zero" }
    guard onesComplementChecksum(Array(frame[14..<34])) == 0 else { return "IPv4 checksum" }
    guard be16(frame, 20) == 0x4000, frame[22] == 64 else { return "flags/TTL" }
    guard Array(frame[26..<30]) == guestIP else { return "IPv4 source" }
    let payload = Array(frame[34..<(14 + totalLength)])
    switch frame[23] {
    case 1:
        guard payload.count >= 8, onesComplementChecksum(payload) == 0 else { return "ICMP checksum" }
        guard payload[0] == 0 || (payload[0] == 3 && payload[1] == 3) else { return "ICMP type" }
    case 17:
        guard Int(be16(payload, 4)) == payload.count else { return "UDP length" }
        let checksum = be16(payload, 6)
        var zeroed = payload
        put16(&zeroed, 6, 0)
        guard checksum != 0, checksum == udpChecksum(source: guestIP, destination: Array(frame[30..<34]), udp: zeroed)
        else { return "UDP checksum" }
    default:
        return "IP protocol \(frame[23])"
    }
    return nil
}

/// Asserts the bookkeeping identity: every received frame was delivered or dropped for one reason.
func assertCountersConsistent(_ stack: NetworkStack, transmitted: Int? = nil, file: StaticString = #filePath, line: UInt = #line) {
    let counters = stack.counters
    XCTAssertEqual(counters.ethernet.framesIn, counters.framesDelivered + counters.receivedFramesDropped,
                   "frames in != delivered + dropped", file: file, line: line)
    if let transmitted {
        XCTAssertEqual(counters.ethernet.framesOut, UInt64(transmitted), "frames out", file: file, line: line)
    }
}

/// The drop counters that are not zero, by name (for readable failures).
func nonZeroDrops(_ stack: NetworkStack) -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for reason in DropReason.allCases where stack.counters[drop: reason] != 0 {
        result["\(reason.name)"] = stack.counters[drop: reason]
    }
    return result
}
