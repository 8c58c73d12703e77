// In-order bytes taken straight from the segment by the owner (TCPDirectReceiver): copied once, never in the receive buffer, never ahead of bytes already waiting.

import RawBytes
@testable import TCP
import TestSupport
import XCTest

/// Takes up to `limit` bytes per offer and remembers them.
private struct RecordingSink: InOrderSink {
    var limit = Int.max
    var taken: [UInt8] = []
    var offers = 0

    mutating func take(_ bytes: ByteReader) -> Int {
        offers += 1
        let count = min(limit, bytes.count)
        guard count > 0, let base = bytes.baseAddress else { return 0 }
        taken += Array(UnsafeRawBufferPointer(start: base, count: count))
        return count
    }
}

final class DirectReceiveTests: XCTestCase {
    /// Injects a data segment from the peer at `sequence`, offering in-order bytes to `sink`.
    private func inject(_ talk: inout Conversation, sequence: UInt32, payload: [UInt8], sink: inout RecordingSink) {
        let header = TCPHeader(sourcePort: clientEndpoint.port, destinationPort: serverEndpoint.port,
                               sequenceNumber: SequenceNumber(sequence), acknowledgmentNumber: SequenceNumber(talk.peerAcknowledgment),
                               flags: [.acknowledgment], window: talk.peerWindow)
        var buffer = [UInt8](repeating: 0, count: 2048)
        let payloadBuffer = GuardedBuffer(payload)
        let length = try! buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in
            try TCPSegment.build(header: header, options: TCPOptions(), payload: payloadBuffer.reader,
                                 source: clientEndpoint.address, destination: serverEndpoint.address, into: raw)
        }
        let wire = GuardedBuffer(Array(buffer.prefix(length)))
        let segment = try! TCPSegment(parsing: wire.reader, source: clientEndpoint.address, destination: serverEndpoint.address)
        talk.connection.receive(segment: segment, now: talk.now, output: &talk.wire, sink: &sink)
    }

    func testInOrderBytesGoToTheOwnerAndNotIntoTheReceiveBuffer() {
        var talk = Conversation()
        talk.establishPassively()
        var sink = RecordingSink()
        let window = talk.connection.receiveWindow
        inject(&talk, sequence: 1001, payload: [1, 2, 3, 4], sink: &sink)
        XCTAssertEqual(sink.taken, [1, 2, 3, 4])
        XCTAssertEqual(talk.connection.readableCount, 0, "nothing held by TCP")
        XCTAssertEqual(talk.connection.receiveNext.rawValue, 1005, "and acknowledged as received")
        XCTAssertEqual(talk.connection.receiveWindow, window, "the window stays open")
        XCTAssertEqual(talk.connection.statistics.directlyDelivered, 4)
        XCTAssertEqual(talk.connection.bufferBytesHeld, 0)
    }

    func testWhatTheOwnerCannotTakeWaitsInTheReceiveBufferAndLaterBytesQueueBehindIt() {
        var talk = Conversation()
        talk.establishPassively()
        var sink = RecordingSink(limit: 2)
        inject(&talk, sequence: 1001, payload: [1, 2, 3, 4], sink: &sink)
        XCTAssertEqual(sink.taken, [1, 2])
        XCTAssertEqual(talk.connection.readableCount, 2)
        // Bytes 3 and 4 wait: the next segment must not overtake them.
        sink.limit = .max
        inject(&talk, sequence: 1005, payload: [5, 6], sink: &sink)
        XCTAssertEqual(sink.taken, [1, 2], "not offered while earlier bytes wait")
        XCTAssertEqual(talk.read(), [3, 4, 5, 6])
        inject(&talk, sequence: 1007, payload: [7], sink: &sink)
        XCTAssertEqual(sink.taken, [1, 2, 7], "offered again once the buffer is empty")
    }

    func testOutOfOrderBytesAreNeverOfferedAndFillTheHoleInOrder() {
        var talk = Conversation()
        talk.establishPassively()
        var sink = RecordingSink()
        inject(&talk, sequence: 1003, payload: [3, 4], sink: &sink)
        XCTAssertEqual(sink.offers, 0, "beyond RCV.NXT: reassembly, not the owner")
        inject(&talk, sequence: 1001, payload: [1, 2], sink: &sink)
        XCTAssertEqual(sink.offers, 0, "a hole being filled goes through the buffer, so 3 and 4 follow 1 and 2")
        XCTAssertEqual(talk.read(), [1, 2, 3, 4])
    }
}
