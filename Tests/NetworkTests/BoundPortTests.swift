/// Tests of UDP ports bound by listeners (programs): delivery instead of replies, and release.
import Network
import RawBytes
import TestSupport
import XCTest

final class BoundPortTests: XCTestCase {
    /// Receives `frame` and returns what the stack hands back for a listener, copied out.
    private func receive(_ frame: [UInt8], _ stack: inout NetworkStack, _ transmitter: inout RecordingTransmitter)
        -> (listener: Int, payload: [UInt8], source: IPv4Address, sourcePort: UInt16, port: UInt16)? {
        frame.withUnsafeBytes { bytes in
            guard case .datagram(let delivery) = stack.receive(frame: bytes, now: 0, transmitter: &transmitter) else { return nil }
            return (delivery.listener, Array(delivery.payload), delivery.source, delivery.sourcePort, delivery.destinationPort)
        }
    }

    func testABoundEchoPortIsDeliveredNotAnswered() throws {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        // The real datagram Linux sent to port 7 (18 bytes of payload).
        let frame = try readPcap("udp-echo-requests")[2].bytes
        XCTAssertTrue(stack.bind(port: 7, listener: 3))
        guard let delivered = receive(frame, &stack, &transmitter) else { return XCTFail("nothing delivered") }
        XCTAssertEqual(delivered.listener, 3)
        XCTAssertEqual(delivered.port, 7)
        XCTAssertEqual(delivered.sourcePort, 40000)
        XCTAssertEqual(delivered.source, IPv4Address(10, 0, 2, 2))
        XCTAssertEqual(delivered.payload, (0..<18).map { UInt8((7 * $0 + 3) % 256) })
        XCTAssertTrue(transmitter.frames.isEmpty, "the built-in echo answered a bound port")

        // Unbound again, the built-in echo answers.
        stack.unbind(port: 7)
        XCTAssertNil(receive(frame, &stack, &transmitter))
        XCTAssertEqual(transmitter.frames.count, 1)
    }

    func testBindingRules() {
        var stack = makeStack()
        XCTAssertFalse(stack.bind(port: 0, listener: 1))
        XCTAssertTrue(stack.bind(port: 9, listener: 1))
        XCTAssertFalse(stack.bind(port: 9, listener: 2), "a bound port was bound twice")
        XCTAssertEqual(stack.listener(of: 9), 1)
        for port in 100..<115 { XCTAssertTrue(stack.bind(port: UInt16(port), listener: port)) }
        XCTAssertFalse(stack.bind(port: 200, listener: 1), "the table holds 16 ports")
        stack.unbind(port: 9)
        XCTAssertNil(stack.listener(of: 9))
        XCTAssertEqual(stack.listener(of: 114), 114)
        XCTAssertTrue(stack.bind(port: 200, listener: 1))
    }

    func testBadDatagramsToABoundPortAreDroppedNotDelivered() throws {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertTrue(stack.bind(port: 7, listener: 1))
        var frame = try readPcap("udp-echo-requests")[2].bytes
        frame[frame.count - 1] ^= 0xFF   // breaks the UDP checksum
        XCTAssertNil(receive(frame, &stack, &transmitter))
        XCTAssertEqual(stack.counters[drop: .badChecksum], 1)
    }
}
