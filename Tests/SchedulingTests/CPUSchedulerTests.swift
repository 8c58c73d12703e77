// Host tests of one CPU's round-robin scheduler: fairness between spinners, preemption of a program that never yields, blocking and waking, halting when idle, removal, placement.

import Scheduling
import XCTest

final class CPUSchedulerTests: XCTestCase {
    let millisecond: UInt64 = 1_000_000

    /// Runs the CPU from `start` for `duration` with a timer tick every `tick`: the programs
    /// never yield, so only the timer moves the CPU between them.
    private func spin(_ scheduler: inout CPUScheduler, from start: UInt64, for duration: UInt64, tick: UInt64) -> UInt64 {
        var now = start
        _ = scheduler.pickNext(now: now)
        while now < start + duration {
            now += tick
            _ = scheduler.tick(now: now)
        }
        scheduler.account(now: now)
        return now
    }

    func testTwoSpinnersShareTheCPUEvenly() {
        var scheduler = CPUScheduler(capacity: 8, timeSlice: 10 * millisecond)
        scheduler.add(3)
        scheduler.add(5)
        _ = spin(&scheduler, from: 0, for: 5_000 * millisecond, tick: 1 * millisecond)
        let first = Double(scheduler.account(of: 3).cpuNanoseconds), second = Double(scheduler.account(of: 5).cpuNanoseconds)
        let share = first / (first + second)
        XCTAssertGreaterThanOrEqual(share, 0.45)
        XCTAssertLessThanOrEqual(share, 0.55)
        XCTAssertEqual(first + second, 5_000 * Double(millisecond), "every nanosecond accounted to somebody")
        XCTAssertGreaterThan(scheduler.account(of: 3).preemptions, 200, "taken off the CPU by the timer, not by yielding")
    }

    func testAProgramThatNeverYieldsIsPreemptedAfterItsSlice() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: 10 * millisecond)
        scheduler.add(0)
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        XCTAssertFalse(scheduler.tick(now: 50 * millisecond), "alone on the CPU it keeps it")
        scheduler.add(1)
        XCTAssertTrue(scheduler.tick(now: 55 * millisecond))
        XCTAssertEqual(scheduler.running, 1, "its slice was long over: the newcomer runs at the next tick")
        XCTAssertEqual(scheduler.state(of: 0), .ready)
        XCTAssertFalse(scheduler.tick(now: 60 * millisecond), "the newcomer's slice has just begun")
        XCTAssertTrue(scheduler.tick(now: 65 * millisecond))
        XCTAssertEqual(scheduler.running, 0)
    }

    func testYieldGivesTheCPUToTheNextReadyProgram() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: 10 * millisecond)
        for task in [0, 1, 2] { scheduler.add(task) }
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        XCTAssertEqual(scheduler.yield(now: 1), 1)
        XCTAssertEqual(scheduler.yield(now: 2), 2)
        XCTAssertEqual(scheduler.yield(now: 3), 0, "round robin")
        for task in [1, 2] { scheduler.remove(task, now: 4) }
        XCTAssertEqual(scheduler.yield(now: 5), 0, "alone: yield returns at once")
    }

    func testABlockedProgramCostsNothingUntilWoken() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: 10 * millisecond)
        scheduler.add(0)
        scheduler.add(1)
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        XCTAssertEqual(scheduler.block(now: 2 * millisecond), 1, "the other runs")
        _ = spin(&scheduler, from: 2 * millisecond, for: 1_000 * millisecond, tick: millisecond)
        XCTAssertEqual(scheduler.account(of: 0).cpuNanoseconds, 2 * millisecond, "asleep, it got no CPU")
        XCTAssertEqual(scheduler.state(of: 0), .blocked)
        XCTAssertTrue(scheduler.wake(0))
        XCTAssertFalse(scheduler.wake(0), "already awake")
        XCTAssertEqual(scheduler.account(of: 0).wakeups, 1)
        XCTAssertEqual(scheduler.state(of: 0), .ready)
        XCTAssertTrue(scheduler.tick(now: 1_100 * millisecond))
        XCTAssertEqual(scheduler.running, 0)
    }

    func testWaitTimeoutsAreChargedToTheRunningProgram() {
        var scheduler = CPUScheduler(capacity: 2, timeSlice: millisecond)
        scheduler.waitTimedOut()
        XCTAssertEqual(scheduler.account(of: 0).waitTimeouts, 0, "nothing runs: nobody's")
        scheduler.add(0)
        scheduler.add(1)
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        scheduler.waitTimedOut()
        scheduler.waitTimedOut()
        XCTAssertEqual(scheduler.account(of: 0).waitTimeouts, 2)
        XCTAssertEqual(scheduler.account(of: 1).waitTimeouts, 0)
    }

    func testACPUWithNothingReadyHasNothingToRun() {
        var scheduler = CPUScheduler(capacity: 2, timeSlice: millisecond)
        XCTAssertNil(scheduler.pickNext(now: 0), "halt")
        scheduler.add(1)
        XCTAssertEqual(scheduler.pickNext(now: 0), 1)
        XCTAssertNil(scheduler.block(now: 5), "its only program sleeps: halt")
        scheduler.wake(1)
        XCTAssertEqual(scheduler.pickNext(now: 10), 1)
        XCTAssertEqual(scheduler.account(of: 1).switchesIn, 2)
    }

    func testRemovingAProgramInAnyStateKeepsTheOthersInOrder() {
        var scheduler = CPUScheduler(capacity: 8, timeSlice: millisecond)
        for task in 0..<5 { scheduler.add(task) }
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        scheduler.remove(2, now: 1)                   // ready, mid-queue
        XCTAssertEqual(scheduler.remove(0, now: 3).cpuNanoseconds, 3, "running: its time is counted to the end")
        XCTAssertEqual(scheduler.running, 1, "the next one runs")
        XCTAssertEqual(scheduler.yield(now: 4), 3)
        XCTAssertEqual(scheduler.block(now: 5), 4)
        XCTAssertEqual(scheduler.load, 3, "1 ready, 4 running, 3 blocked")
        scheduler.remove(3, now: 6)                   // blocked
        XCTAssertEqual(scheduler.state(of: 3), .absent)
        XCTAssertFalse(scheduler.wake(3), "a removed program is not woken")
        XCTAssertTrue(scheduler.add(3), "its number can be used again")
        XCTAssertFalse(scheduler.add(4), "a known program is not added twice")
        XCTAssertFalse(scheduler.add(8), "out of range")
    }

    func testNewProgramsGoToTheLeastLoadedCPU() {
        XCTAssertEqual(leastLoadedCPU(loads: [(1, 2), (2, 0), (3, 1)]), 2)
        XCTAssertEqual(leastLoadedCPU(loads: [(3, 1), (1, 1)]), 1, "a tie goes to the lowest number")
        XCTAssertNil(leastLoadedCPU(loads: []))
    }

    /// A tick a little before the slice's end counts within the tolerance; the accounts use
    /// the real time, so a program switched in then and out at once never gets negative time.
    func testToleranceEndsASliceEarlyWithoutSkewingTheAccounts() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: 10_000_000)
        scheduler.add(0)
        scheduler.add(1)
        XCTAssertEqual(scheduler.pickNext(now: 0), 0)
        XCTAssertFalse(scheduler.tick(now: 9_000_000, tolerance: 500_000), "1 ms early is outside 0.5 ms")
        XCTAssertTrue(scheduler.tick(now: 9_600_000, tolerance: 500_000))
        XCTAssertEqual(scheduler.running, 1)
        XCTAssertEqual(scheduler.account(of: 0).cpuNanoseconds, 9_600_000)
        XCTAssertEqual(scheduler.block(now: 9_700_000), 0)
        XCTAssertEqual(scheduler.account(of: 1).cpuNanoseconds, 100_000)
    }
}
