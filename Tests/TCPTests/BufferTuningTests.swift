// Buffer auto-tuning over the simulated link: capacities grow to cover the bandwidth-delay product, stop there, stay small for slow readers, and memory goes back to the pool.

import RawBytes
import TCP
import TestSupport
import XCTest

final class BufferTuningTests: XCTestCase {
    let megabytes = 1 << 20

    /// 8 MiB each way over a 40 ms round trip with no bandwidth limit: only the windows limit
    /// the transfer, so both buffers must grow from their 16 and 64 KiB starts to the maximum (128 KiB),
    /// and the transfer takes far less simulated time than with the starting sizes fixed.
    func testBuffersGrowToTheMaximumWhenOnlyTheWindowLimits() {
        var slow = LinkImpairments.clean
        slow.delay = 20_000_000
        var tuned = SimulatedLink(seed: 5, impairments: [slow, slow], configuration: TCPConnectionConfiguration())
        let start = tuned.now
        XCTAssertTrue(tuned.transfer(total: 8 * megabytes))
        let tunedTime = tuned.now - start
        for side in tuned.sides {
            XCTAssertEqual(side.receiveBufferCapacity, 131_072, "receive buffer grown to the maximum")
            XCTAssertEqual(side.sendBufferCapacity, 131_072, "send buffer grown to the maximum")
            XCTAssertGreaterThan(side.statistics.bufferGrowths, 0)
        }
        // The same transfer with buffers fixed at the starting sizes, and fixed at the maximum.
        let small = TCPConnectionConfiguration(sendBufferCapacity: 16_384, receiveBufferCapacity: 65_536)
        var fixed = SimulatedLink(seed: 5, impairments: [slow, slow], configuration: small)
        XCTAssertTrue(fixed.transfer(total: 8 * megabytes))
        let large = TCPConnectionConfiguration(initialSendBufferCapacity: 131_072, initialReceiveBufferCapacity: 131_072)
        var big = SimulatedLink(seed: 5, impairments: [slow, slow], configuration: large)
        XCTAssertTrue(big.transfer(total: 8 * megabytes))
        XCTAssertLessThan(tunedTime * 2, fixed.now - start, "tuning pays off: over 2× faster than the starting sizes")
        XCTAssertLessThan(tunedTime, 2 * (big.now - start), "and within 2× of buffers fixed at the maximum")
    }

    /// A 20 MB/s bottleneck with a 32-packet queue and a 4 ms round trip: a BDP of about
    /// 80 KB. With room to grow to 1 MiB, the receive capacity settles within a few times that
    /// — well short of the maximum — rather than growing without end.
    func testReceiveBufferSettlesNearTheBandwidthDelayProduct() {
        var bottleneck = LinkImpairments.clean
        bottleneck.bytesPerSecond = 20_000_000
        bottleneck.queueLimit = 32
        let roomy = TCPConnectionConfiguration(sendBufferCapacity: 1 << 20, receiveBufferCapacity: 1 << 20)
        var link = SimulatedLink(seed: 9, impairments: [bottleneck, bottleneck], configuration: roomy)
        XCTAssertTrue(link.transfer(total: 16 * megabytes))
        for side in link.sides {
            XCTAssertGreaterThan(side.receiveBufferCapacity, 65_536, "grew to cover the BDP")
            XCTAssertLessThanOrEqual(side.receiveBufferCapacity, 262_144, "but not far past it")
        }
    }

    /// A reader that rarely reads, and little at a time, takes little per round trip: its
    /// receive buffer never grows, however long the transfer waits on it. (Both ends reading
    /// 2 KiB at a time also keeps both windows closed most of the time: the zero-window probes
    /// and their answers must keep the transfer alive. When each end had taken the other's probe
    /// byte, each one's bare ACKs sat one below the other's RCV.NXT and were ignored, and both
    /// timed out; the ACK field of such a segment is now taken.)
    func testASlowReaderDoesNotGrowItsReceiveBuffer() {
        var link = SimulatedLink(seed: 3, impairments: [.clean, .clean], configuration: TCPConnectionConfiguration())
        link.applicationTick = 50_000_000
        link.readLimit = 2048
        XCTAssertTrue(link.transfer(total: 1 * megabytes, readChance: 0.05))
        // Reading up to 64 KiB at a time: an RTO resend then reaches past SND.MAX (only a probe
        // byte was out), and the peer's ACK of those bytes must be taken, or the sender stalls.
        var bursty = SimulatedLink(seed: 3, impairments: [.clean, .clean], configuration: TCPConnectionConfiguration())
        bursty.applicationTick = 50_000_000
        XCTAssertTrue(bursty.transfer(total: 1 * megabytes, readChance: 0.05))

        for side in link.sides {
            XCTAssertEqual(side.receiveBufferCapacity, 65_536)
        }
    }

    /// After a transfer and close, the buffers hold no pool memory: all of it is free again.
    func testFinishedConnectionsHoldNoBufferMemory() {
        let pool = BufferPool(byteCount: 4 << 20, largestBlock: 1 << 19)
        var link = SimulatedLink(seed: 7, impairments: [.clean, .clean], configuration: TCPConnectionConfiguration(), bufferPool: pool)
        XCTAssertTrue(link.transfer(total: 2 * megabytes))
        XCTAssertGreaterThan(pool.peakBytesInUse, 64 * 1024, "the transfer did use the pool")
        XCTAssertEqual(pool.bytesInUse, 0, "everything given back once acknowledged and read")
        XCTAssertEqual(link.sides.map(\.bufferBytesHeld), [0, 0])
    }

    /// Receiving when the pool is exhausted: the segment is dropped and counted, the peer sends
    /// it again once memory is back, and the stream arrives intact.
    func testAnExhaustedPoolDropsSegmentsAndTheTransferRecovers() {
        let pool = BufferPool(byteCount: 1 << 20, largestBlock: 1 << 19)
        var link = SimulatedLink(seed: 11, impairments: [.clean, .clean], configuration: TCPConnectionConfiguration(), bufferPool: pool)
        // Take all but 8 KiB: the two connections must make do with that at first.
        var hogs: [UnsafeMutableRawBufferPointer] = []
        while pool.bytesFree > 8192, let block = pool.allocate(byteCount: 2048) { hogs.append(block) }
        link.onStep = { now in
            // Memory comes back after 2 simulated seconds.
            if now > 3_000_000_000 && !hogs.isEmpty { for block in hogs { pool.free(block) }; hogs.removeAll() }
        }
        XCTAssertTrue(link.transfer(total: 1 * megabytes))
        XCTAssertGreaterThan(link.sides.reduce(0) { $0 + $1.statistics.bufferRefusals }, 0, "refusals were counted")
    }
}

final class BufferPoolPressureTests: XCTestCase {
    /// With the pool exhausted, arriving data is refused whole: RCV.NXT stays, the ACK says so,
    /// and the same bytes are taken once memory is back.
    func testRefusedDataIsNotAcknowledgedAndIsTakenLater() {
        let pool = BufferPool(byteCount: 65_536, largestBlock: 65_536)
        var talk = Conversation(configuration: TCPConnectionConfiguration(), bufferPool: pool)
        talk.establishPassively()
        let hog = pool.allocate(byteCount: 65_536)!
        let next = talk.connection.receiveNext
        talk.inject(flags: [.acknowledgment], payload: [1, 2, 3])
        XCTAssertEqual(talk.connection.receiveNext, next, "nothing kept, nothing acknowledged")
        XCTAssertEqual(talk.connection.statistics.bufferRefusals, 1)
        for ack in talk.wire.take() { XCTAssertEqual(ack.acknowledgment, next.rawValue) }
        pool.free(hog)
        talk.inject(flags: [.acknowledgment], payload: [1, 2, 3])
        XCTAssertEqual(talk.read(), [1, 2, 3])
        XCTAssertEqual(pool.bytesInUse, 0)
    }
}
