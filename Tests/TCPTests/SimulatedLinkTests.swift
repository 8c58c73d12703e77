// Two TCPConnections over a simulated link (seeded loss, duplication, reordering, delay): several MiB each way, then a graceful close, checked byte for byte.

import RawBytes
import InternetAddress
import TCP
import TestSupport
import XCTest

/// Collects the segments a connection sends as wire bytes (built and checksummed).
struct PacketCollector: TCPSegmentTransmitter {
    var packets: [[UInt8]] = []

    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 1600)
        do {
            let length = try buffer.withUnsafeMutableBytes { (raw) throws(TCPBuildError) -> Int in try segment.write(into: raw) }
            packets.append(Array(buffer.prefix(length)))
        } catch {
            XCTFail("segment does not build: \(error)")
        }
        return true
    }
}

/// How one direction of the link mistreats packets.
struct LinkImpairments {
    /// Chance of loss, duplication and extra delay (reordering), each per packet in [0, 1).
    var loss = 0.0
    var duplication = 0.0
    var reordering = 0.0
    /// One-way delay and the most extra delay a reordered packet gets, in nanoseconds.
    var delay: UInt64 = 2_000_000
    var reorderDelay: UInt64 = 6_000_000
    /// The bottleneck's rate (nil: unlimited) and how many packets its queue holds before it
    /// drops (drop-tail), as a router in front of a slower link would.
    var bytesPerSecond: UInt64? = nil
    var queueLimit = 64

    static let clean = LinkImpairments()
}

/// The byte at `index` of the stream sent by side `side` (0 or 1): cheap, position-dependent,
/// so a misplaced or repeated byte shows.
func streamByte(_ index: Int, side: Int) -> UInt8 {
    let mixed = UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(side) &* 0xBF58_476D_1CE4_E5B9
    return UInt8(truncatingIfNeeded: mixed >> 29)
}

/// Two endpoints, the packets in flight and the simulated clock.
struct SimulatedLink {
    struct Packet {
        var deliverAt: UInt64
        var order: Int
        var bytes: [UInt8]
        var toSide: Int
    }

    var sides: [TCPConnection]
    var impairments: [LinkImpairments]   // indexed by the sending side
    var random: SplitMix64
    var inFlight: [Packet] = []
    var now: UInt64 = 1_000_000_000
    var order = 0
    var delivered = 0
    /// How often the applications run when nothing else happens (a slow reader's clock).
    var applicationTick: UInt64? = 1_000_000
    /// The most one application read takes (a slow reader reads little at a time).
    var readLimit = 65_536
    /// When each side's bottleneck is next free to start a packet.
    var bottleneckFreeAt: [UInt64] = [0, 0]

    /// Called at every step with the clock (a test's way to change the world mid-transfer).
    var onStep: ((UInt64) -> Void)? = nil
    /// Lend each side's stream from this memory (holding the whole stream) instead of copying
    /// it; bytes handed back are counted in `returned` and overwritten with poison at once.
    var lendFrom: [UnsafeMutableRawBufferPointer]? = nil
    var returned = [0, 0]

    init(seed: UInt64, impairments: [LinkImpairments], configuration: TCPConnectionConfiguration,
         bufferPool: BufferPool? = nil) {
        let client = TCPEndpoint(address: peerAddress, port: 40000)
        let server = TCPEndpoint(address: localAddress, port: 80)
        sides = [
            TCPConnection(local: client, remote: server,
                          initialSequenceNumbers: InitialSequenceNumberGenerator(secretKey: SipHashKey(low: seed, high: 1)),
                          configuration: configuration, bufferPool: bufferPool),
            TCPConnection(local: server, remote: client,
                          initialSequenceNumbers: InitialSequenceNumberGenerator(secretKey: SipHashKey(low: seed, high: 2)),
                          configuration: configuration, bufferPool: bufferPool),
        ]
        self.impairments = impairments
        self.random = SplitMix64(seed: seed)
    }

    /// Puts what `side` sent on the link, impaired.
    mutating func carry(_ collector: inout PacketCollector, from side: Int) {
        let impairment = impairments[side]
        for bytes in collector.packets {
            if Double.random(in: 0..<1, using: &random) < impairment.loss { continue }
            var departure = now
            if let rate = impairment.bytesPerSecond {
                let serialization = UInt64(bytes.count) * 1_000_000_000 / rate
                let start = max(now, bottleneckFreeAt[side])
                if (start - now) / max(serialization, 1) >= UInt64(impairment.queueLimit) { continue }   // queue full
                bottleneckFreeAt[side] = start + serialization
                departure = start + serialization
            }
            let copies = Double.random(in: 0..<1, using: &random) < impairment.duplication ? 2 : 1
            for _ in 0..<copies {
                var deliverAt = departure + impairment.delay
                if Double.random(in: 0..<1, using: &random) < impairment.reordering {
                    deliverAt += UInt64.random(in: 0...impairment.reorderDelay, using: &random)
                }
                order += 1
                inFlight.append(Packet(deliverAt: deliverAt, order: order, bytes: bytes, toSide: 1 - side))
            }
        }
        collector.packets.removeAll(keepingCapacity: true)
    }

    /// The next time something happens: a packet arrives or a connection's timer is due.
    var nextEvent: UInt64? {
        var earliest = inFlight.map(\.deliverAt).min()
        if let tick = applicationTick { earliest = min(earliest ?? now + tick, now + tick) }
        for side in sides {
            if let deadline = side.nextDeadline { earliest = min(earliest ?? deadline, deadline) }
        }
        return earliest
    }

    /// Advances the clock to the next event and processes everything due then.
    mutating func step() {
        if let next = nextEvent, next > now { now = next }
        onStep?(now)
        var collectors = [PacketCollector(), PacketCollector()]
        while let index = inFlight.indices.filter({ inFlight[$0].deliverAt <= now })
            .min(by: { (inFlight[$0].deliverAt, inFlight[$0].order) < (inFlight[$1].deliverAt, inFlight[$1].order) }) {
            let packet = inFlight.remove(at: index)
            let source = sides[1 - packet.toSide].local.address
            let destination = sides[packet.toSide].local.address
            packet.bytes.withUnsafeBytes { raw in
                let reader = ByteReader(start: raw.baseAddress!, count: raw.count)
                guard let segment = try? TCPSegment(parsing: reader, source: source, destination: destination) else {
                    XCTFail("a segment on the link does not parse")
                    return
                }
                sides[packet.toSide].receive(segment: segment, now: now, output: &collectors[packet.toSide])
            }
            delivered += 1
        }
        for side in 0..<2 {
            sides[side].poll(now: now, output: &collectors[side])
            carry(&collectors[side], from: side)
        }
    }

    /// Lets each application write what the send buffer takes and read what arrived.
    mutating func runApplications(sent: inout [Int], received: inout [Int], total: Int, readChance: Double,
                                  scratch: inout [UInt8]) {
        var collectors = [PacketCollector(), PacketCollector()]
        for side in 0..<2 {
            // Take back what was handed back, and poison it: it must never be read again.
            if let regions = lendFrom {
                let back = sides[side].takeReturnedBytes()
                XCTAssertLessThanOrEqual(returned[side] + back, sent[side], "handed back more than was lent")
                for index in returned[side]..<min(returned[side] + back, total) { regions[side][index] = 0xA5 }
                returned[side] += back
            }
            // Write.
            if let regions = lendFrom, sent[side] < total && sides[side].writableCount > 0 {
                let count = min(total - sent[side], sides[side].writableCount)
                sent[side] += sides[side].lend(ByteReader(start: regions[side].baseAddress! + sent[side], count: count),
                                               now: now, output: &collectors[side])
                if sent[side] == total { sides[side].close(now: now, output: &collectors[side]) }
            } else if sent[side] < total && sides[side].writableCount > 0 {
                let count = min(total - sent[side], sides[side].writableCount, scratch.count)
                for offset in 0..<count { scratch[offset] = streamByte(sent[side] + offset, side: side) }
                let taken = scratch.withUnsafeBytes { raw in
                    sides[side].send(ByteReader(start: raw.baseAddress!, count: count), now: now, output: &collectors[side])
                }
                sent[side] += taken
                if sent[side] == total { sides[side].close(now: now, output: &collectors[side]) }
            }
            // Read (sometimes not, so windows close and reopen).
            if Double.random(in: 0..<1, using: &random) < readChance {
                let limit = Int.random(in: 1...min(scratch.count, readLimit), using: &random)
                let got = scratch.withUnsafeMutableBytes { raw in
                    sides[side].read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<limit]), now: now, output: &collectors[side])
                }
                for offset in 0..<got where scratch[offset] != streamByte(received[side] + offset, side: 1 - side) {
                    XCTFail("side \(side) byte \(received[side] + offset) differs")
                    break
                }
                received[side] += got
            }
            carry(&collectors[side], from: side)
        }
    }

    /// Opens, moves `total` bytes each way, closes both ways; returns false if it did not finish.
    mutating func transfer(total: Int, readChance: Double = 1.0, timeLimit: UInt64 = 3_600_000_000_000) -> Bool {
        var collector = PacketCollector()
        sides[1].listen()
        sides[0].open(now: now, output: &collector)
        carry(&collector, from: 0)
        var sent = [0, 0]
        var received = [0, 0]
        var scratch = [UInt8](repeating: 0, count: 65_536)
        let start = now
        while now - start < timeLimit {
            runApplications(sent: &sent, received: &received, total: total, readChance: readChance, scratch: &scratch)
            let finished = (0..<2).allSatisfy { side in
                received[side] == total && sides[side].peerFinished
                    && (sides[side].state == .closed || sides[side].state == .timeWait)
            }
            if finished { return true }
            if sides.contains(where: { $0.error != nil }) {
                XCTFail("a side failed: \(sides.map { String(describing: $0.error) })")
                return false
            }
            step()
        }
        XCTFail("not finished at the time limit: sent \(sent) received \(received) states \(sides.map(\.state))")
        return false
    }
}

final class SimulatedLinkTests: XCTestCase {
    let megabytes = 1 << 20

    func testCleanLinkMovesStreamsBothWaysAndCloses() {
        var link = SimulatedLink(seed: 1, impairments: [.clean, .clean], configuration: TCPConnectionConfiguration())
        XCTAssertTrue(link.transfer(total: 4 * megabytes))
        for side in link.sides {
            XCTAssertEqual(side.statistics.timeoutRetransmissions, 0, "a clean link never times out")
            XCTAssertEqual(side.statistics.fastRetransmissions, 0)
            XCTAssertEqual(side.sendWindowShift, 2, "128 KiB needs shift 2 and both SYNs carried it")
            XCTAssertEqual(side.reassembly.count, 0)
        }
    }

    func testLossyReorderingDuplicatingLinkDeliversIntact() {
        var impairment = LinkImpairments()
        impairment.loss = 0.02
        impairment.duplication = 0.01
        impairment.reordering = 0.05
        var reverse = impairment
        reverse.loss = 0.03
        reverse.delay = 5_000_000
        for seed: UInt64 in [7, 8] {
            var link = SimulatedLink(seed: seed, impairments: [impairment, reverse], configuration: TCPConnectionConfiguration())
            XCTAssertTrue(link.transfer(total: 3 * megabytes), "seed \(seed)")
            var total = TCPConnectionStatistics()
            for side in link.sides { total.add(side.statistics) }
            XCTAssertGreaterThan(total.fastRetransmissions, 0, "losses are mostly repaired by fast retransmit")
            XCTAssertGreaterThan(total.outOfOrderSegments, 0, "holes were reassembled")
            XCTAssertGreaterThan(total.duplicateAcknowledgments, 0)
        }
    }

    /// Heavy impairment (10% loss, 5% duplication, 20% reordering) over many seeds, smaller streams.
    func testManySeedsUnderHeavyImpairment() {
        var impairment = LinkImpairments()
        impairment.loss = 0.10
        impairment.duplication = 0.05
        impairment.reordering = 0.20
        for seed: UInt64 in 100..<112 {
            var link = SimulatedLink(seed: seed, impairments: [impairment, impairment], configuration: TCPConnectionConfiguration())
            XCTAssertTrue(link.transfer(total: 200_000), "seed \(seed)")
        }
    }

    func testSlowReaderClosesTheWindowAndProbesKeepTheTransferAlive() {
        var impairment = LinkImpairments()
        impairment.loss = 0.01
        var link = SimulatedLink(seed: 99, impairments: [impairment, impairment],
                                 configuration: TCPConnectionConfiguration(sendBufferCapacity: 32_768, receiveBufferCapacity: 16_384))
        link.applicationTick = 1_000_000
        XCTAssertTrue(link.transfer(total: megabytes, readChance: 0.002))
        var total = TCPConnectionStatistics()
        for side in link.sides {
            XCTAssertNil(side.error)
            total.add(side.statistics)
        }
        XCTAssertGreaterThan(total.zeroWindowProbes, 0, "the reader left the window shut long enough to probe")
    }
}
