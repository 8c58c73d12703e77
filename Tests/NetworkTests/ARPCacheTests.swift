// ARP resolution through the stack: requests and retries, failure, replies that flush the queue, expiry, eviction, the merge rule.

import XCTest
import TestSupport
@testable import Network

final class ARPCacheTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000
    private let gateway = IPv4Address(10, 0, 2, 2)
    private let neighbour = IPv4Address(10, 0, 2, 3)
    private let neighbourMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x03]

    private func send(_ stack: inout NetworkStack, to destination: IPv4Address, payload: [UInt8] = Array("hello".utf8),
                      now: UInt64, transmitter: inout RecordingTransmitter) -> SendResult {
        payload.withUnsafeBytes {
            stack.sendDatagram(from: 5555, to: destination, port: 9000, payload: $0, now: now, transmitter: &transmitter)
        }
    }

    private func expectedRequest(for target: [UInt8]) -> [UInt8] {
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + guestMACBytes + [0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]
            + guestMACBytes + guestIP + [0, 0, 0, 0, 0, 0] + target + [UInt8](repeating: 0, count: 18)
    }

    func testResolutionSendsRequestAndRetriesThenGivesUp() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(stack.nextTimerDeadline, .max, "nothing to do before anything is sent")
        XCTAssertEqual(send(&stack, to: neighbour, now: 10 * second, transmitter: &transmitter), .queued)
        XCTAssertEqual(transmitter.frames, [expectedRequest(for: [10, 0, 2, 3])])
        XCTAssertEqual(stack.pendingPacketCount, 1)
        XCTAssertEqual(stack.arpCache.entry(for: neighbour)?.state, .incomplete)
        // A second datagram joins the queue without a second request (one per second at most).
        XCTAssertEqual(send(&stack, to: neighbour, now: 10 * second + 1, transmitter: &transmitter), .queued)
        XCTAssertEqual(transmitter.frames.count, 1)
        XCTAssertEqual(stack.pendingPacketCount, 2)
        // Retries one second apart, three requests in all.
        stack.poll(now: 10 * second + second / 2, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 1)
        stack.poll(now: 11 * second, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 2)
        stack.poll(now: 11 * second + 10, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 2)
        stack.poll(now: 12 * second, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 3)
        XCTAssertEqual(transmitter.frames[1], expectedRequest(for: [10, 0, 2, 3]))
        XCTAssertEqual(transmitter.frames[2], expectedRequest(for: [10, 0, 2, 3]))
        XCTAssertEqual(stack.counters[drop: .noARPEntry], 0)
        // No answer a second after the third: give up, drop both waiting datagrams.
        stack.poll(now: 13 * second, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 3)
        XCTAssertEqual(stack.counters[drop: .noARPEntry], 2)
        XCTAssertEqual(stack.counters.arpResolutionFailures, 1)
        XCTAssertEqual(stack.pendingPacketCount, 0)
        XCTAssertNil(stack.arpCache.entry(for: neighbour))
        XCTAssertEqual(stack.counters.arp.framesOut, 3)
        XCTAssertEqual(stack.counters.udp.framesOut, 0)
        XCTAssertEqual(stack.nextTimerDeadline, .max)
    }

    func testReplyFillsCacheAndFlushesQueueInOrder() throws {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: neighbour, payload: [1], now: 0, transmitter: &transmitter), .queued)
        XCTAssertEqual(send(&stack, to: neighbour, payload: [2, 2], now: 1, transmitter: &transmitter), .queued)
        let reply = arpFrame(operation: 2, senderMAC: neighbourMAC, senderIP: [10, 0, 2, 3], targetMAC: guestMACBytes,
                             targetIP: guestIP, destinationMAC: guestMACBytes)
        deliver(reply, to: &stack, now: 2, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 3)
        for (index, frame) in transmitter.frames[1...].enumerated() {
            XCTAssertNil(problemWithTransmittedFrame(frame))
            XCTAssertEqual(Array(frame[0..<6]), neighbourMAC)
            XCTAssertEqual(Array(frame[30..<34]), [10, 0, 2, 3])
            XCTAssertEqual(be16(frame, 34), 5555)
            XCTAssertEqual(be16(frame, 36), 9000)
            XCTAssertEqual(Array(frame[42..<(43 + index)]), [UInt8](repeating: UInt8(index + 1), count: index + 1))
            XCTAssertEqual(be16(frame, 18), UInt16(index), "identification in sending order")
        }
        XCTAssertEqual(stack.pendingPacketCount, 0)
        let entry = try XCTUnwrap(stack.arpCache.entry(for: neighbour))
        XCTAssertEqual(entry.state, .resolved)
        XCTAssertEqual(entry.hardwareAddress, MACAddress(0x02, 0, 0, 0, 0, 0x03))
        // Now resolved: the next datagram goes out at once.
        XCTAssertEqual(send(&stack, to: neighbour, now: 3, transmitter: &transmitter), .sent)
        XCTAssertEqual(transmitter.frames.count, 4)
        XCTAssertEqual(Array(transmitter.frames[3][0..<6]), neighbourMAC)
        // No more requests come from poll.
        stack.poll(now: 5 * second, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 4)
        XCTAssertEqual(stack.counters.udp.framesOut, 3)
        XCTAssertEqual(stack.counters.totalDrops, 0)
        assertCountersConsistent(stack, transmitted: 4)
    }

    func testOffLinkDestinationsGoThroughTheGateway() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: IPv4Address(8, 8, 8, 8), now: 0, transmitter: &transmitter), .queued)
        XCTAssertEqual(transmitter.frames, [expectedRequest(for: hostIP)])
        deliver(arpFrame(operation: 2, senderMAC: hostMACBytes, senderIP: hostIP, targetMAC: guestMACBytes, targetIP: guestIP,
                         destinationMAC: guestMACBytes), to: &stack, now: 1, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 2)
        XCTAssertEqual(Array(transmitter.frames[1][0..<6]), hostMACBytes)
        XCTAssertEqual(Array(transmitter.frames[1][30..<34]), [8, 8, 8, 8], "IP destination stays the far host")
        // Without a gateway there is no route.
        var isolated = NetworkStack(configuration: InterfaceConfiguration(gateway: nil))
        XCTAssertEqual(send(&isolated, to: IPv4Address(8, 8, 8, 8), now: 0, transmitter: &transmitter), .noRoute)
        XCTAssertEqual(send(&isolated, to: IPv4Address(10, 0, 2, 15), now: 0, transmitter: &transmitter), .noRoute)
        XCTAssertEqual(isolated.counters[drop: .noRoute], 2)
    }

    func testBroadcastAndMulticastNeedNoResolution() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: .broadcast, now: 0, transmitter: &transmitter), .sent)
        XCTAssertEqual(send(&stack, to: IPv4Address(10, 0, 2, 255), now: 0, transmitter: &transmitter), .sent)
        XCTAssertEqual(send(&stack, to: IPv4Address(239, 129, 2, 3), now: 0, transmitter: &transmitter), .sent)
        XCTAssertEqual(transmitter.frames.map { Array($0[0..<6]) },
                       [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0x01, 0x00, 0x5E, 0x01, 0x02, 0x03]])
        for frame in transmitter.frames { XCTAssertNil(problemWithTransmittedFrame(frame)) }
    }

    func testExpiry() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        // Learn the neighbour from its request for us.
        deliver(arpFrame(operation: 1, senderMAC: neighbourMAC, senderIP: [10, 0, 2, 3], targetIP: guestIP),
                to: &stack, now: 100 * second, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 1)
        XCTAssertEqual(send(&stack, to: neighbour, now: 159 * second, transmitter: &transmitter), .sent)
        stack.poll(now: 159 * second, transmitter: &transmitter)
        XCTAssertNotNil(stack.arpCache.entry(for: neighbour))
        // Sixty seconds after it was learned, the entry is gone.
        stack.poll(now: 160 * second, transmitter: &transmitter)
        XCTAssertNil(stack.arpCache.entry(for: neighbour))
        XCTAssertEqual(send(&stack, to: neighbour, now: 160 * second, transmitter: &transmitter), .queued)
        XCTAssertEqual(transmitter.frames.last, expectedRequest(for: [10, 0, 2, 3]))
    }

    func testExpiredEntryIsNotUsedEvenBeforePoll() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        deliver(arpFrame(operation: 1, senderMAC: neighbourMAC, senderIP: [10, 0, 2, 3], targetIP: guestIP),
                to: &stack, now: 0, transmitter: &transmitter)
        XCTAssertEqual(send(&stack, to: neighbour, now: 61 * second, transmitter: &transmitter), .queued)
        XCTAssertEqual(stack.arpCache.entry(for: neighbour)?.state, .incomplete)
        XCTAssertEqual(stack.arpCache.count, 1, "the stale entry is reused, not duplicated")
    }

    func testCapacityEvictsTheOldest() {
        var stack = makeStack(arpCacheCapacity: 2)
        var transmitter = RecordingTransmitter()
        for host: UInt8 in 3...5 {
            deliver(arpFrame(operation: 1, senderMAC: [2, 0, 0, 0, 0, host], senderIP: [10, 0, 2, host], targetIP: guestIP),
                    to: &stack, now: UInt64(host) * second, transmitter: &transmitter)
        }
        XCTAssertEqual(stack.arpCache.count, 2)
        XCTAssertNil(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 3)), "oldest evicted")
        XCTAssertEqual(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 4))?.hardwareAddress, MACAddress(2, 0, 0, 0, 0, 4))
        XCTAssertEqual(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 5))?.hardwareAddress, MACAddress(2, 0, 0, 0, 0, 5))
        // Refreshing .4 makes .5 the oldest.
        deliver(arpFrame(operation: 1, senderMAC: [2, 0, 0, 0, 0, 4], senderIP: [10, 0, 2, 4], targetIP: guestIP),
                to: &stack, now: 6 * second, transmitter: &transmitter)
        deliver(arpFrame(operation: 1, senderMAC: [2, 0, 0, 0, 0, 6], senderIP: [10, 0, 2, 6], targetIP: guestIP),
                to: &stack, now: 7 * second, transmitter: &transmitter)
        XCTAssertNotNil(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 4)))
        XCTAssertNil(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 5)))
    }

    func testEvictingAnIncompleteEntryDropsItsPackets() {
        var stack = makeStack(arpCacheCapacity: 1)
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: neighbour, now: 0, transmitter: &transmitter), .queued)
        XCTAssertEqual(send(&stack, to: IPv4Address(10, 0, 2, 4), now: 1, transmitter: &transmitter), .queued)
        XCTAssertEqual(stack.counters[drop: .noARPEntry], 1)
        XCTAssertEqual(stack.pendingPacketCount, 1)
        XCTAssertNil(stack.arpCache.entry(for: neighbour))
    }

    func testMergeRule() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        // A request between two other hosts teaches nothing new: not added (RFC 826: only add
        // when we are the target).
        let between = arpFrame(operation: 1, senderMAC: neighbourMAC, senderIP: [10, 0, 2, 3], targetIP: [10, 0, 2, 9])
        deliver(between, to: &stack, now: 0, transmitter: &transmitter)
        XCTAssertEqual(stack.arpCache.count, 0)
        XCTAssertEqual(stack.counters[drop: .notForUs], 1)
        // Once it is in the table...
        deliver(arpFrame(operation: 1, senderMAC: neighbourMAC, senderIP: [10, 0, 2, 3], targetIP: guestIP),
                to: &stack, now: 1, transmitter: &transmitter)
        XCTAssertEqual(stack.arpCache.entry(for: neighbour)?.hardwareAddress, MACAddress(2, 0, 0, 0, 0, 3))
        // ...any ARP packet from it updates the entry, even one not for us (merge), and no reply goes out.
        let moved = arpFrame(operation: 1, senderMAC: [2, 0, 0, 0, 0, 0x33], senderIP: [10, 0, 2, 3], targetIP: [10, 0, 2, 9])
        deliver(moved, to: &stack, now: 2, transmitter: &transmitter)
        XCTAssertEqual(stack.arpCache.entry(for: neighbour)?.hardwareAddress, MACAddress(2, 0, 0, 0, 0, 0x33))
        XCTAssertEqual(stack.arpCache.entry(for: neighbour)?.updatedAt, 2)
        XCTAssertEqual(transmitter.frames.count, 1, "only the request for us was answered")
        XCTAssertEqual(stack.counters[drop: .notForUs], 1)
        XCTAssertEqual(stack.counters.framesDelivered, 2)
        // A reply from a host we never asked, addressed to us, is added too (we are the target).
        deliver(arpFrame(operation: 2, senderMAC: [2, 0, 0, 0, 0, 7], senderIP: [10, 0, 2, 7], targetMAC: guestMACBytes,
                         targetIP: guestIP, destinationMAC: guestMACBytes), to: &stack, now: 3, transmitter: &transmitter)
        XCTAssertEqual(stack.arpCache.entry(for: IPv4Address(10, 0, 2, 7))?.state, .resolved)
        assertCountersConsistent(stack, transmitted: 1)
    }

    func testQueueFull() {
        var stack = makeStack(pendingQueueCapacity: 2)
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: neighbour, now: 0, transmitter: &transmitter), .queued)
        XCTAssertEqual(send(&stack, to: neighbour, now: 0, transmitter: &transmitter), .queued)
        XCTAssertEqual(send(&stack, to: neighbour, now: 0, transmitter: &transmitter), .queueFull)
        XCTAssertEqual(stack.counters[drop: .arpQueueFull], 1)
        XCTAssertEqual(stack.pendingPacketCount, 2)
    }

    func testOversizedDatagram() {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        XCTAssertEqual(send(&stack, to: .broadcast, payload: [UInt8](repeating: 0, count: 1473), now: 0, transmitter: &transmitter),
                       .datagramTooLarge)
        XCTAssertEqual(send(&stack, to: .broadcast, payload: [UInt8](repeating: 0, count: 1472), now: 0, transmitter: &transmitter),
                       .sent)
        XCTAssertEqual(transmitter.frames.map(\.count), [1514])
        XCTAssertEqual(stack.counters[drop: .datagramTooLarge], 1)
        XCTAssertEqual(stack.counters[drop: .oversized], 0)
    }

    func testTransmitRingFull() throws {
        var stack = makeStack()
        var transmitter = RecordingTransmitter()
        transmitter.availableBuffers = 0
        deliver(try readPcap("icmp-echo-requests")[0].bytes, to: &stack, transmitter: &transmitter)
        XCTAssertEqual(stack.counters[drop: .transmitRingFull], 1)
        XCTAssertEqual(stack.counters.framesDelivered, 1, "the request itself was handled")
        XCTAssertEqual(stack.counters.icmp.framesOut, 0)
        XCTAssertEqual(send(&stack, to: .broadcast, now: 0, transmitter: &transmitter), .transmitRingFull)
        // A driver buffer too small for the frame counts the same way.
        var small = RecordingTransmitter()
        small.bufferSize = 100
        XCTAssertEqual(send(&stack, to: .broadcast, payload: [UInt8](repeating: 0, count: 200), now: 0, transmitter: &small), .transmitRingFull)
        XCTAssertEqual(stack.counters[drop: .transmitRingFull], 3)
        assertCountersConsistent(stack, transmitted: 0)
    }

    func testPortUnreachableIsRateLimited() throws {
        let frame = try readPcap("udp-no-listener")[0].bytes
        var stack = makeStack()
        stack.icmpErrorsPerSecond = 3
        var transmitter = RecordingTransmitter()
        for index in 0..<5 { deliver(frame, to: &stack, now: UInt64(index), transmitter: &transmitter) }
        XCTAssertEqual(transmitter.frames.count, 3)
        deliver(frame, to: &stack, now: second + 10, transmitter: &transmitter)
        XCTAssertEqual(transmitter.frames.count, 4)
        XCTAssertEqual(stack.counters[drop: .noListener], 6)
    }
}
