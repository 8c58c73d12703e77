// Seeded fuzzing of the connection table: random segments from random peers, to listening and closed ports, must never break its bounds.

import RawBytes
import InternetAddress
import TCP
import TestSupport
import XCTest

final class TCPConnectionTableFuzzTests: XCTestCase {
    /// Segments (60,000 in `swift test`, SWIGLET_FUZZ_ITERATIONS under `make fuzz`) with random
    /// flags, ports, sequence and acknowledgement numbers, options and lengths — a third with a
    /// wrong checksum, some cut short — from 64 sources, to two listening ports and a closed
    /// one, with the clock moving and timers running. The table
    /// must never hold more connections than its capacity, must account for every segment
    /// (received = delivered + cookies + drops), must never answer a RST with a RST, and an
    /// owner that lets go of everything must leave it empty once timers have run.
    func testRandomSegmentsKeepTheTableWithinItsBounds() {
        let fuzz = FuzzRun("TCP connection table", defaultIterations: 60_000, defaultSeed: 0x7AB1E)
        var table = TCPConnectionTable(capacity: 32, localAddress: tableAddress, secretKey: testKey,
                                       configuration: smallBuffers, halfOpenLimitPerListener: 8)
        guard case .success = table.listen(port: 80, owner: 1), case .success = table.listen(port: 7, owner: 2) else {
            return XCTFail("cannot listen")
        }
        var wire = RecordingTransmitter()
        var now: UInt64 = 1000 * oneSecond
        var outcomes: [String: Int] = [:]
        let ports: [UInt16] = [80, 7, 9999]
        let rounds = fuzz.run(in: self) { round, random in
            let source = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0200 | UInt32.random(in: 1...64, using: &random)),
                                     port: UInt16.random(in: 40000...40007, using: &random))
            let destination = TCPEndpoint(address: tableAddress, port: ports[Int.random(in: 0..<3, using: &random)])
            var options = TCPOptions()
            if Bool.random(using: &random) { options.maximumSegmentSize = UInt16.random(in: 0...1460, using: &random) }
            if Bool.random(using: &random) { options.windowScale = UInt8.random(in: 0...20, using: &random) }
            var segment = wireSegment(from: source, to: destination,
                                      flags: TCPFlags(rawValue: UInt8.random(in: 0...0x3F, using: &random)),
                                      sequence: UInt32.random(in: 0...UInt32.max, using: &random),
                                      acknowledgment: UInt32.random(in: 0...UInt32.max, using: &random),
                                      window: UInt16.random(in: 0...UInt16.max, using: &random), options: options,
                                      payload: [UInt8](repeating: 0x5A, count: Int.random(in: 0...64, using: &random)))
            var bytes = segment.bytes
            switch Int.random(in: 0..<6, using: &random) {
            case 0, 1: bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            case 2: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
            default: break
            }
            segment.bytes = bytes
            let outcome = bytes.withUnsafeBytes { raw in
                table.receive(segment: ByteReader(raw), source: source.address, destination: destination.address,
                              now: now, output: &wire)
            }
            switch outcome {
            case .delivered: outcomes["delivered", default: 0] += 1
            case .synCookieSent: outcomes["cookie", default: 0] += 1
            case .dropped(let reason): outcomes["\(reason)", default: 0] += 1
            }
            // A RST is never answered with a RST (RFC 9293 §3.10.7.1).
            let sent = wire.take()
            let wasReset = bytes.withUnsafeBytes { raw in
                (try? TCPHeader(reading: ByteReader(raw)))?.flags.contains(.reset) ?? false
            }
            if wasReset {
                XCTAssertFalse(sent.contains { $0.flags.contains(.reset) }, "a RST answered a RST in round \(round)")
            }
            XCTAssertLessThanOrEqual(table.allocatedCount, table.capacity)
            now &+= UInt64.random(in: 0...(oneSecond / 10), using: &random)
            if round % 100 == 0 { table.poll(now: now, output: &wire); _ = wire.take() }
            // The owners take their events (as the network core does) and give connections back.
            while let event = table.nextEvent() {
                if event.events.contains(.closed) || Bool.random(using: &random) {
                    table.release(event.id, now: now, output: &wire)
                }
            }
        }
        guard rounds == fuzz.iterations else { return }   // stopped at a failure, reported above
        let counters = table.counters
        print("table fuzz outcomes: \(outcomes.sorted { $0.key < $1.key }); resets sent \(counters.resetsSent), peak allocation bounded by \(table.capacity)")
        let accounted = UInt64(outcomes["delivered", default: 0] + outcomes["cookie", default: 0]) + counters.drops.total
        XCTAssertEqual(counters.segmentsReceived, UInt64(rounds))
        XCTAssertEqual(accounted, counters.segmentsReceived, "every segment delivered, answered with a cookie or dropped: \(outcomes)")
        for outcome in ["delivered", "cookie", "badChecksum", "malformed", "noListener"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 0, "\(outcome) never happened: \(outcomes)")
        }
        // Everyone lets go; after the longest timers nothing is left.
        table.abortAll(owner: 1, now: now, output: &wire)
        table.abortAll(owner: 2, now: now, output: &wire)
        for _ in 0..<200 {
            now &+= oneSecond
            table.poll(now: now, output: &wire)
        }
        XCTAssertEqual(table.allocatedCount, 0, "connections left after every owner let go: \(table.connectionCounts())")
    }
}
