/// The consumer-asleep word: where it lies, one kick per sleep, and no lost wake-up between two real threads.

import Channels
import Foundation
import Synchronization
import TestSupport
import XCTest

/// What the two threads of the wake-up test share besides the ring.
final class SleepRaceState: Sendable {
    /// The sleep number the producer last kicked (the stand-in for the `kick` system call).
    let kickedSleep = Atomic<UInt32>(0)
    let finished = Atomic<Bool>(false)
}

final class ConsumerSleepTests: XCTestCase {
    func makeRing(capacity: UInt32) -> (PageAlignedMemory, SingleProducerSingleConsumerRing<UInt64>) {
        let memory = PageAlignedMemory(byteCount: SingleProducerSingleConsumerRing<UInt64>.byteCount(capacity: Int(capacity)))
        let ring = SingleProducerSingleConsumerRing<UInt64>(memory: memory.base, capacity: capacity)
        ring.initialize()
        return (memory, ring)
    }

    func testTheWordSitsBesideHeadAndStartsAwake() {
        XCTAssertEqual(SingleProducerSingleConsumerRing<UInt64>.consumerSleepOffset, 4, "cache line 0, the consumer's")
        let (memory, ring) = makeRing(capacity: 8)
        XCTAssertEqual(memory.base.load(fromByteOffset: 4, as: UInt32.self), 0)
        ring.makeConsumer().announceSleep(0x1234)
        XCTAssertEqual(memory.base.load(fromByteOffset: 4, as: UInt32.self), 0x1234)
        XCTAssertEqual(memory.base.load(fromByteOffset: 0, as: UInt32.self), 0, "head untouched")
        withExtendedLifetime(memory) {}
    }

    func testTheProducerKicksOncePerSleepWhileItsElementsWait() {
        let (memory, ring) = makeRing(capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var watch = ConsumerSleepWatch(ring: ring)
        consumer.announceSleep(1)
        XCTAssertFalse(watch.consumerNeedsKick(), "asleep, but nothing of ours waits")
        XCTAssertTrue(producer.tryPush(5))
        consumer.announceSleep(0)
        XCTAssertFalse(watch.consumerNeedsKick(), "awake")
        consumer.announceSleep(2)
        XCTAssertTrue(watch.consumerNeedsKick())
        XCTAssertFalse(watch.consumerNeedsKick(), "sleep 2 was kicked already")
        consumer.announceSleep(3)
        XCTAssertTrue(watch.consumerNeedsKick(), "a new sleep, the element still waiting")
        XCTAssertEqual(consumer.tryPop(), 5)
        consumer.announceSleep(4)
        XCTAssertFalse(watch.consumerNeedsKick(), "everything taken: no kick owed")
        withExtendedLifetime(memory) {}
    }

    func testThePeekSeesRequestsNotTakenAndChangesNothing() {
        let (memory, ring) = makeRing(capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        XCTAssertFalse(consumer.producerPublishedUnseen())
        XCTAssertTrue(producer.tryPush(7))
        XCTAssertTrue(consumer.producerPublishedUnseen())
        XCTAssertTrue(consumer.producerPublishedUnseen(), "a peek takes nothing")
        XCTAssertEqual(consumer.tryPop(), 7)
        XCTAssertFalse(consumer.producerPublishedUnseen())
        // A hostile tail is only a reason to stay awake; the pop that follows rejects it.
        memory.base.storeBytes(of: UInt32(1000), toByteOffset: 64, as: UInt32.self)
        XCTAssertTrue(consumer.producerPublishedUnseen())
        XCTAssertNil(consumer.tryPop())
        XCTAssertNotNil(consumer.violation)
        withExtendedLifetime(memory) {}
    }

    /// Producer and consumer on two threads, each element pushed while the consumer may be
    /// going to sleep: either the consumer's look after announcing finds it, or the producer's
    /// look after pushing finds the sleep and kicks. A sleep neither ends is a lost wake-up,
    /// seen here as a consumer that waited 200 ms for a kick that never came.
    func testNoWakeUpIsLostBetweenTwoThreads() {
        let (memory, ring) = makeRing(capacity: 4)
        let total: UInt64 = 20_000
        let state = SleepRaceState()
        nonisolated(unsafe) let producerRing = ring
        let thread = Thread {
            var producer = producerRing.makeProducer()
            var watch = ConsumerSleepWatch(ring: producerRing)
            var value: UInt64 = 1
            while value <= total {
                // One element at a time, pushed once the last was taken: each push can race
                // with the consumer going to sleep.
                if producer.freeSlotCount() < Int(producerRing.capacity) { continue }
                _ = producer.tryPush(value)
                value += 1
                if watch.consumerNeedsKick() {
                    let sleep = producerRing.memory.load(fromByteOffset: SingleProducerSingleConsumerRing<UInt64>.consumerSleepOffset, as: UInt32.self)
                    state.kickedSleep.store(max(sleep, 1), ordering: .releasing)
                }
            }
            state.finished.store(true, ordering: .releasing)
        }
        thread.start()

        var consumer = ring.makeConsumer()
        var expected: UInt64 = 1
        var sleeps: UInt32 = 0, kicked = 0, lost = 0
        let deadline = Date().addingTimeInterval(120)
        while expected <= total && Date() < deadline {
            if let element = consumer.tryPop() {
                XCTAssertEqual(element, expected)
                expected += 1
                continue
            }
            sleeps &+= 1
            if sleeps == 0 { sleeps = 1 }
            consumer.announceSleep(sleeps)
            fenceAfterAnnouncingSleep()
            if consumer.producerPublishedUnseen() {
                consumer.announceSleep(0)
                continue
            }
            // "Halted": until a kick for this sleep (or any later number, as the producer read
            // the word), or 200 ms.
            let sleptAt = Date()
            while state.kickedSleep.load(ordering: .acquiring) < sleeps {
                if Date().timeIntervalSince(sleptAt) > 0.2 { lost += 1; break }
            }
            if state.kickedSleep.load(ordering: .acquiring) >= sleeps { kicked += 1 }
            consumer.announceSleep(0)
        }
        while !state.finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
        XCTAssertEqual(expected, total + 1, "every element arrived")
        XCTAssertEqual(lost, 0, "sleeps that no kick ended (\(kicked) kicked)")
        XCTAssertGreaterThan(kicked, 0, "no element ever found the consumer asleep: the race was not run")
        withExtendedLifetime(memory) {}
    }
}
