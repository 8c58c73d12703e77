/// The split virtqueue with the simulated device on another thread: real concurrency, so the
/// release/acquire pairs on avail.idx and used.idx are what keeps the data consistent.
import Foundation
import Synchronization
import TestSupport
import Paging
import Virtio
import XCTest

/// The device thread's stop request and result.
final class DeviceThreadState: Sendable {
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let buffersServed = Atomic<Int>(0)
    /// Interrupts the device raised (EVENT_IDX test). Incremented with release after used.idx
    /// is stored, loaded with acquire by the waiting driver.
    let interrupts = Atomic<Int>(0)
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
            while nextToken <= total, let id = queue.add(buffer: PhysicalAddress(nextToken << 12), length: 2048, deviceWritable: true) {
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

    /// EVENT_IDX with interrupts wanted, as in symmetric mode: the driver drains the used ring,
    /// gives the buffers back and then waits for an interrupt, which the device thread raises
    /// only when used_event says so. A lost interrupt (used_event wrong, or read before the
    /// driver's store reached memory while the driver read a stale used.idx) leaves the driver
    /// waiting while the device has decided about buffers the driver has not taken: counted
    /// after a 200 ms wait (a device thread merely descheduled has not decided yet), and must
    /// never happen. (Whether the store→load race itself shows up depends on timing: a run
    /// without the fence in `takeUsed` passed three times on a loaded 2-core host.)
    func testEventIndexInterruptsAreNeverLost() {
        let size: UInt16 = 16
        let memory = QueueMemory(byteCount: SplitVirtqueue.byteCount(queueSize: size))
        var queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory.physicalAddress, size: size)
        queue.eventIndexEnabled = true
        queue.setInterruptsSuppressed(false)
        let device = SimulatedDevice(addresses: queue.addresses)
        let state = DeviceThreadState()

        // The device: completes what is published, in small batches, and interrupts when due.
        let thread = Thread {
            var random = SplitMix64(seed: 0x1DE)
            while !state.stop.load(ordering: .relaxed) {
                let batch = device.takeAvailable(limit: Int(random.next() % 4) + 1)
                if batch.isEmpty { continue }
                for buffer in batch { device.complete(id: UInt32(buffer.head), length: 1) }
                device.publishUsed()
                // RELEASE: the driver's acquiring load of the count sees the used.idx store.
                if device.interruptIfDue(eventIndex: true) { state.interrupts.add(1, ordering: .releasing) }
                // RELEASE: a driver that sees this count also sees the interrupt raised for it.
                state.buffersServed.add(batch.count, ordering: .releasing)
            }
            state.finished.store(true, ordering: .releasing)
        }
        thread.start()

        let total = 200_000
        var returned = 0
        var seenInterrupts = 0
        var lost = 0
        while queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true) != nil {}
        _ = queue.publish()
        let deadline = Date().addingTimeInterval(120)
        while returned < total && Date() < deadline && lost < 5 {
            while queue.takeUsed() != nil {
                returned += 1
                _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
            }
            _ = queue.publish()
            // Sleep until the device interrupts (the ring always has buffers in flight).
            let wakeBy = Date().addingTimeInterval(0.2)
            while state.interrupts.load(ordering: .acquiring) == seenInterrupts && Date() < wakeBy {}
            let decided = state.buffersServed.load(ordering: .acquiring)
            let raised = state.interrupts.load(ordering: .acquiring)
            if raised == seenInterrupts && decided > returned { lost += 1 }
            seenInterrupts = raised
        }
        state.stop.store(true, ordering: .relaxed)
        while !state.finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }

        XCTAssertEqual(lost, 0, "waits that ended with buffers used but no interrupt")
        XCTAssertGreaterThanOrEqual(returned, total, "timed out")
        XCTAssertEqual(queue.invalidUsedElementCount, 0)
        _ = memory
    }
}
