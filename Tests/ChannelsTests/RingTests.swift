/// The single-producer single-consumer ring on one thread: order, wrap-around, full and empty, hostile indices.

import Channels
import Synchronization
import TestSupport
import XCTest

final class RingTests: XCTestCase {
    func makeRing<Element>(_ type: Element.Type, capacity: UInt32, startingIndex: UInt32 = 0)
        -> (PageAlignedMemory, SingleProducerSingleConsumerRing<Element>) {
        let memory = PageAlignedMemory(byteCount: SingleProducerSingleConsumerRing<Element>.byteCount(capacity: Int(capacity)))
        let ring = SingleProducerSingleConsumerRing<Element>(memory: memory.base, capacity: capacity)
        ring.initialize(startingIndex: startingIndex)
        return (memory, ring)
    }

    func testLayoutPutsHeadTailAndSlotsOnSeparateCacheLines() {
        XCTAssertEqual(SingleProducerSingleConsumerRing<UInt64>.headOffset, 0)
        XCTAssertEqual(SingleProducerSingleConsumerRing<UInt64>.tailOffset, 64)
        XCTAssertEqual(SingleProducerSingleConsumerRing<UInt64>.slotsOffset, 128)
        XCTAssertEqual(SingleProducerSingleConsumerRing<UInt32>.slotStride, 8)
        XCTAssertEqual(SingleProducerSingleConsumerRing<ChannelRequest>.slotStride, 32)
        XCTAssertEqual(SingleProducerSingleConsumerRing<ChannelRequest>.byteCount(capacity: 4), 128 + 4 * 32)
    }

    func testElementsComeOutInOrderAndIndicesAreStoredInSharedMemory() {
        let (memory, ring) = makeRing(UInt64.self, capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        XCTAssertNil(consumer.tryPop())
        for value: UInt64 in 1...5 { XCTAssertTrue(producer.tryPush(value * 11)) }
        XCTAssertEqual(memory.base.load(fromByteOffset: 64, as: UInt32.self), 5, "tail published")
        XCTAssertEqual(memory.base.load(fromByteOffset: 128 + 2 * 8, as: UInt64.self), 33, "slot 2")
        for value: UInt64 in 1...5 { XCTAssertEqual(consumer.tryPop(), value * 11) }
        XCTAssertNil(consumer.tryPop())
        XCTAssertEqual(memory.base.load(fromByteOffset: 0, as: UInt32.self), 5, "head published")
        withExtendedLifetime(memory) {}
    }

    func testFullRingRefusesUntilTheConsumerFreesASlot() {
        let (memory, ring) = makeRing(UInt32.self, capacity: 4)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for value: UInt32 in 0..<4 { XCTAssertTrue(producer.tryPush(value)) }
        XCTAssertFalse(producer.tryPush(99))
        XCTAssertEqual(producer.freeSlotCount(), 0)
        XCTAssertEqual(consumer.tryPop(), 0)
        XCTAssertEqual(producer.freeSlotCount(), 1)
        XCTAssertTrue(producer.tryPush(4))
        XCTAssertFalse(producer.tryPush(5))
        XCTAssertEqual([consumer.tryPop(), consumer.tryPop(), consumer.tryPop(), consumer.tryPop()], [1, 2, 3, 4])
        XCTAssertNil(consumer.tryPop())
        XCTAssertNil(producer.violation)
        XCTAssertNil(consumer.violation)
        withExtendedLifetime(memory) {}
    }

    func testIndicesWrapPastUInt32Max() {
        let start = UInt32.max - 5
        let (memory, ring) = makeRing(UInt64.self, capacity: 8, startingIndex: start)
        var producer = ring.makeProducer(startingIndex: start)
        var consumer = ring.makeConsumer(startingIndex: start)
        var next: UInt64 = 0
        var expected: UInt64 = 0
        // 100 rounds of 3 in, 3 out, with the ring kept 5 deep: crosses 2^32 early on.
        for _ in 0..<5 { XCTAssertTrue(producer.tryPush(next)); next += 1 }
        for _ in 0..<100 {
            for _ in 0..<3 { XCTAssertTrue(producer.tryPush(next)); next += 1 }
            XCTAssertFalse(producer.tryPush(999), "8 in flight: full")
            for _ in 0..<3 { XCTAssertEqual(consumer.tryPop(), expected); expected += 1 }
        }
        XCTAssertEqual(consumer.availableCount(), 5)
        XCTAssertEqual(producer.nextIndex, start &+ 305)
        XCTAssertEqual(memory.base.load(fromByteOffset: 64, as: UInt32.self), start &+ 305)
        XCTAssertLessThan(producer.nextIndex, start, "the index wrapped")
        XCTAssertNil(consumer.violation)
        withExtendedLifetime(memory) {}
    }

    func testHostileTailIsCaughtAndNoSlotOutsideTheRingIsRead() {
        // The ring is exactly at the end of its pages: a read past the last slot would fault.
        let (memory, ring) = makeRing(UInt64.self, capacity: 4)
        var consumer = ring.makeConsumer()
        // The "producer" claims 1000 elements in a ring of 4.
        memory.base.storeBytes(of: 1000, toByteOffset: 64, as: UInt32.self)
        XCTAssertNil(consumer.tryPop())
        XCTAssertEqual(consumer.violation, .tailOutOfRange(head: 0, tail: 1000))
        // Sticky: even a now-plausible tail is not believed.
        memory.base.storeBytes(of: 1, toByteOffset: 64, as: UInt32.self)
        XCTAssertNil(consumer.tryPop())
        XCTAssertEqual(consumer.availableCount(), 0)
        withExtendedLifetime(memory) {}
    }

    func testTailMovingBackwardsIsAViolation() {
        let (memory, ring) = makeRing(UInt64.self, capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for value: UInt64 in 0..<4 { XCTAssertTrue(producer.tryPush(value)) }
        XCTAssertEqual(consumer.tryPop(), 0)
        XCTAssertEqual(consumer.tryPop(), 1)
        XCTAssertEqual(consumer.tryPop(), 2)
        XCTAssertEqual(consumer.tryPop(), 3)
        memory.base.storeBytes(of: 1, toByteOffset: 64, as: UInt32.self)   // tail behind head
        XCTAssertNil(consumer.tryPop())
        XCTAssertEqual(consumer.violation, .tailOutOfRange(head: 4, tail: 1))
        withExtendedLifetime(memory) {}
    }

    func testHostileHeadIsCaught() {
        let (memory, ring) = makeRing(UInt64.self, capacity: 4)
        var producer = ring.makeProducer()
        for value: UInt64 in 0..<4 { XCTAssertTrue(producer.tryPush(value)) }
        // The "consumer" claims to have taken 7 elements of the 4 that exist.
        memory.base.storeBytes(of: 7, toByteOffset: 0, as: UInt32.self)
        XCTAssertFalse(producer.tryPush(4))
        XCTAssertEqual(producer.violation, .headOutOfRange(head: 7, tail: 4))
        XCTAssertEqual(producer.freeSlotCount(), 0)
        withExtendedLifetime(memory) {}
    }

    func testScribbledOwnIndexIsIgnored() {
        // Each side keeps its own index privately: a write to the shared copy of the
        // producer's tail does not change where the producer writes next.
        let (memory, ring) = makeRing(UInt64.self, capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        XCTAssertTrue(producer.tryPush(10))
        memory.base.storeBytes(of: 6, toByteOffset: 64, as: UInt32.self)   // scribble the tail
        memory.base.storeBytes(of: 5, toByteOffset: 0, as: UInt32.self)    // and the head
        XCTAssertTrue(producer.tryPush(11))
        XCTAssertEqual(memory.base.load(fromByteOffset: 64, as: UInt32.self), 2)
        XCTAssertEqual(consumer.tryPop(), 10)
        XCTAssertEqual(consumer.tryPop(), 11)
        XCTAssertEqual(memory.base.load(fromByteOffset: 0, as: UInt32.self), 2)
        withExtendedLifetime(memory) {}
    }

    func testSixtyFourByteElementsRoundTrip() {
        struct Wide: BitwiseCopyable, Equatable {
            var a: UInt64, b: UInt64, c: UInt64, d: UInt64, e: UInt64, f: UInt64, g: UInt64, h: UInt64
        }
        let (memory, ring) = makeRing(Wide.self, capacity: 2)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for round: UInt64 in 0..<5 {
            let value = Wide(a: round, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: ~round)
            XCTAssertTrue(producer.tryPush(value))
            XCTAssertEqual(consumer.tryPop(), value)
        }
        withExtendedLifetime(memory) {}
    }
}
