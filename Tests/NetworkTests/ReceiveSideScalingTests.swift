// The indirection table's spreading and source ports chosen so that replies land on a given queue.

import XCTest
@testable import Network

final class ReceiveSideScalingTests: XCTestCase {
    let local = IPv4Address(10, 0, 2, 15)
    let remotes: [(IPv4Address, UInt16)] = [(IPv4Address(10, 0, 2, 2), 80), (IPv4Address(192, 168, 1, 7), 443),
                                            (IPv4Address(66, 9, 149, 187), 2794), (IPv4Address(8, 8, 8, 8), 53)]

    func makeScaling(queues: Int, length: Int = IndirectionTable.maximumLength) -> ReceiveSideScaling {
        ReceiveSideScaling(table: IndirectionTable(length: length, queueCount: queues)!)
    }

    /// The reply's hash from the wire bytes (remote first), independent of the port search's
    /// incremental arithmetic.
    func replyHash(remote: IPv4Address, remotePort: UInt16, localPort: UInt16) -> UInt32 {
        rssInputBytes(remote, local, ports: (remotePort, localPort)).withUnsafeBytes { ToeplitzHash().hash($0) }
    }

    func testTableSpreadsRoundRobin() {
        for length in [1, 2, 4, 8, 16, 32, 64, 128] {
            for queues in 1...min(length, 8) {
                let table = IndirectionTable(length: length, queueCount: queues)!
                XCTAssertEqual(table.length, length)
                XCTAssertEqual(Int(table.mask), length - 1)
                var shares = [Int](repeating: 0, count: queues)
                for index in 0..<length {
                    XCTAssertEqual(Int(table[index]), index % queues)
                    shares[Int(table[index])] += 1
                }
                XCTAssertLessThanOrEqual(shares.max()! - shares.min()!, 1, "length \(length), \(queues) queues")
            }
        }
        let three = IndirectionTable(queueCount: 3)!
        XCTAssertEqual((0..<128).filter { three[$0] == 0 }.count, 43)
        XCTAssertEqual((0..<128).filter { three[$0] == 2 }.count, 42)
        three.withUnsafeEntries { entries in
            XCTAssertEqual(entries.count, 128)
            XCTAssertEqual(Array(entries.prefix(5)), [0, 1, 2, 0, 1])
        }
    }

    func testTableRejectsBadShapes() {
        for length in [0, -1, 3, 96, 129, 256] {
            XCTAssertNil(IndirectionTable(length: length, queueCount: 1), "length \(length)")
        }
        XCTAssertNil(IndirectionTable(queueCount: 0))
        XCTAssertNil(IndirectionTable(length: 4, queueCount: 5))
        XCTAssertNotNil(IndirectionTable(length: 4, queueCount: 4))
    }

    func testQueueForHashUsesTheLowBits() {
        var table = IndirectionTable(length: 8, queueCount: 4)!
        XCTAssertEqual(table.queue(forHash: 0xFFFF_FFF8), 0)
        XCTAssertEqual(table.queue(forHash: 0x0000_0005), 1)
        XCTAssertEqual(table.queue(forHash: 0x1234_5677), 3)
        table.setQueue(1, forEntry: 7)
        XCTAssertEqual(table.queue(forHash: 0x1234_5677), 1)
        XCTAssertFalse(table.contains(queue: 4))
    }

    func testQueueOfAReceivedSegmentFollowsItsHash() {
        let scaling = makeScaling(queues: 4)
        for row in rssVerificationRows {
            let queue = scaling.queue(source: row.source, destination: row.destination,
                                      sourcePort: row.sourcePort, destinationPort: row.destinationPort)
            XCTAssertEqual(Int(queue), Int(row.tcpHash & 127) % 4)
            XCTAssertEqual(Int(scaling.queue(source: row.source, destination: row.destination)), Int(row.ipv4Hash & 127) % 4)
        }
        // 0x51ccc178 & 127 = 120, entry 120 of a 4-queue table is queue 0.
        XCTAssertEqual(scaling.queue(forHash: 0x51cc_c178), 0)
    }

    /// Over the whole ephemeral range each queue of a round-robin table receives about its share.
    func testEphemeralPortsSpreadOverTheQueues() {
        let scaling = makeScaling(queues: 4)
        let (remote, remotePort) = remotes[3]
        var shares = [Int](repeating: 0, count: 4)
        for port in 49152...65535 {
            shares[Int(scaling.queue(source: remote, destination: local, sourcePort: remotePort, destinationPort: UInt16(port)))] += 1
        }
        for share in shares {
            XCTAssertEqual(Double(share), 16384.0 / 4, accuracy: 16384.0 / 4 * 0.1, "\(shares)")
        }
    }
}
