// Random and mutated frames (seeded by the golden ones) against guard pages: no crash, only well-formed output, consistent counters.

import Foundation
import XCTest
import TestSupport
@testable import Network

/// Fuzzes `NetworkStack.receive` (with `poll` and `sendDatagram` mixed in).
///
/// Every frame sits in a `GuardedBuffer`, flush against an inaccessible page, so reading one byte
/// past its end crashes the test. `swift test` runs 20,000 frames (about a second); `make fuzz`
/// runs SWIGLET_FUZZ_ITERATIONS of them, and SWIGLET_FUZZ_SEED picks another seed (default
/// 0x5EED) — see `FuzzRun`.
final class FuzzTests: XCTestCase {
    private var seeds: [[UInt8]] = []

    override func setUpWithError() throws {
        seeds = []
        for name in ["arp-requests", "icmp-echo-requests", "udp-echo-requests", "udp-no-listener", "ipv4-fragments"] {
            seeds += try readPcap(name).map(\.bytes)
        }
        seeds.append(icmpEchoRequestFrame(options: [1, 1, 1, 1]))
        seeds.append(arpFrame(operation: 2, senderMAC: [2, 0, 0, 0, 0, 3], senderIP: [10, 0, 2, 3], targetMAC: guestMACBytes,
                              targetIP: guestIP, destinationMAC: guestMACBytes))
        seeds.append(udpFrame(destinationPort: 53, payload: Array(0..<40)))
    }

    /// Fixes the IPv4 header checksum and, half the time, the ICMP/UDP checksum, so mutations
    /// reach the layers behind the checksums instead of all dying at the first one.
    private func repairChecksums(_ frame: inout [UInt8], _ random: inout SplitMix64) {
        guard frame.count >= 34, be16(frame, 12) == 0x0800 else { return }
        fixIPv4Checksum(&frame)
        guard random.next() % 2 == 0 else { return }
        let headerLength = Int(frame[14] & 0x0F) * 4
        let total = Int(be16(frame, 16))
        guard headerLength >= 20, total >= headerLength, 14 + total <= frame.count else { return }
        let start = 14 + headerLength, end = 14 + total
        if frame[23] == 1, end - start >= 8 {
            put16(&frame, start + 2, 0)
            put16(&frame, start + 2, onesComplementChecksum(Array(frame[start..<end])))
        } else if frame[23] == 17, end - start >= 8 {
            let udpLength = Int(be16(frame, start + 4))
            guard udpLength >= 8, start + udpLength <= end else { return }
            put16(&frame, start + 6, 0)
            let checksum = udpChecksum(source: Array(frame[26..<30]), destination: Array(frame[30..<34]),
                                       udp: Array(frame[start..<(start + udpLength)]))
            put16(&frame, start + 6, checksum)
        }
    }

    private func mutate(_ seed: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var frame = seed
        let interestingOffsets = [12, 13, 14, 16, 17, 20, 21, 23, 34, 35, 36, 37, 38, 39, 40, 41, 19, 21]
        let interestingValues: [UInt8] = [0, 1, 4, 5, 6, 7, 8, 15, 17, 0x40, 0x45, 0x4F, 0x7F, 0x80, 0xFE, 0xFF]
        let mutations = 1 + Int(random.next() % 4)
        for _ in 0..<mutations {
            switch random.next() % 9 {
            case 0 where !frame.isEmpty:
                let index = Int(random.next() % UInt64(frame.count))
                frame[index] ^= UInt8(1) << UInt8(random.next() % 8)
            case 1 where !frame.isEmpty:
                frame[Int(random.next() % UInt64(frame.count))] = UInt8(truncatingIfNeeded: random.next())
            case 2:
                let index = Int(random.next() % UInt64(frame.count + 1))
                let count = 1 + Int(random.next() % 16)
                frame.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: index)
            case 3 where !frame.isEmpty:
                let start = Int(random.next() % UInt64(frame.count))
                let end = min(frame.count, start + 1 + Int(random.next() % 16))
                frame.removeSubrange(start..<end)
            case 4:
                frame = Array(frame.prefix(Int(random.next() % UInt64(frame.count + 1))))
            case 5:
                frame += (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            case 6:
                let offset = interestingOffsets[Int(random.next() % UInt64(interestingOffsets.count))]
                if offset < frame.count {
                    frame[offset] = interestingValues[Int(random.next() % UInt64(interestingValues.count))]
                }
            case 7:
                // Lie about a 16-bit length: IPv4 total length or UDP length.
                let offset = random.next() % 2 == 0 ? 16 : 38
                if offset + 1 < frame.count {
                    put16(&frame, offset, UInt16(truncatingIfNeeded: random.next() % 3 == 0 ? random.next() : random.next() % 128))
                }
            default:
                let length = Int(random.next() % 2001)
                frame = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if length >= 14 && random.next() % 2 == 0 {
                    // Random bytes behind a plausible Ethernet header.
                    frame.replaceSubrange(0..<14, with: ethernetHeader(type: random.next() % 2 == 0 ? 0x0800 : 0x0806))
                }
            }
        }
        if random.next() % 2 == 0 { repairChecksums(&frame, &random) }
        return frame
    }

    func testFuzzReceive() throws {
        let fuzz = FuzzRun("network frames", defaultIterations: 20_000, defaultSeed: 0x5EED)
        var stack = makeStack(arpCacheCapacity: 8, pendingQueueCapacity: 4)
        var transmitter = RecordingTransmitter()
        var transmitted = 0
        var now: UInt64 = 0
        var replies = 0
        let iterations = UInt64(fuzz.run(in: self) { iteration, random in
            let frame = random.next() % 8 == 0
                ? seeds[Int(random.next() % UInt64(seeds.count))]
                : mutate(seeds[Int(random.next() % UInt64(seeds.count))], &random)
            now += random.next() % 50_000_000
            // Now and then the driver has no free buffer.
            transmitter.availableBuffers = random.next() % 50 == 0 ? 0 : Int.max
            deliver(frame, to: &stack, now: now, transmitter: &transmitter)
            if random.next() % 16 == 0 {
                stack.poll(now: now, transmitter: &transmitter)
            }
            if random.next() % 64 == 0 {
                let destination = IPv4Address(rawValue: random.next() % 2 == 0
                    ? 0x0A00_0200 | UInt32(random.next() % 256) : UInt32(truncatingIfNeeded: random.next()))
                let payload = [UInt8](repeating: 0x42, count: Int(random.next() % 1600))
                _ = payload.withUnsafeBytes {
                    stack.sendDatagram(from: 1234, to: destination, port: 7, payload: $0, now: now, transmitter: &transmitter)
                }
            }
            for sent in transmitter.frames {
                if let problem = problemWithTransmittedFrame(sent) {
                    XCTFail("iteration \(iteration): bad frame sent (\(problem)) in answer to \(frame): \(sent)")
                    return
                }
                if be16(sent, 12) == 0x0800 { replies += 1 }
            }
            transmitted += transmitter.frames.count
            transmitter.frames.removeAll(keepingCapacity: true)
            let counters = stack.counters
            if counters.ethernet.framesIn != counters.framesDelivered + counters.receivedFramesDropped
                || counters.ethernet.framesOut != UInt64(transmitted) {
                XCTFail("iteration \(iteration): counters inconsistent after \(frame): \(Array(counters.entries).map { "\($0.name)=\($0.value)" })")
                return
            }
            XCTAssertLessThanOrEqual(stack.pendingPacketCount, 4)
            XCTAssertLessThanOrEqual(stack.arpCache.count, 8)
        })
        guard iterations == UInt64(fuzz.iterations) else { return }   // stopped at a failure, reported above
        XCTAssertEqual(stack.counters.ethernet.framesIn, iterations)
        // The fuzzer must get deep enough to make the stack answer, not only drop.
        XCTAssertGreaterThan(stack.counters.framesDelivered, iterations / 20)
        XCTAssertGreaterThan(replies, Int(iterations / 50))
        for reason: DropReason in [.truncated, .badChecksum, .unknownEtherType, .notForUs, .fragment, .badHeader, .oversized] {
            XCTAssertGreaterThan(stack.counters[drop: reason], 0, "fuzzing never produced \(reason.name)")
        }
        // Let every timer run out: nothing stays queued, no entry outlives its lifetime.
        stack.poll(now: now + 120 * 1_000_000_000, transmitter: &transmitter)
        stack.poll(now: now + 240 * 1_000_000_000, transmitter: &transmitter)
        stack.poll(now: now + 360 * 1_000_000_000, transmitter: &transmitter)
        stack.poll(now: now + 480 * 1_000_000_000, transmitter: &transmitter)
        XCTAssertEqual(stack.pendingPacketCount, 0)
        XCTAssertEqual(stack.arpCache.count, 0)
        XCTAssertEqual(stack.nextTimerDeadline, .max)
    }
}
