/// Tests of link impairment: rates close to the settings, determinism, reordering, delay timing and bounds.
import Network
import XCTest

final class LinkImpairmentTests: XCTestCase {
    /// A frame whose first 4 bytes are `number` (little-endian), padded to `length`.
    private func frame(_ number: UInt32, length: Int = 64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xA5, count: length)
        for index in 0..<4 { bytes[index] = UInt8(truncatingIfNeeded: number >> (8 * UInt32(index))) }
        return bytes
    }

    private func number(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(buffer[$1]) << (8 * UInt32($1)) }
    }

    /// Submits frames 0..<count, one every `spacing` ns, and returns the numbers delivered, in order.
    private func run(_ direction: inout ImpairedLinkDirection, count: Int, spacing: UInt64 = 1000,
                     drainAt: UInt64? = nil) -> [UInt32] {
        var delivered: [UInt32] = []
        for index in 0..<count {
            let bytes = frame(UInt32(index))
            bytes.withUnsafeBytes { buffer in
                direction.submit(buffer, now: UInt64(index) * spacing, deliver: { delivered.append(number($0)) })
            }
        }
        if let drainAt {
            direction.releaseDue(now: drainAt, deliver: { delivered.append(number($0)) })
        }
        return delivered
    }

    func testNoSettingsPassEverythingInOrder() {
        var direction = ImpairedLinkDirection(settings: .none, seed: 1, stream: 0, delaySlots: 4)
        XCTAssertFalse(direction.isActive)
        XCTAssertEqual(run(&direction, count: 100), (0..<100).map { UInt32($0) })
        XCTAssertEqual(direction.impairment.counters.judged, 100)
        XCTAssertEqual(direction.impairment.counters.dropped, 0)
        XCTAssertEqual(direction.delayLine.counters.held, 0)
    }

    func testRatesAreCloseToTheSettings() {
        let settings = LinkImpairmentSettings(dropBasisPoints: 500, duplicateBasisPoints: 200, reorderBasisPoints: 300,
                                              reorderGap: 2)
        var impairment = LinkImpairment(settings: settings, seed: 42)
        let frames = 200_000
        var copies = 0
        for index in 0..<frames { copies += impairment.judge(now: UInt64(index)).copies }
        let counters = impairment.counters
        func rate(_ count: UInt64) -> Double { Double(count) / Double(frames) }
        XCTAssertEqual(counters.judged, UInt64(frames))
        XCTAssertEqual(rate(counters.dropped), 0.05, accuracy: 0.003)
        // Duplicates and reorders are decided for the frames that were not dropped.
        XCTAssertEqual(Double(counters.duplicated) / Double(UInt64(frames) - counters.dropped), 0.02, accuracy: 0.002)
        XCTAssertEqual(Double(counters.reordered) / Double(UInt64(frames) - counters.dropped), 0.03, accuracy: 0.002)
        XCTAssertEqual(counters.delayed, 0)
        XCTAssertEqual(UInt64(copies), UInt64(frames) - counters.dropped + counters.duplicated)
    }

    func testExtremeProbabilities() {
        var never = LinkImpairment(settings: LinkImpairmentSettings(dropBasisPoints: 0, duplicateBasisPoints: 1), seed: 3)
        var always = LinkImpairment(settings: LinkImpairmentSettings(dropBasisPoints: 10_000), seed: 3)
        for index in 0..<10_000 {
            XCTAssertNotEqual(never.judge(now: UInt64(index)).copies, 0)
            XCTAssertEqual(always.judge(now: UInt64(index)), .drop)
        }
        // Out-of-range settings are clamped.
        let clamped = LinkImpairmentSettings(dropBasisPoints: 60_000, reorderGap: 1000, delayMicroseconds: -5)
        XCTAssertEqual(clamped.dropBasisPoints, 10_000)
        XCTAssertEqual(clamped.reorderGap, LinkImpairmentSettings.maximumReorderGap)
        XCTAssertEqual(clamped.delayMicroseconds, 0)
        XCTAssertEqual(LinkImpairmentSettings(reorderGap: 0).reorderGap, 1)
    }

    func testSameSeedSameVerdictsAndStreamsDiffer() {
        let settings = LinkImpairmentSettings(dropBasisPoints: 1000, duplicateBasisPoints: 1000, reorderBasisPoints: 1000,
                                              delayMicroseconds: 50)
        func verdicts(seed: UInt64, stream: UInt64) -> [ImpairmentVerdict] {
            var impairment = LinkImpairment(settings: settings, seed: seed, stream: stream)
            return (0..<2000).map { impairment.judge(now: UInt64($0) * 10) }
        }
        XCTAssertEqual(verdicts(seed: 9, stream: 0), verdicts(seed: 9, stream: 0))
        XCTAssertNotEqual(verdicts(seed: 9, stream: 0), verdicts(seed: 9, stream: 1))
        XCTAssertNotEqual(verdicts(seed: 9, stream: 0), verdicts(seed: 10, stream: 0))
        // And whole runs through the delay line are reproducible.
        var first = ImpairedLinkDirection(settings: settings, seed: 5, stream: 1, delaySlots: 16)
        var second = ImpairedLinkDirection(settings: settings, seed: 5, stream: 1, delaySlots: 16)
        XCTAssertEqual(run(&first, count: 3000, drainAt: .max), run(&second, count: 3000, drainAt: .max))
    }

    func testReorderedFrameComesAfterTheNextGapFrames() {
        let settings = LinkImpairmentSettings(reorderBasisPoints: 10_000, reorderGap: 2)
        var all = ImpairedLinkDirection(settings: settings, seed: 1, stream: 0, delaySlots: 8)
        // With every frame reordered nothing is delivered until the time limit passes.
        XCTAssertEqual(run(&all, count: 5), [])
        XCTAssertEqual(all.delayLine.count, 5)
        var late: [UInt32] = []
        all.releaseDue(now: LinkImpairment.reorderTimeLimit + 4000) { late.append(self.number($0)) }
        XCTAssertEqual(late, [0, 1, 2, 3, 4])

        let some = LinkImpairmentSettings(reorderBasisPoints: 2000, reorderGap: 3)
        var direction = ImpairedLinkDirection(settings: some, seed: 77, stream: 0, delaySlots: 64)
        let delivered = run(&direction, count: 5000, drainAt: .max)
        XCTAssertEqual(delivered.sorted(), (0..<5000).map { UInt32($0) }, "nothing lost or duplicated")
        XCTAssertNotEqual(delivered, delivered.sorted())
        XCTAssertGreaterThan(direction.impairment.counters.reordered, 800)
        // Frames only move later: frame v comes after every earlier frame that was not held,
        // and at most 64 (the slots) are held at once.
        for (position, value) in delivered.enumerated() {
            XCTAssertLessThanOrEqual(Int(value), position + 64, "frame \(value) at \(position)")
        }
        // Exact order for a known pattern: frame 0 reordered (gap 3), the rest not.
        var order: [UInt32] = []
        var line = DelayLine(capacity: 4)
        for index in 0..<6 {
            let bytes = frame(UInt32(index))
            bytes.withUnsafeBytes { buffer in
                if index == 0 {
                    XCTAssertTrue(line.hold(buffer, until: HoldDeadline(earliest: 0, overtakenBy: 3, latest: 1_000_000)))
                } else {
                    line.noteDelivered()
                    order.append(number(buffer))
                }
                line.releaseDue(now: UInt64(index)) { order.append(self.number($0)) }
            }
        }
        XCTAssertEqual(order, [1, 2, 3, 0, 4, 5])
    }

    func testReorderingWorksTogetherWithDelay() {
        // Frame 0 reordered behind 2 frames, everything delayed 100 ns: the overtaking frames
        // leave from the delay line too, and frame 0 follows the second of them.
        var line = DelayLine(capacity: 8)
        var order: [UInt32] = []
        for index in 0..<5 {
            let bytes = frame(UInt32(index))
            let now = UInt64(index)
            let deadline = index == 0 ? HoldDeadline(earliest: now + 100, overtakenBy: 2, latest: 1_000_000)
                                      : HoldDeadline(earliest: now + 100)
            bytes.withUnsafeBytes { XCTAssertTrue(line.hold($0, until: deadline)) }
        }
        for now in UInt64(0)..<200 { line.releaseDue(now: now) { order.append(self.number($0)) } }
        XCTAssertEqual(order, [1, 2, 0, 3, 4])
    }

    func testDelayHoldsFramesForTheSetTimeAndKeepsTheirOrder() {
        let settings = LinkImpairmentSettings(delayMicroseconds: 500)
        var direction = ImpairedLinkDirection(settings: settings, seed: 1, stream: 0, delaySlots: 32)
        var delivered: [(UInt32, UInt64)] = []
        // 20 frames 100 µs apart; the clock advances in 10 µs passes.
        var now: UInt64 = 0
        var next = 0
        while now <= 3_000_000 {
            if next < 20 && now == UInt64(next) * 100_000 {
                let bytes = frame(UInt32(next))
                bytes.withUnsafeBytes { buffer in
                    direction.submit(buffer, now: now) { delivered.append((self.number($0), now)) }
                }
                next += 1
            }
            direction.releaseDue(now: now) { delivered.append((self.number($0), now)) }
            now += 10_000
        }
        XCTAssertEqual(delivered.map(\.0), (0..<20).map { UInt32($0) })
        for (number, time) in delivered {
            XCTAssertEqual(time, UInt64(number) * 100_000 + 500_000, "frame \(number) left exactly when due")
        }
        XCTAssertEqual(direction.impairment.counters.delayed, 20)
        XCTAssertEqual(direction.delayLine.counters.released, 20)
        // Frame 5 is held at 500 µs just before frame 0 leaves.
        XCTAssertEqual(direction.delayLine.counters.highWater, 6)
        XCTAssertEqual(direction.delayLine.count, 0)
    }

    func testAFullDelayLinePassesFramesOnAndCountsThem() {
        let settings = LinkImpairmentSettings(delayMicroseconds: 1000)
        var direction = ImpairedLinkDirection(settings: settings, seed: 1, stream: 0, delaySlots: 4)
        // 10 frames at once: 4 held, 6 passed at once.
        let delivered = run(&direction, count: 10, spacing: 0)
        XCTAssertEqual(delivered, [4, 5, 6, 7, 8, 9])
        XCTAssertEqual(direction.delayLine.counters.passedBecauseFull, 6)
        XCTAssertEqual(direction.delayLine.count, 4)
        var late: [UInt32] = []
        direction.releaseDue(now: 999_999) { late.append(self.number($0)) }
        XCTAssertEqual(late, [])
        direction.releaseDue(now: 1_000_000) { late.append(self.number($0)) }
        XCTAssertEqual(late, [0, 1, 2, 3])
    }

    func testFramesLongerThanASlotPassAndHeldBytesAreExact() {
        var line = DelayLine(capacity: 2, slotSize: 100)
        let long = frame(1, length: 101)
        long.withUnsafeBytes { XCTAssertFalse(line.hold($0, until: HoldDeadline(earliest: 5))) }
        XCTAssertEqual(line.counters.passedBecauseTooLong, 1)
        var big = DelayLine(capacity: 2)
        XCTAssertGreaterThanOrEqual(big.slotSize, 1514 + 12)
        let full = (0..<1514).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        full.withUnsafeBytes { XCTAssertTrue(big.hold($0, until: HoldDeadline(earliest: 5))) }
        var copies: [[UInt8]] = []
        big.releaseDue(now: 4) { copies.append(Array($0)) }
        XCTAssertTrue(copies.isEmpty)
        big.releaseAll { copies.append(Array($0)) }
        XCTAssertEqual(copies, [full])
        // An empty frame is held and released too.
        [UInt8]().withUnsafeBytes { XCTAssertTrue(big.hold($0, until: HoldDeadline(earliest: 0))) }
        big.releaseDue(now: 0) { copies.append(Array($0)) }
        XCTAssertEqual(copies.count, 2)
        XCTAssertEqual(copies[1], [])
    }

    func testDuplicatesAreDeliveredTwiceAndDelayedTogether() {
        let settings = LinkImpairmentSettings(duplicateBasisPoints: 10_000, delayMicroseconds: 10)
        var direction = ImpairedLinkDirection(settings: settings, seed: 1, stream: 0, delaySlots: 8)
        let delivered = run(&direction, count: 3, spacing: 1000, drainAt: 20_000)
        XCTAssertEqual(delivered, [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(direction.impairment.counters.duplicated, 3)
        XCTAssertEqual(direction.delayLine.counters.held, 6)
    }

    func testSeededMixIsConsistent() {
        // Everything at once over many frames: every frame is accounted for.
        let settings = LinkImpairmentSettings(dropBasisPoints: 300, duplicateBasisPoints: 300, reorderBasisPoints: 300,
                                              reorderGap: 4, delayMicroseconds: 20)
        var direction = ImpairedLinkDirection(settings: settings, seed: 2024, stream: 0, delaySlots: 16)
        let delivered = run(&direction, count: 50_000, spacing: 3000, drainAt: .max)
        let impairment = direction.impairment.counters
        let line = direction.delayLine.counters
        XCTAssertEqual(UInt64(delivered.count), impairment.judged - impairment.dropped + impairment.duplicated)
        XCTAssertEqual(line.held, line.released)
        XCTAssertEqual(direction.delayLine.deliveries, UInt64(delivered.count))
        XCTAssertEqual(Set(delivered).count, 50_000 - Int(impairment.dropped))
    }
}
