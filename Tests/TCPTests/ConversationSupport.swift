// Scripted-conversation helpers: a transmitter that records our segments off the wire, and a peer that injects segments.

import RawBytes
import InternetAddress
import TCP
import TestSupport
import XCTest

/// One segment the connection sent, checked on the wire (built, checksummed and parsed back).
struct SentSegment {
    var source = TCPEndpoint(address: IPv4Address(rawValue: 0), port: 0)
    var destination = TCPEndpoint(address: IPv4Address(rawValue: 0), port: 0)
    /// The whole segment as it went on the wire.
    var bytes: [UInt8] = []
    var header: TCPHeader
    var options: TCPOptions
    var payload: [UInt8]
    var flags: TCPFlags { header.flags }
    var sequence: UInt32 { header.sequenceNumber.rawValue }
    var acknowledgment: UInt32 { header.acknowledgmentNumber.rawValue }
}

/// Builds every outgoing segment into bytes, parses them back (so a bad checksum or layout
/// fails the test) and keeps them in order.
struct RecordingTransmitter: TCPSegmentTransmitter {
    var sent: [SentSegment] = []
    /// How many more segments the "NIC" takes before it refuses (nil: no limit): a full
    /// transmit queue.
    var room: Int? = nil
    /// Segments refused for want of room.
    var refused = 0

    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool {
        if let left = room {
            guard left > 0 else {
                refused += 1
                return false
            }
            room = left - 1
        }
        var buffer = [UInt8](repeating: 0, count: 2048)
        do {
            let length = try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in try segment.write(into: raw) }
            let wire = GuardedBuffer(Array(buffer.prefix(length)))
            let parsed = try TCPSegment(parsing: wire.reader, source: segment.source.address, destination: segment.destination.address)
            sent.append(SentSegment(source: segment.source, destination: segment.destination, bytes: Array(buffer.prefix(length)),
                                    header: parsed.header, options: parsed.options, payload: bytesOf(parsed.payload)))
        } catch {
            XCTFail("our segment does not survive the wire: \(error)")
        }
        return true
    }

    /// Takes the segments sent since the last call.
    mutating func take() -> [SentSegment] {
        defer { sent.removeAll() }
        return sent
    }
}

let serverEndpoint = TCPEndpoint(address: localAddress, port: 80)
let clientEndpoint = TCPEndpoint(address: peerAddress, port: 40000)
let testKey = SipHashKey(low: 0x0123_4567_89AB_CDEF, high: 0xFEDC_BA98_7654_3210)
let oneSecond: UInt64 = 1_000_000_000

/// A connection under test, the peer's view of the sequence space, and the clock.
struct Conversation {
    var connection: TCPConnection
    var wire = RecordingTransmitter()
    var now: UInt64 = 10 * oneSecond
    /// The peer's next sequence number.
    var peerSequence: UInt32 = 1000
    /// What the peer acknowledges (our ISS + 1 once it has our SYN).
    var peerAcknowledgment: UInt32 = 0
    var peerWindow: UInt16 = 65535

    init(configuration: TCPConnectionConfiguration = TCPConnectionConfiguration(), bufferPool: BufferPool? = nil) {
        connection = TCPConnection(local: serverEndpoint, remote: clientEndpoint,
                                   initialSequenceNumbers: InitialSequenceNumberGenerator(secretKey: testKey),
                                   configuration: configuration, bufferPool: bufferPool)
    }

    var iss: UInt32 { connection.initialSendSequence.rawValue }

    /// Injects a segment from the peer, built on the wire and parsed as the stack would.
    mutating func inject(flags: TCPFlags, sequence: UInt32? = nil, acknowledgment: UInt32? = nil,
                         window: UInt16? = nil, options: TCPOptions = TCPOptions(), payload: [UInt8] = []) {
        let header = TCPHeader(sourcePort: clientEndpoint.port, destinationPort: serverEndpoint.port,
                               sequenceNumber: SequenceNumber(sequence ?? peerSequence),
                               acknowledgmentNumber: SequenceNumber(acknowledgment ?? peerAcknowledgment),
                               flags: flags, window: window ?? peerWindow)
        var buffer = [UInt8](repeating: 0, count: 2048)
        let payloadBuffer = GuardedBuffer(payload)
        let length = try! buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
            try TCPSegment.build(header: header, options: options, payload: payload.isEmpty ? ByteReader() : payloadBuffer.reader,
                                 source: clientEndpoint.address, destination: serverEndpoint.address, into: raw)
        }
        let wireBytes = GuardedBuffer(Array(buffer.prefix(length)))
        let segment = try! TCPSegment(parsing: wireBytes.reader, source: clientEndpoint.address, destination: serverEndpoint.address)
        connection.receive(segment: segment, now: now, output: &wire)
    }

    /// Passive open completed by a three-way handshake; the peer's next sequence is 1001.
    mutating func establishPassively(peerOptions: TCPOptions = TCPOptions(maximumSegmentSize: 1460)) {
        connection.listen()
        inject(flags: [.synchronize], sequence: 1000, acknowledgment: 0, options: peerOptions)
        peerSequence = 1001
        peerAcknowledgment = iss &+ 1
        inject(flags: [.acknowledgment])
        _ = wire.take()
    }

    mutating func send(_ bytes: [UInt8]) -> Int {
        let buffer = GuardedBuffer(bytes)
        return connection.send(buffer.reader, now: now, output: &wire)
    }

    mutating func read(upTo count: Int = 65536) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { connection.read(into: $0, now: now, output: &wire) }
        return Array(bytes.prefix(got))
    }

    mutating func close() { connection.close(now: now, output: &wire) }

    mutating func advance(by nanoseconds: UInt64) {
        now += nanoseconds
        connection.poll(now: now, output: &wire)
    }
}

/// Asserts exactly one segment was sent, with these fields; returns it.
@discardableResult
func expectOne(_ segments: [SentSegment], flags: TCPFlags, sequence: UInt32, acknowledgment: UInt32? = nil,
               payloadCount: Int = 0, file: StaticString = #filePath, line: UInt = #line) -> SentSegment? {
    guard segments.count == 1, let segment = segments.first else {
        XCTFail("expected one segment, got \(segments.count): \(segments.map { ($0.flags.rawValue, $0.sequence) })", file: file, line: line)
        return nil
    }
    XCTAssertEqual(segment.flags, flags, "flags", file: file, line: line)
    XCTAssertEqual(segment.sequence, sequence, "SEQ", file: file, line: line)
    if let acknowledgment { XCTAssertEqual(segment.acknowledgment, acknowledgment, "ACK", file: file, line: line) }
    XCTAssertEqual(segment.payload.count, payloadCount, "data length", file: file, line: line)
    return segment
}
