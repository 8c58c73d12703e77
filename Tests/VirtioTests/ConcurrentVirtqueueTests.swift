/// The split virtqueue with the simulated device on another thread: real concurrency, so the
/// release/acquire pairs on avail.idx and used.idx are what keeps the data consistent.
import Foundation
import Synchronization
import Virtio
import XCTest

/// The device thread's stop request and result.
final class DeviceThreadState: Sendable {
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let buffersServed = Atomic<Int>(0)
}

final class ConcurrentVirtqueueTests: XCTestCase {
    func testDeviceOnAnotherThreadLosesAndDuplicatesNothing() {
        let size: UInt16 = 16
        let memory = QueueMemory(byteCount: SplitVirtqueue.byteCount(queueSize: size))
        var queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory.physicalAddress, size: size)
        queue.setInterruptsSuppressed(true)
        let device = SimulatedDevice(addresses: queue.addresses)
        let state = DeviceThreadState()

        // The device: takes what is published, completes each batch in reverse order (out of
        // order) with a length derived from the descriptor, publishes used.idx.
        let thread = Thread {
            while !state.stop.load(ordering: .relaxed) {
                let batch = device.takeAvailable()
                if batch.isEmpty { continue }
                for buffer in batch.reversed() {
                    let descriptor = buffer.chain[0]
                    device.complete(id: UInt32(buffer.head), length: UInt32(truncatingIfNeeded: descriptor.address >> 12) &* 3)
                }
                device.publishUsed()
                state.buffersServed.add(batch.count, ordering: .relaxed)
            }
            state.finished.store(true, ordering: .releasing)
        }
        thread.start()

        let total: UInt64 = 1_000_000
        var outstanding = [UInt64](repeating: 0, count: Int(size))   // descriptor id → token (0: none)
        var seen = [Bool](repeating: false, count: Int(total) + 1)
        var returnedCount = 0
        var nextToken: UInt64 = 1
        var failures = 0
        let deadline = Date().addingTimeInterval(120)
        while returnedCount < Int(total) && Date() < deadline && failures == 0 {
            while nextToken <= total, let id = queue.add(buffer: nextToken << 12, length: 2048, deviceWritable: true) {
                if outstanding[Int(id)] != 0 { failures += 1 }
                outstanding[Int(id)] = nextToken
                nextToken += 1
            }
            _ = queue.publish()
            while let used = queue.takeUsed() {
                let token = outstanding[Int(used.id)]
                outstanding[Int(used.id)] = 0
                if token == 0 || seen[Int(token)] || used.length != UInt32(truncatingIfNeeded: token) &* 3 {
                    failures += 1
                    XCTFail("bad used element id \(used.id) token \(token) length \(used.length)")
                    break
                }
                seen[Int(token)] = true
                returnedCount += 1
            }
        }
        state.stop.store(true, ordering: .relaxed)
        while !state.finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }

        XCTAssertEqual(failures, 0)
        XCTAssertEqual(returnedCount, Int(total), "every buffer came back (timed out otherwise)")
        XCTAssertEqual(seen.dropFirst().filter { !$0 }.count, 0)
        XCTAssertEqual(state.buffersServed.load(ordering: .relaxed), Int(total))
        XCTAssertEqual(queue.freeDescriptorCount, Int(size))
        XCTAssertEqual(queue.invalidUsedElementCount, 0)
        XCTAssertEqual(device.availableFlags, AvailableRing.Flags.noInterrupt.rawValue)
        _ = memory
    }
}
