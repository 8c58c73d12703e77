/// The checker of docs/labs/icmp-timestamp: a timestamp request (RFC 792, type 13) fed to a `NetworkStack` gets a timestamp reply (type 14) right to the byte, and a malformed one is counted and dropped.
import Network
import RawBytes
import TestSupport
import XCTest

final class ICMPTimestampLab: XCTestCase {
    // The addresses of QEMU's user-mode network: the stack's defaults (`InterfaceConfiguration()`)
    // and the host behind 10.0.2.2.
    static let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    static let guestIP: [UInt8] = [10, 0, 2, 15]
    static let hostMAC: [UInt8] = [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02]
    static let hostIP: [UInt8] = [10, 0, 2, 2]
    static let millisecond: UInt64 = 1_000_000
    static let day: UInt64 = 86_400_000

    /// The time the lab's README settles on: milliseconds since boot modulo a day, with the
    /// high-order bit set because it is not referred to midnight UT (RFC 792, "Timestamp").
    static func timestamp(atNanoseconds now: UInt64) -> UInt32 {
        0x8000_0000 | UInt32((now / millisecond) % day)
    }

    // MARK: The cases

    func testATimestampRequestIsAnsweredByteForByte() throws {
        var stack = NetworkStack(configuration: InterfaceConfiguration())
        var transmitter = Transmitter()
        let now: UInt64 = 5_000 * Self.millisecond + 123_456   // 5000.123456 ms after boot
        let request = Self.timestampRequestFrame(identifier: 0xBEEF, sequence: 0x0102, originate: 0x0123_4567)
        Self.deliver(request, to: &stack, now: now, transmitter: &transmitter)

        XCTAssertEqual(transmitter.frames.count, 1, "one reply; drops so far: \(Self.drops(stack))")
        guard let reply = transmitter.frames.first else { return }
        XCTAssertEqual(reply.count, 60, "a 14 + 20 + 20 byte frame, padded to Ethernet's 60")
        guard reply.count >= 54 else { return }
        // Ethernet: back to the requester, from us, IPv4.
        XCTAssertEqual(Array(reply[0..<6]), Self.hostMAC, "Ethernet destination")
        XCTAssertEqual(Array(reply[6..<12]), Self.guestMAC, "Ethernet source")
        XCTAssertEqual(Array(reply[12..<14]), [0x08, 0x00], "EtherType")
        // IPv4: no options, 40 bytes, not a fragment, ICMP, from us to the requester.
        XCTAssertEqual(reply[14], 0x45, "version 4, header of 20 bytes")
        XCTAssertEqual(Self.be16(reply, 16), 40, "total length: 20 of IPv4 and 20 of ICMP")
        XCTAssertEqual(Self.be16(reply, 20) & 0x3FFF, 0, "not a fragment (MF clear, offset 0)")
        XCTAssertGreaterThan(reply[22], 0, "TTL")
        XCTAssertEqual(reply[23], 1, "protocol ICMP")
        XCTAssertEqual(Self.checksum(Array(reply[14..<34])), 0, "the IPv4 header checksum verifies")
        XCTAssertEqual(Array(reply[26..<30]), Self.guestIP, "IPv4 source")
        XCTAssertEqual(Array(reply[30..<34]), Self.hostIP, "IPv4 destination")
        // ICMP: type 14, code 0, identifier, sequence and originate copied, receive and transmit stamped.
        let icmp = Array(reply[34..<54])
        XCTAssertEqual(icmp[0], 14, "type: timestamp reply")
        XCTAssertEqual(icmp[1], 0, "code")
        XCTAssertEqual(Self.checksum(icmp), 0, "the ICMP checksum verifies")
        XCTAssertEqual(Self.be16(icmp, 4), 0xBEEF, "identifier copied")
        XCTAssertEqual(Self.be16(icmp, 6), 0x0102, "sequence number copied")
        XCTAssertEqual(Self.be32(icmp, 8), 0x0123_4567, "originate timestamp copied")
        XCTAssertEqual(Self.be32(icmp, 12), 0x8000_1388, "receive timestamp: 5000 ms since boot, high bit set")
        XCTAssertEqual(Self.be32(icmp, 16), 0x8000_1388, "transmit timestamp: the same instant")
        XCTAssertTrue(reply[54...].allSatisfy { $0 == 0 }, "Ethernet padding is zero")
        // Counted as a delivered frame and one ICMP message in and out.
        XCTAssertEqual(stack.counters.framesDelivered, 1)
        XCTAssertEqual(stack.counters.icmp.framesIn, 1)
        XCTAssertEqual(stack.counters.icmp.framesOut, 1)
        XCTAssertEqual(stack.counters.icmp.bytesOut, 20)
        XCTAssertEqual(stack.counters.totalDrops, 0, "\(Self.drops(stack))")
    }

    /// The clock is the stack's `now` (nanoseconds since boot): whole milliseconds, wrapped at
    /// a day, flagged as not UT.
    func testTheTimestampsAreMillisecondsSinceBootWrappedAtADayAndFlagged() {
        let cases: [(now: UInt64, expected: UInt32)] = [
            (0, 0x8000_0000),
            (999_999, 0x8000_0000),                                              // not yet 1 ms
            (1_000_000, 0x8000_0001),
            (Self.day * Self.millisecond - 1, 0x8000_0000 | UInt32(Self.day - 1)), // the last ms of the first day
            (Self.day * Self.millisecond, 0x8000_0000),                          // midnight: wraps to 0
            ((Self.day + 43_200_000 + 1234) * Self.millisecond + 567_800, 0x8000_0000 | 43_201_234),
        ]
        for (index, (now, expected)) in cases.enumerated() {
            XCTAssertEqual(Self.timestamp(atNanoseconds: now), expected, "the checker's own arithmetic")
            var stack = NetworkStack(configuration: InterfaceConfiguration())
            var transmitter = Transmitter()
            Self.deliver(Self.timestampRequestFrame(identifier: 7, sequence: UInt16(index), originate: 42), to: &stack,
                         now: now, transmitter: &transmitter)
            guard let reply = transmitter.frames.first, reply.count >= 54 else {
                XCTFail("no reply at now = \(now) ns; drops: \(Self.drops(stack))")
                continue
            }
            XCTAssertEqual(Self.be32(reply, 34 + 12), expected, "receive timestamp at now = \(now) ns")
            XCTAssertEqual(Self.be32(reply, 34 + 16), expected, "transmit timestamp at now = \(now) ns")
            XCTAssertEqual(Self.checksum(Array(reply[34..<54])), 0, "ICMP checksum at now = \(now) ns")
        }
    }

    /// Bytes after the three timestamps are ignored: the reply always carries exactly 20.
    func testBytesAfterTheTimestampsAreNotEchoed() {
        var stack = NetworkStack(configuration: InterfaceConfiguration())
        var transmitter = Transmitter()
        Self.deliver(Self.timestampRequestFrame(identifier: 1, sequence: 2, originate: 3, extra: [0xAA, 0xBB, 0xCC, 0xDD]),
                     to: &stack, now: 0, transmitter: &transmitter)
        guard let reply = transmitter.frames.first else { return XCTFail("no reply; drops: \(Self.drops(stack))") }
        XCTAssertEqual(Self.be16(reply, 16), 40, "IPv4 total length: a 20-byte ICMP message")
        XCTAssertEqual(Self.checksum(Array(reply[34..<54])), 0, "ICMP checksum")
    }

    /// A timestamp request shorter than its 20 bytes (but with a valid checksum, so that only
    /// its length is wrong) is dropped as `truncated`, and nothing is sent.
    func testATooShortTimestampRequestIsCountedAndDropped() {
        for length in [8, 12, 16, 19] {
            var stack = NetworkStack(configuration: InterfaceConfiguration())
            var transmitter = Transmitter()
            let whole = Self.timestampMessage(identifier: 9, sequence: 9, originate: 0x0A0B_0C0D)
            let frame = Self.frame(icmp: Self.withChecksum(Array(whole[0..<length])))
            Self.deliver(frame, to: &stack, now: 1_000 * Self.millisecond, transmitter: &transmitter)
            XCTAssertTrue(transmitter.frames.isEmpty, "\(length) bytes: nothing may be sent")
            XCTAssertEqual(stack.counters[drop: .truncated], 1, "\(length) bytes: counted as truncated; drops: \(Self.drops(stack))")
            XCTAssertEqual(stack.counters.totalDrops, 1, "\(length) bytes: one drop only; drops: \(Self.drops(stack))")
            XCTAssertEqual(stack.counters.icmp.framesIn, 1, "\(length) bytes: counted at the ICMP layer")
            XCTAssertEqual(stack.counters.framesDelivered, 0, "\(length) bytes: not delivered")
        }
    }

    /// A corrupted request fails the ICMP checksum and is not answered.
    func testATimestampRequestWithABadChecksumIsDropped() {
        var stack = NetworkStack(configuration: InterfaceConfiguration())
        var transmitter = Transmitter()
        var frame = Self.timestampRequestFrame(identifier: 1, sequence: 1, originate: 1)
        frame[34 + 9] ^= 0x40
        Self.deliver(frame, to: &stack, now: 0, transmitter: &transmitter)
        XCTAssertTrue(transmitter.frames.isEmpty)
        XCTAssertEqual(stack.counters[drop: .badChecksum], 1, "\(Self.drops(stack))")
    }

    /// RFC 1122 §3.2.2.8 lets a host ignore timestamp requests sent to a broadcast address;
    /// like echo requests, they are counted as `unsupportedMessage`.
    func testATimestampRequestToABroadcastAddressIsNotAnswered() {
        var stack = NetworkStack(configuration: InterfaceConfiguration())
        var transmitter = Transmitter()
        let frame = Self.frame(icmp: Self.timestampMessage(identifier: 1, sequence: 1, originate: 1),
                               destinationMAC: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], destination: [10, 0, 2, 255])
        Self.deliver(frame, to: &stack, now: 0, transmitter: &transmitter)
        XCTAssertTrue(transmitter.frames.isEmpty)
        XCTAssertEqual(stack.counters[drop: .unsupportedMessage], 1, "\(Self.drops(stack))")
    }

    /// Echo (ping) still works beside the new message.
    func testEchoRequestsAreStillAnswered() {
        var stack = NetworkStack(configuration: InterfaceConfiguration())
        var transmitter = Transmitter()
        let echo = Self.withChecksum([8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01] + Array(0..<16))
        Self.deliver(Self.frame(icmp: echo), to: &stack, now: 0, transmitter: &transmitter)
        guard let reply = transmitter.frames.first, reply.count >= 58 else { return XCTFail("no echo reply; drops: \(Self.drops(stack))") }
        XCTAssertEqual(reply[34], 0, "echo reply")
        XCTAssertEqual(Array(reply[38..<58]), Array(echo[4...]), "identifier, sequence and data echoed")
    }

    // MARK: Frames (built here, independently of the Network module)

    /// Records every frame the stack sends. Buffers start as 0xA5 so that unzeroed padding shows.
    struct Transmitter: FrameTransmitter {
        var frames: [[UInt8]] = []

        mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
            var buffer = [UInt8](repeating: 0xA5, count: 1514)
            let length = buffer.withUnsafeMutableBytes { build($0) }
            if length > 0 && length <= buffer.count { frames.append(Array(buffer[0..<length])) }
            return true
        }
    }

    /// Hands `bytes` to the stack from a `GuardedBuffer`: a read past the frame's end crashes.
    static func deliver(_ bytes: [UInt8], to stack: inout NetworkStack, now: UInt64, transmitter: inout Transmitter) {
        let guarded = GuardedBuffer(bytes)
        stack.receive(frame: UnsafeRawBufferPointer(start: guarded.start, count: guarded.count), now: now,
                      transmitter: &transmitter)
    }

    /// A timestamp request (RFC 792): type 13, code 0, checksum, identifier, sequence number,
    /// then the originate, receive and transmit timestamps (a requester sends the last two as 0).
    static func timestampMessage(identifier: UInt16, sequence: UInt16, originate: UInt32, extra: [UInt8] = []) -> [UInt8] {
        let message: [UInt8] = [13, 0, 0, 0] + bytes16(identifier) + bytes16(sequence) + bytes32(originate)
            + bytes32(0) + bytes32(0) + extra
        return withChecksum(message)
    }

    static func timestampRequestFrame(identifier: UInt16, sequence: UInt16, originate: UInt32, extra: [UInt8] = []) -> [UInt8] {
        frame(icmp: timestampMessage(identifier: identifier, sequence: sequence, originate: originate, extra: extra))
    }

    /// `icmp` in an IPv4 datagram from the host to `destination`, in an Ethernet frame.
    static func frame(icmp: [UInt8], destinationMAC: [UInt8] = guestMAC, destination: [UInt8] = guestIP) -> [UInt8] {
        var ip: [UInt8] = [0x45, 0] + bytes16(UInt16(20 + icmp.count)) + [0x12, 0x34, 0x40, 0x00, 64, 1, 0, 0]
            + hostIP + destination
        let sum = checksum(ip)
        ip[10] = UInt8(sum >> 8)
        ip[11] = UInt8(sum & 0xFF)
        return destinationMAC + hostMAC + [0x08, 0x00] + ip + icmp
    }

    /// `message` with its ICMP checksum (bytes 2-3) filled in.
    static func withChecksum(_ message: [UInt8]) -> [UInt8] {
        var result = message
        result[2] = 0
        result[3] = 0
        let sum = checksum(result)
        result[2] = UInt8(sum >> 8)
        result[3] = UInt8(sum & 0xFF)
        return result
    }

    /// RFC 1071 by the book (`TestSupport`).
    static func checksum(_ bytes: [UInt8]) -> UInt16 { onesComplementChecksum(bytes) }

    static func bytes16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func bytes32(_ value: UInt32) -> [UInt8] { bytes16(UInt16(value >> 16)) + bytes16(UInt16(value & 0xFFFF)) }
    static func be16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
    static func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { UInt32(be16(bytes, offset)) << 16 | UInt32(be16(bytes, offset + 2)) }

    /// The non-zero drop counters, by name, for failure messages.
    static func drops(_ stack: NetworkStack) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for reason in DropReason.allCases where stack.counters[drop: reason] != 0 {
            result["\(reason.name)"] = stack.counters[drop: reason]
        }
        return result
    }
}
