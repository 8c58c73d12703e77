// Tests of the RFC 6298 retransmission timer: the estimator's formulas, bounds, backoff and Karn's rule.

import TCP
import XCTest

private let millisecond: UInt64 = 1_000_000
private let second: UInt64 = 1_000_000_000

final class RetransmissionTimerTests: XCTestCase {
    /// Bounds low enough that the formulas, not the 1 s floor, decide the RTO.
    let unclamped = RetransmissionTimerConfiguration(initialTimeout: second, minimumTimeout: millisecond,
                                                     maximumTimeout: 60 * second, clockGranularity: millisecond)

    func testStartsWithOneSecondAndNoEstimate() {
        let timer = RetransmissionTimer()
        XCTAssertEqual(timer.retransmissionTimeout, second, "§2.1")
        XCTAssertNil(timer.smoothedRoundTripTime)
        XCTAssertNil(timer.deadline)
    }

    func testFirstSampleFollowsSection2Point2() {
        var timer = RetransmissionTimer(configuration: unclamped)
        timer.addSample(100 * millisecond)
        XCTAssertEqual(timer.smoothedRoundTripTime, 100 * millisecond, "SRTT <- R")
        XCTAssertEqual(timer.roundTripTimeVariation, 50 * millisecond, "RTTVAR <- R/2")
        XCTAssertEqual(timer.retransmissionTimeout, 300 * millisecond, "RTO <- SRTT + 4 * RTTVAR")
    }

    func testLaterSamplesFollowSection2Point3() {
        var timer = RetransmissionTimer(configuration: unclamped)
        timer.addSample(100 * millisecond)
        timer.addSample(200 * millisecond)
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms (with the old SRTT); SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms.
        XCTAssertEqual(timer.roundTripTimeVariation, 62_500_000)
        XCTAssertEqual(timer.smoothedRoundTripTime, 112_500_000)
        XCTAssertEqual(timer.retransmissionTimeout, 112_500_000 + 4 * 62_500_000)
    }

    func testGranularityFloorsTheVarianceTerm() {
        var timer = RetransmissionTimer(configuration: unclamped)
        timer.addSample(10 * millisecond)
        for _ in 0..<200 { timer.addSample(10 * millisecond) }   // RTTVAR decays towards 0
        XCTAssertLessThan(4 * timer.roundTripTimeVariation, millisecond)
        XCTAssertEqual(timer.retransmissionTimeout, 10 * millisecond + millisecond, "RTO = SRTT + max(G, K*RTTVAR)")
    }

    func testMinimumAndMaximumBounds() {
        var timer = RetransmissionTimer()
        timer.addSample(10 * millisecond)
        XCTAssertEqual(timer.retransmissionTimeout, second, "§2.4: rounded up to 1 s")
        timer.addSample(100 * second)
        XCTAssertEqual(timer.retransmissionTimeout, 60 * second, "§2.5: at most 60 s")
    }

    func testTimerStartsOnceRestartsAndStops() {
        var timer = RetransmissionTimer()
        timer.startIfStopped(now: 5 * second)
        timer.startIfStopped(now: 5 * second + 500 * millisecond)
        XCTAssertEqual(timer.deadline, 6 * second, "§5.1: a running timer is not restarted by more sends")
        XCTAssertFalse(timer.hasExpired(now: 6 * second - 1))
        XCTAssertTrue(timer.hasExpired(now: 6 * second))
        timer.restart(now: 5 * second + 800 * millisecond)
        XCTAssertEqual(timer.deadline, 6 * second + 800 * millisecond, "§5.3")
        timer.stop()
        XCTAssertNil(timer.deadline, "§5.2")
        XCTAssertFalse(timer.hasExpired(now: 100 * second))
    }

    func testExponentialBackoffUpToTheMaximum() {
        var timer = RetransmissionTimer()
        timer.startIfStopped(now: 0)
        var expected: [UInt64] = []
        var observed: [UInt64] = []
        var now: UInt64 = 0
        for _ in 0..<8 {
            now = timer.deadline!
            timer.backOff(now: now)
            observed.append(timer.retransmissionTimeout)
            expected.append(min(60 * second, observed.count == 1 ? 2 * second : expected.last! * 2))
        }
        XCTAssertEqual(observed, [2, 4, 8, 16, 32, 60, 60, 60].map { $0 * second })
        XCTAssertEqual(observed, expected)
        XCTAssertEqual(timer.deadline, now + 60 * second, "§5.6: restarted with the doubled RTO")
        XCTAssertEqual(timer.backoffCount, 8)
        timer.addSample(100 * millisecond)
        XCTAssertEqual(timer.retransmissionTimeout, second, "a valid sample recomputes the RTO")
        XCTAssertEqual(timer.backoffCount, 0)
    }

    func testMeasurementTakesASampleWhenTheTimedSegmentIsAcknowledged() {
        var timer = RetransmissionTimer(configuration: unclamped)
        timer.beginMeasurement(endingAt: SequenceNumber(1100), now: 1 * second)
        timer.beginMeasurement(endingAt: SequenceNumber(1200), now: 1 * second + 10 * millisecond)  // ignored: one at a time
        XCTAssertNil(timer.acknowledge(upTo: SequenceNumber(1099), now: 1 * second + 40 * millisecond), "not yet covered")
        XCTAssertEqual(timer.acknowledge(upTo: SequenceNumber(1100), now: 1 * second + 50 * millisecond), 50 * millisecond)
        XCTAssertEqual(timer.smoothedRoundTripTime, 50 * millisecond)
        XCTAssertFalse(timer.isMeasuring)
    }

    func testKarnsRuleDiscardsTheSampleOfARetransmittedSegment() {
        var timer = RetransmissionTimer(configuration: unclamped)
        timer.startIfStopped(now: 0)
        timer.beginMeasurement(endingAt: SequenceNumber(0xFFFF_FFF0) + 0x20, now: 0)  // across the wrap
        timer.backOff(now: second)   // the segment is retransmitted
        XCTAssertNil(timer.acknowledge(upTo: SequenceNumber(0x10), now: second + 10 * millisecond))
        XCTAssertNil(timer.smoothedRoundTripTime, "the ambiguous ACK gave no sample")
        XCTAssertEqual(timer.retransmissionTimeout, 2 * second, "the backed-off RTO is kept (Karn)")
    }

    func testSynchronizationTimeoutRaisesTheRTOToThreeSeconds() {
        var timer = RetransmissionTimer()
        timer.synchronizationTimedOut()
        XCTAssertEqual(timer.retransmissionTimeout, 3 * second, "§5.7")
    }
}
