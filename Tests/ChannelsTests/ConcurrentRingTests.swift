/// The ring with producer and consumer on two real threads: nothing lost, duplicated or reordered.

import Channels
import Foundation
import Synchronization
import TestSupport
import XCTest

/// The producer thread's completion flag.
final class ProducerThreadState: Sendable {
    let finished = Atomic<Bool>(false)
    let pushFailures = Atomic<Int>(0)
}

final class ConcurrentRingTests: XCTestCase {
    func testTwoMillionElementsAcrossThreadsArriveInOrder() {
        let capacity: UInt32 = 64
        // Start near the top so that the indices wrap during the run.
        let start = UInt32.max - 1000
        let memory = PageAlignedMemory(byteCount: SingleProducerSingleConsumerRing<UInt64>.byteCount(capacity: Int(capacity)))
        let ring = SingleProducerSingleConsumerRing<UInt64>(memory: memory.base, capacity: capacity)
        ring.initialize(startingIndex: start)
        let total: UInt64 = 2_000_000
        let state = ProducerThreadState()
        nonisolated(unsafe) let producerRing = ring
        let thread = Thread {
            var producer = producerRing.makeProducer(startingIndex: start)
            var value: UInt64 = 1
            while value <= total {
                // A value and its complement in one element would tear visibly; the value's
                // square is a cheap stand-in that the consumer recomputes.
                if producer.tryPush(value &* 0x9E37_79B9_7F4A_7C15) {
                    value += 1
                } else {
                    state.pushFailures.add(1, ordering: .relaxed)
                }
            }
            state.finished.store(true, ordering: .releasing)
        }
        thread.start()

        var consumer = ring.makeConsumer(startingIndex: start)
        var expected: UInt64 = 1
        var mismatches = 0
        let deadline = Date().addingTimeInterval(120)
        while expected <= total && Date() < deadline {
            guard let element = consumer.tryPop() else { continue }
            if element != expected &* 0x9E37_79B9_7F4A_7C15 {
                mismatches += 1
                if mismatches < 5 { XCTFail("element \(expected) arrived as \(element)") }
            }
            expected += 1
        }
        while !state.finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
        XCTAssertEqual(expected, total + 1, "every element arrived (timed out otherwise)")
        XCTAssertEqual(mismatches, 0)
        XCTAssertNil(consumer.tryPop(), "nothing extra")
        XCTAssertNil(consumer.violation)
        XCTAssertEqual(consumer.nextIndex, start &+ UInt32(total))
        withExtendedLifetime(memory) {}
    }
}
