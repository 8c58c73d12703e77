/// Tests of the split virtqueue's driver side against a simulated device in the same thread.
import TestSupport
import Paging
import Virtio
import XCTest

final class SplitVirtqueueTests: XCTestCase {
    /// A queue of `size` entries in fresh memory, and the device that serves it.
    func makeQueue(size: UInt16) -> (SplitVirtqueue, SimulatedDevice, QueueMemory) {
        let memory = QueueMemory(byteCount: SplitVirtqueue.byteCount(queueSize: size))
        let queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory.physicalAddress, size: size)
        return (queue, SimulatedDevice(addresses: queue.addresses), memory)
    }

    func testLayout() {
        // 256 entries: 4096 B of descriptors, 518 B available, 2054 B used, 512 B bookkeeping.
        let layout = SplitVirtqueueLayout(queueSize: 256)
        XCTAssertEqual(layout.availableRingOffset, 4096)
        XCTAssertEqual(layout.usedRingOffset, 8192)
        XCTAssertEqual(layout.bookkeepingOffset, 12288)
        XCTAssertEqual(layout.byteCount, 16384)
        // 1024 entries: 16 KiB of descriptors, 2054 B available, 8198 B used (3 pages).
        let large = SplitVirtqueueLayout(queueSize: 1024)
        XCTAssertEqual(large.availableRingOffset, 16384)
        XCTAssertEqual(large.usedRingOffset, 20480)
        XCTAssertEqual(large.bookkeepingOffset, 32768)
        XCTAssertEqual(SplitVirtqueue.byteCount(queueSize: 1024), 36864)
        XCTAssertEqual(AvailableRing.byteCount(queueSize: 256), 518)
        XCTAssertEqual(UsedRing.byteCount(queueSize: 256), 2054)
        XCTAssertEqual(AvailableRing.usedEventOffset(queueSize: 8), 20)
        XCTAssertEqual(UsedRing.availableEventOffset(queueSize: 8), 68)

        let (queue, _, memory) = makeQueue(size: 256)
        XCTAssertEqual(queue.addresses.descriptorTable, memory.physicalAddress)
        XCTAssertEqual(queue.addresses.driverArea, memory.physicalAddress + 4096)
        XCTAssertEqual(queue.addresses.deviceArea, memory.physicalAddress + 8192)
        XCTAssertEqual(queue.addresses.size, 256)
        XCTAssertEqual(queue.freeDescriptorCount, 256)
        // The garbage-filled memory was zeroed: the device sees empty rings.
        XCTAssertEqual(memory.pointer.load(fromByteOffset: 4096 + 2, as: UInt16.self), 0)
        XCTAssertEqual(memory.pointer.load(fromByteOffset: 8192 + 2, as: UInt16.self), 0)
        XCTAssertEqual(memory.pointer.load(fromByteOffset: 8192, as: UInt16.self), 0)
    }

    func testAddPublishTakeKeepsOrderAndLengths() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        let a = queue.add(buffer: PhysicalAddress(0x1000), length: 1514, deviceWritable: true)!
        let b = queue.add(buffer: PhysicalAddress(0x2000), length: 60, deviceWritable: false)!
        let c = queue.add(buffer: PhysicalAddress(0x3000), length: 2048, deviceWritable: true)!
        XCTAssertEqual(Set([a, b, c]).count, 3)
        XCTAssertEqual(queue.freeDescriptorCount, 1)
        XCTAssertEqual(queue.unpublishedCount, 3)
        // Nothing is visible before publish.
        XCTAssertEqual(device.takeAvailable(), [])
        XCTAssertTrue(queue.publish())
        XCTAssertEqual(queue.unpublishedCount, 0)
        XCTAssertFalse(queue.publish(), "nothing new: no notification")

        let seen = device.takeAvailable()
        XCTAssertEqual(seen, [
            SeenBuffer(head: a, chain: [SeenDescriptor(address: 0x1000, length: 1514, flags: 2, next: 0)]),
            SeenBuffer(head: b, chain: [SeenDescriptor(address: 0x2000, length: 60, flags: 0, next: 0)]),
            SeenBuffer(head: c, chain: [SeenDescriptor(address: 0x3000, length: 2048, flags: 2, next: 0)]),
        ])
        XCTAssertNil(queue.takeUsed(), "nothing used yet")
        // The device completes out of order; the driver takes them in used-ring order.
        device.complete(id: UInt32(c), length: 100)
        device.complete(id: UInt32(a), length: 1514)
        XCTAssertNil(queue.takeUsed(), "used.idx not yet published")
        device.publishUsed()
        XCTAssertTrue(queue.hasUsed)
        XCTAssertTrue(queue.takeUsed()! == (id: c, length: 100))
        XCTAssertTrue(queue.takeUsed()! == (id: a, length: 1514))
        XCTAssertNil(queue.takeUsed())
        XCTAssertEqual(queue.freeDescriptorCount, 3)
        device.complete(id: UInt32(b), length: 0)
        device.publishUsed()
        XCTAssertTrue(queue.takeUsed()! == (id: b, length: 0))
        XCTAssertEqual(queue.freeDescriptorCount, 4)
        XCTAssertEqual(queue.invalidUsedElementCount, 0)
    }

    /// After a device reset the queue starts over in the same memory: every descriptor free,
    /// rings zeroed (a new device sees avail.idx 0), same addresses and settings, and it works.
    func testEmptiedQueueStartsOverInTheSameMemory() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        queue.eventIndexEnabled = true
        queue.setInterruptsSuppressed(true)
        for index in 0..<3 { _ = queue.add(buffer: PhysicalAddress(0x1000 * UInt64(index + 1)), length: 64, deviceWritable: true) }
        XCTAssertTrue(queue.publish())
        XCTAssertEqual(device.takeAvailable().count, 3)
        device.complete(id: 0, length: 64)
        device.publishUsed()

        var fresh = queue.emptied()
        XCTAssertEqual(fresh.addresses, queue.addresses)
        XCTAssertEqual(fresh.freeDescriptorCount, 4)
        XCTAssertTrue(fresh.eventIndexEnabled)
        XCTAssertTrue(fresh.interruptsSuppressed)
        XCTAssertNil(fresh.takeUsed(), "the old used element is gone with the old rings")
        let newDevice = SimulatedDevice(addresses: fresh.addresses)
        XCTAssertEqual(newDevice.availableIndex, 0)
        XCTAssertEqual(newDevice.storedUsedIndex, 0)
        let id = fresh.add(buffer: PhysicalAddress(0x9000), length: 128, deviceWritable: true)!
        _ = fresh.publish()
        XCTAssertEqual(newDevice.takeAvailable(), [SeenBuffer(head: id, chain: [SeenDescriptor(address: 0x9000, length: 128, flags: 2, next: 0)])])
        newDevice.complete(id: UInt32(id), length: 100)
        newDevice.publishUsed()
        XCTAssertTrue(fresh.takeUsed()! == (id: id, length: 100))
    }

    /// The injected fault makes one entry available that names descriptor 0xFFFF, beyond any
    /// queue: a device must refuse it.
    func testInjectedFaultMakesAnOutOfRangeHeadAvailable() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
        _ = queue.publish()
        XCTAssertEqual(device.takeAvailable().count, 1)
        queue.injectIndexFault()
        XCTAssertEqual(device.availableIndex &- device.lastAvailableIndex, 1)
        let slot = Int(device.lastAvailableIndex) & 3
        let head = UInt16(littleEndian: device.availableRing.load(fromByteOffset: AvailableRing.entryOffset(slot), as: UInt16.self))
        XCTAssertEqual(head, 0xFFFF)
    }

    func testFullQueue() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        var ids: [UInt16] = []
        for index in 0..<4 { ids.append(queue.add(buffer: PhysicalAddress(UInt64(index) * 0x1000), length: 64, deviceWritable: true)!) }
        XCTAssertEqual(Set(ids), [0, 1, 2, 3])
        XCTAssertNil(queue.add(buffer: PhysicalAddress(0x9000), length: 64, deviceWritable: true))
        XCTAssertNil(queue.add(VirtqueueSegment(physicalAddress: PhysicalAddress(0x9000), length: 12, deviceWritable: false),
                               VirtqueueSegment(physicalAddress: PhysicalAddress(0xA000), length: 60, deviceWritable: false)))
        XCTAssertEqual(queue.freeDescriptorCount, 0)
        _ = queue.publish()
        XCTAssertEqual(device.takeAvailable().count, 4)
        device.complete(id: UInt32(ids[2]), length: 1)
        device.publishUsed()
        XCTAssertEqual(queue.takeUsed()?.id, ids[2])
        XCTAssertEqual(queue.add(buffer: PhysicalAddress(0x9000), length: 64, deviceWritable: true), ids[2], "the freed descriptor is reused")
        XCTAssertNil(queue.add(buffer: PhysicalAddress(0xA000), length: 64, deviceWritable: true))
    }

    func testTwoDescriptorChain() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        let head = queue.add(VirtqueueSegment(physicalAddress: PhysicalAddress(0x5000), length: 12, deviceWritable: true),
                             VirtqueueSegment(physicalAddress: PhysicalAddress(0x6000), length: 1514, deviceWritable: true))!
        XCTAssertEqual(queue.freeDescriptorCount, 2)
        _ = queue.publish()
        let seen = device.takeAvailable()
        XCTAssertEqual(seen.count, 1)
        XCTAssertEqual(seen[0].head, head)
        XCTAssertEqual(seen[0].chain.count, 2)
        XCTAssertEqual(seen[0].chain[0].flags, 3, "NEXT | WRITE")
        XCTAssertEqual(seen[0].chain[0].address, 0x5000)
        XCTAssertEqual(seen[0].chain[1], SeenDescriptor(address: 0x6000, length: 1514, flags: 2, next: 0))
        let readable = queue.add(VirtqueueSegment(physicalAddress: PhysicalAddress(0x7000), length: 12, deviceWritable: false),
                                 VirtqueueSegment(physicalAddress: PhysicalAddress(0x8000), length: 60, deviceWritable: false))!
        XCTAssertEqual(queue.freeDescriptorCount, 0)
        _ = queue.publish()
        XCTAssertEqual(device.takeAvailable()[0].chain.map(\.flags), [1, 0])
        device.complete(id: UInt32(head), length: 1526)
        device.complete(id: UInt32(readable), length: 0)
        device.publishUsed()
        XCTAssertTrue(queue.takeUsed()! == (id: head, length: 1526))
        XCTAssertEqual(queue.freeDescriptorCount, 2)
        XCTAssertTrue(queue.takeUsed()! == (id: readable, length: 0))
        XCTAssertEqual(queue.freeDescriptorCount, 4)
        // All four descriptors can be handed out again, each once.
        var again: Set<UInt16> = []
        while let id = queue.add(buffer: PhysicalAddress(0), length: 1, deviceWritable: false) { again.insert(id) }
        XCTAssertEqual(again, [0, 1, 2, 3])
    }

    func testNoNotifyIsHonoured() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish())
        device.setNoNotify(true)
        _ = queue.add(buffer: PhysicalAddress(0x2000), length: 64, deviceWritable: true)
        XCTAssertFalse(queue.publish(), "VIRTQ_USED_F_NO_NOTIFY set")
        XCTAssertEqual(device.takeAvailable().count, 2, "published even without a notification")
        device.setNoNotify(false)
        _ = queue.add(buffer: PhysicalAddress(0x3000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish())
    }

    func testEventIndexNotification() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        queue.eventIndexEnabled = true
        device.setNoNotify(true)   // ignored with EVENT_IDX
        device.setAvailableEvent(2)  // "notify me when avail.idx passes 2"
        _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
        _ = queue.add(buffer: PhysicalAddress(0x2000), length: 64, deviceWritable: true)
        XCTAssertFalse(queue.publish(), "0 → 2 does not pass index 2")
        _ = queue.add(buffer: PhysicalAddress(0x3000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish(), "2 → 3 passes index 2")
        _ = queue.add(buffer: PhysicalAddress(0x4000), length: 64, deviceWritable: true)
        XCTAssertFalse(queue.publish(), "3 → 4: the device did not move avail_event")
        device.setAvailableEvent(4)
        _ = queue.add(buffer: PhysicalAddress(0x5000), length: 64, deviceWritable: true)
        _ = queue.add(buffer: PhysicalAddress(0x6000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish(), "4 → 6 passes index 4")
        // With interrupts wanted, used_event follows what the driver has taken.
        let seen = device.takeAvailable()
        device.complete(id: UInt32(seen[0].head), length: 1)
        device.publishUsed()
        _ = queue.takeUsed()
        XCTAssertEqual(device.usedEvent, 1)
    }

    func testInterruptSuppressionFlag() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        XCTAssertEqual(device.availableFlags, 0)
        queue.setInterruptsSuppressed(true)
        XCTAssertTrue(queue.interruptsSuppressed)
        XCTAssertEqual(device.availableFlags, AvailableRing.Flags.noInterrupt.rawValue)
        queue.setInterruptsSuppressed(false)
        XCTAssertEqual(device.availableFlags, 0)
    }

    func testInvalidUsedElementsAreSkipped() {
        var (queue, device, memory) = makeQueue(size: 4)
        _ = memory
        let id = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)!
        _ = queue.publish()
        _ = device.takeAvailable()
        device.complete(id: 99, length: 1)                  // out of range
        device.complete(id: UInt32((id + 1) % 4), length: 1) // never given to the device
        device.complete(id: UInt32(id), length: 7)
        device.complete(id: UInt32(id), length: 7)          // returned twice
        device.publishUsed()
        XCTAssertTrue(queue.takeUsed()! == (id: id, length: 7))
        XCTAssertNil(queue.takeUsed())
        XCTAssertEqual(queue.invalidUsedElementCount, 3)
        XCTAssertEqual(queue.freeDescriptorCount, 4)
    }

    /// More than 65536 buffers through an 8-entry queue, in random batches, completed in
    /// random order: both 16-bit indices wrap; every buffer comes back once with its length.
    func testIndicesWrapAroundAndEveryBufferReturnsOnce() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        var random = SplitMix64(seed: 0x5EED)
        var outstanding: [UInt16: UInt64] = [:]       // descriptor id → buffer token
        var completedByDevice: [SeenBuffer] = []
        var returned = Set<UInt64>()
        var nextToken: UInt64 = 1
        let total: UInt64 = 70_000
        var rounds = 0
        while returned.count < Int(total) {
            rounds += 1
            guard rounds < 1_000_000 else {
                XCTFail("stalled after \(returned.count) buffers")
                return
            }
            // The driver adds a random number of buffers, while any are free.
            var toAdd = Int(random.next() % 9)
            while toAdd > 0 && nextToken <= total {
                guard let id = queue.add(buffer: PhysicalAddress(nextToken << 12), length: UInt32(truncatingIfNeeded: nextToken % 4000 + 1),
                                         deviceWritable: nextToken % 2 == 0) else { break }
                XCTAssertNil(outstanding[id], "descriptor \(id) handed out twice")
                outstanding[id] = nextToken
                nextToken += 1
                toAdd -= 1
            }
            _ = queue.publish()
            // The device takes some, and completes a random subset in random order.
            completedByDevice += device.takeAvailable(limit: Int(random.next() % 9))
            completedByDevice.shuffle(using: &random)
            let finishing = min(completedByDevice.count, Int(random.next() % 9))
            for buffer in completedByDevice.prefix(finishing) {
                let descriptor = buffer.chain[0]
                XCTAssertEqual(descriptor.flags & 2 != 0, (descriptor.address >> 12) % 2 == 0)
                // The device reports a length derived from the buffer, to check it arrives intact.
                device.complete(id: UInt32(buffer.head), length: descriptor.length ^ 0x5A5A)
            }
            completedByDevice.removeFirst(finishing)
            device.publishUsed()
            while let used = queue.takeUsed() {
                guard let token = outstanding.removeValue(forKey: used.id) else {
                    XCTFail("descriptor \(used.id) returned but not outstanding")
                    return
                }
                XCTAssertEqual(used.length, UInt32(token % 4000 + 1) ^ 0x5A5A)
                XCTAssertTrue(returned.insert(token).inserted, "buffer \(token) returned twice")
            }
        }
        XCTAssertEqual(returned.count, Int(total))
        XCTAssertEqual(queue.freeDescriptorCount, 8)
        XCTAssertEqual(queue.invalidUsedElementCount, 0)
        XCTAssertEqual(device.availableIndex, UInt16(truncatingIfNeeded: total), "avail.idx wrapped past 65535")
        XCTAssertEqual(device.storedUsedIndex, UInt16(truncatingIfNeeded: total), "used.idx wrapped past 65535")
    }
}
