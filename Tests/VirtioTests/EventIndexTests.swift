/// Tests of VIRTIO_F_EVENT_IDX on the split virtqueue: avail_event and used_event across 16-bit index wrap-around (virtio 1.2 §2.7.7, §2.7.10).
import TestSupport
import Paging
import Virtio
import XCTest

final class EventIndexTests: XCTestCase {
    /// A queue of `size` entries in fresh memory, and the device that serves it.
    func makeQueue(size: UInt16) -> (SplitVirtqueue, SimulatedDevice, QueueMemory) {
        let memory = QueueMemory(byteCount: SplitVirtqueue.byteCount(queueSize: size))
        let queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory.physicalAddress, size: size)
        return (queue, SimulatedDevice(addresses: queue.addresses), memory)
    }

    /// A queue of 8 entries with interrupts suppressed (a polling driver), both ring indices
    /// moved to `index`, then 4 buffers published and taken by the device (returned: none yet).
    func pollingQueue(eventIndex: Bool, at index: UInt16) -> (SplitVirtqueue, SimulatedDevice, QueueMemory, [SeenBuffer]) {
        var (queue, device, memory) = makeQueue(size: 8)
        queue.eventIndexEnabled = eventIndex
        queue.setInterruptsSuppressed(true)
        advance(&queue, device, to: index)
        for _ in 0..<4 { _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true) }
        _ = queue.publish()
        return (queue, device, memory, device.takeAvailable())
    }

    /// Moves both ring indices of an empty queue to `index`, one buffer at a time.
    func advance(_ queue: inout SplitVirtqueue, _ device: SimulatedDevice, to index: UInt16) {
        while device.lastAvailableIndex != index {
            _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
            _ = queue.publish()
            for buffer in device.takeAvailable() { device.complete(id: UInt32(buffer.head), length: 1) }
            device.publishUsed()
            _ = queue.takeUsed()
        }
    }

    /// vring_need_event against the spec's words counted entry by entry, for batches of 0 to
    /// 300 entries starting near 0, near 32768 and just before the wrap at 65536.
    func testMovedPastMatchesTheSpecAcrossWrapAround() {
        var random = SplitMix64(seed: 0xE1D)
        for old: UInt16 in [0, 1, 32767, 32768, 65_000, 65_534, 65_535] {
            for count: UInt16 in 0...300 {
                let new = old &+ count
                let events: [UInt16] = [old &- 1, old, old &+ 1, new &- 1, new, new &+ 1, old &+ count / 2,
                                        UInt16(truncatingIfNeeded: random.next())]
                for event in events {
                    XCTAssertEqual(SplitVirtqueue.movedPast(event: event, new: new, old: old),
                                   SimulatedDevice.placedEntry(at: event, from: old, to: new),
                                   "event \(event), old \(old), new \(new)")
                }
            }
        }
        // The cases that matter at the wrap: 65534 → 0 places entries 65534 and 65535.
        XCTAssertTrue(SplitVirtqueue.movedPast(event: 65_535, new: 0, old: 65_534))
        XCTAssertFalse(SplitVirtqueue.movedPast(event: 0, new: 0, old: 65_534), "entry 0 is not placed yet")
        XCTAssertTrue(SplitVirtqueue.movedPast(event: 0, new: 1, old: 65_535))
        XCTAssertFalse(SplitVirtqueue.movedPast(event: 7, new: 7, old: 7), "nothing published")
    }

    /// The driver's notification decision at the wrap: avail_event names the entry after
    /// which the device wants to hear, even when avail.idx passes 65535 in the same publish.
    func testPublishNotifiesAtAvailableEventAcrossWrap() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        queue.eventIndexEnabled = true
        advance(&queue, device, to: 65_533)
        device.setAvailableEvent(65_535)
        _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true)
        XCTAssertFalse(queue.publish(), "65533 → 65534: entry 65535 not placed")
        _ = queue.add(buffer: PhysicalAddress(0x2000), length: 64, deviceWritable: true)
        _ = queue.add(buffer: PhysicalAddress(0x3000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish(), "65534 → 0 places entry 65535")
        device.setAvailableEvent(1)
        _ = queue.add(buffer: PhysicalAddress(0x4000), length: 64, deviceWritable: true)
        XCTAssertFalse(queue.publish(), "0 → 1 places entry 0 only")
        _ = queue.add(buffer: PhysicalAddress(0x5000), length: 64, deviceWritable: true)
        XCTAssertTrue(queue.publish(), "1 → 2 places entry 1")
        XCTAssertEqual(device.takeAvailable().count, 5, "every buffer published, notified or not")
    }

    /// A device that asks to hear only once it has caught up (QEMU's avail_event) is notified
    /// exactly when it had taken everything published before, over 70,000 buffers in random
    /// batches (avail.idx wraps): and far fewer times than there are publishes.
    func testDeviceThatCaughtUpIsNotifiedAndNoOtherIs() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        queue.eventIndexEnabled = true
        var random = SplitMix64(seed: 0xA7A1)
        var published = 0
        var notified = 0
        var served = 0
        while served < 70_000 {
            var toAdd = Int(random.next() % 4)
            while toAdd > 0, queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true) != nil { toAdd -= 1 }
            let before = device.availableIndex
            let caughtUp = device.lastAvailableIndex == before
            if queue.unpublishedCount > 0 {
                published += 1
                let notifies = queue.publish()
                XCTAssertEqual(notifies, caughtUp, "publish from \(before): device at \(device.lastAvailableIndex)")
                if notifies { notified += 1 }
            }
            // The device takes some (setting avail_event as it goes) and completes them.
            let taken = device.takeAvailable(limit: Int(random.next() % 4))
            device.askForNotificationWhenCaughtUp()
            for buffer in taken { device.complete(id: UInt32(buffer.head), length: 1) }
            served += taken.count
            device.publishUsed()
            while queue.takeUsed() != nil {}
        }
        XCTAssertEqual(device.lastAvailableIndex, UInt16(truncatingIfNeeded: served), "avail.idx wrapped")
        XCTAssertGreaterThan(notified, 0)
        XCTAssertLessThan(notified, published, "some publishes found the device busy and did not notify")
    }

    /// A polling driver (interrupts suppressed) with EVENT_IDX: used_event stays half the index
    /// space ahead of what it took, so the device never interrupts, over 70,000 buffers (both
    /// indices wrap). Parking used_event once would be crossed after 32,768 buffers.
    func testSuppressedQueueIsNeverInterrupted() {
        var (queue, device, memory) = makeQueue(size: 8)
        _ = memory
        queue.setInterruptsSuppressed(true)
        queue.eventIndexEnabled = true
        XCTAssertEqual(device.usedEvent, SplitVirtqueue.parkedUsedEventDistance, "setting the feature parks used_event")
        var random = SplitMix64(seed: 0x9A4C)
        var taken = 0
        var misplaced = 0
        var waiting: [SeenBuffer] = []
        while taken < 70_000 {
            while queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true) != nil {}
            _ = queue.publish()
            waiting += device.takeAvailable()
            let finishing = min(waiting.count, Int(random.next() % 9))
            for buffer in waiting.prefix(finishing) { device.complete(id: UInt32(buffer.head), length: 1) }
            waiting.removeFirst(finishing)
            device.publishUsed()
            device.interruptIfDue(eventIndex: true)
            var budget = Int(random.next() % 6)
            while budget > 0, queue.takeUsed() != nil {
                taken += 1
                budget -= 1
                if device.usedEvent != UInt16(truncatingIfNeeded: taken) &+ SplitVirtqueue.parkedUsedEventDistance { misplaced += 1 }
            }
        }
        XCTAssertEqual(misplaced, 0, "takes after which used_event was not half the index space ahead")
        XCTAssertEqual(device.interruptsRaised, 0)
    }

    /// A driver that wants interrupts (symmetric mode) with EVENT_IDX: used_event is the
    /// used.idx it last saw, so the device interrupts at its next publication after the driver
    /// looked — also when the driver took only part of what it saw — and not again until the
    /// driver looks. Without EVENT_IDX every publication interrupts.
    func testInterruptsWantedFollowWhatTheDriverSaw() {
        for eventIndex in [true, false] {
            var (queue, device, memory) = makeQueue(size: 16)
            _ = memory
            queue.eventIndexEnabled = eventIndex
            queue.setInterruptsSuppressed(false)
            for _ in 0..<16 { _ = queue.add(buffer: PhysicalAddress(0x1000), length: 64, deviceWritable: true) }
            _ = queue.publish()
            let buffers = device.takeAvailable()
            func use(_ range: Range<Int>) -> Bool {
                for buffer in buffers[range] { device.complete(id: UInt32(buffer.head), length: 1) }
                device.publishUsed()
                return device.interruptIfDue(eventIndex: eventIndex)
            }
            XCTAssertTrue(use(0..<3), "the first publication interrupts")
            XCTAssertEqual(use(3..<5), !eventIndex, "the driver has not looked since: no second interrupt with EVENT_IDX")
            XCTAssertNotNil(queue.takeUsed(), "a budget of one frame")
            if eventIndex { XCTAssertEqual(queue.usedEvent, 5, "interrupt me at the entry after what I saw") }
            XCTAssertTrue(use(5..<6), "left work behind: the next publication interrupts")
            var drained = 1
            while queue.takeUsed() != nil { drained += 1 }
            XCTAssertEqual(drained, 6)
            if eventIndex { XCTAssertEqual(queue.usedEvent, 6) }
            XCTAssertTrue(use(6..<7))
            XCTAssertEqual(device.interruptsRaised, eventIndex ? 3 : 4)
        }
    }

    /// Switching interrupts on arms used_event at the device's used.idx (the next publication
    /// interrupts); switching them off parks it again.
    func testEnablingInterruptsArmsUsedEventAtTheDevicesIndex() {
        var (queue, device, memory, buffers) = pollingQueue(eventIndex: true, at: 65_530)
        _ = memory
        device.complete(id: UInt32(buffers[0].head), length: 1)
        device.publishUsed()
        device.signalledUsedIndex = device.storedUsedIndex
        queue.setInterruptsSuppressed(false)
        XCTAssertEqual(queue.usedEvent, 65_531, "armed at the device's used.idx, not the driver's 65530")
        for buffer in buffers.dropFirst() { device.complete(id: UInt32(buffer.head), length: 1) }
        device.publishUsed()
        XCTAssertTrue(device.interruptIfDue(eventIndex: true), "65531 → 65534 places entry 65531")
        while queue.takeUsed() != nil {}
        queue.setInterruptsSuppressed(true)
        XCTAssertEqual(queue.usedEvent, 65_534 &+ SplitVirtqueue.parkedUsedEventDistance)
    }

    /// A polling driver arms an interrupt only for a halt, and only when nothing waits: with
    /// the ring empty the device's next publication interrupts; with a buffer returned but not
    /// taken the answer is false and interrupts stay off (with EVENT_IDX used_event parked
    /// again), so the driver takes the buffer instead of sleeping on it. With and without
    /// EVENT_IDX.
    func testArmingForAHaltRefusesWhenBuffersWait() {
        for eventIndex in [true, false] {
            var (queue, device, memory, buffers) = pollingQueue(eventIndex: eventIndex, at: 65_534)
            _ = memory
            device.signalledUsedIndex = device.storedUsedIndex

            XCTAssertTrue(queue.armInterruptUnlessUsed(), "nothing waits: armed (event index \(eventIndex))")
            XCTAssertFalse(queue.interruptsSuppressed)
            device.complete(id: UInt32(buffers[0].head), length: 1)
            device.publishUsed()
            XCTAssertTrue(device.interruptIfDue(eventIndex: eventIndex), "the first arrival wakes the halted driver")
            queue.setInterruptsSuppressed(true)

            XCTAssertFalse(queue.armInterruptUnlessUsed(), "a returned buffer waits: not armed")
            XCTAssertTrue(queue.interruptsSuppressed)
            if eventIndex { XCTAssertEqual(queue.usedEvent, 65_534 &+ SplitVirtqueue.parkedUsedEventDistance) }
            device.complete(id: UInt32(buffers[1].head), length: 1)
            device.publishUsed()
            XCTAssertFalse(device.interruptIfDue(eventIndex: eventIndex), "still polling: no interrupt")
            XCTAssertNotNil(queue.takeUsed())
            XCTAssertNotNil(queue.takeUsed())
            XCTAssertTrue(queue.armInterruptUnlessUsed(), "drained: armed again")
            XCTAssertEqual(device.interruptsRaised, 1)
        }
    }
}
