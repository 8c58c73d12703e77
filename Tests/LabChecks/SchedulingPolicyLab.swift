/// The checker of docs/labs/scheduling-policy: under `SchedulingPolicy.fairShare` spinners share a CPU in proportion to their weights, a program that slept or just arrived gets its share and no more, and round robin stays the default.
import Scheduling
import XCTest

final class SchedulingPolicyLab: XCTestCase {
    static let millisecond: UInt64 = 1_000_000
    static let slice = 10 * millisecond

    /// Runs the CPU from `start` for `duration`, the timer ticking every millisecond: the
    /// programs never yield, so only the timer moves the CPU between them. Returns the end.
    @discardableResult
    static func spin(_ scheduler: inout CPUScheduler, from start: UInt64, for duration: UInt64) -> UInt64 {
        var now = start
        _ = scheduler.pickNext(now: now)
        while now < start + duration {
            now += millisecond
            _ = scheduler.tick(now: now)
        }
        scheduler.account(now: now)
        return now
    }

    /// Each task's CPU time as a fraction of all of theirs.
    static func shares(_ scheduler: CPUScheduler, _ tasks: [Int]) -> [Double] {
        let times = tasks.map { Double(scheduler.account(of: $0).cpuNanoseconds) }
        let total = times.reduce(0, +)
        return times.map { total > 0 ? $0 / total : 0 }
    }

    /// Spinners' shares follow their weights: weight w of a total W gets w / W of the CPU.
    func testSpinnersShareTheCPUInProportionToTheirWeights() {
        for weights in [[1, 2, 1], [1, 3], [4, 1, 1, 1, 1]] as [[UInt32]] {
            var scheduler = CPUScheduler(capacity: 8, timeSlice: Self.slice, policy: .fairShare)
            for (task, weight) in weights.enumerated() { XCTAssertTrue(scheduler.add(task, weight: weight)) }
            let duration = 8_000 * Self.millisecond
            Self.spin(&scheduler, from: 0, for: duration)
            let tasks = Array(weights.indices)
            let total = tasks.reduce(UInt64(0)) { $0 + scheduler.account(of: $1).cpuNanoseconds }
            XCTAssertEqual(total, duration, "weights \(weights): every nanosecond accounted to somebody")
            let shares = Self.shares(scheduler, tasks)
            let weightSum = Double(weights.reduce(0, +))
            for task in tasks {
                let expected = Double(weights[task]) / weightSum
                XCTAssertEqual(shares[task], expected, accuracy: 0.03,
                               "weights \(weights): task \(task) of weight \(weights[task]) got \(shares) of the CPU")
            }
        }
    }

    /// With equal weights the policy is as fair as round robin.
    func testEqualWeightsShareEvenly() {
        var scheduler = CPUScheduler(capacity: 8, timeSlice: Self.slice, policy: .fairShare)
        for task in [2, 5, 7] { scheduler.add(task) }
        Self.spin(&scheduler, from: 0, for: 3_000 * Self.millisecond)
        for share in Self.shares(scheduler, [2, 5, 7]) { XCTAssertEqual(share, 1.0 / 3, accuracy: 0.03) }
    }

    /// A program that slept while others ran has used little CPU; on waking it must get its
    /// share from then on, not the whole CPU until its total catches up with theirs.
    func testAProgramWokenAfterALongSleepDoesNotMonopoliseTheCPU() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: Self.slice, policy: .fairShare)
        for task in 0..<3 { scheduler.add(task) }
        guard let sleeper = scheduler.pickNext(now: 0) else { return XCTFail("nothing runs") }
        XCTAssertNotNil(scheduler.block(now: 0), "the first to run sleeps at once; another runs")
        let now = Self.spin(&scheduler, from: 0, for: 1_000 * Self.millisecond)
        XCTAssertEqual(scheduler.account(of: sleeper).cpuNanoseconds, 0, "asleep, it got no CPU")
        XCTAssertTrue(scheduler.wake(sleeper))
        let before = (0..<3).map { scheduler.account(of: $0).cpuNanoseconds }
        Self.spin(&scheduler, from: now, for: 300 * Self.millisecond)
        let gained = (0..<3).map { scheduler.account(of: $0).cpuNanoseconds - before[$0] }
        XCTAssertLessThanOrEqual(gained[sleeper], 150 * Self.millisecond, "the sleeper (\(sleeper)) took more than its share: \(gained) ns")
        XCTAssertGreaterThanOrEqual(gained[sleeper], 60 * Self.millisecond, "the sleeper (\(sleeper)) did not get its share: \(gained) ns")
    }

    /// A program added to a busy CPU gets its share from then on, likewise.
    func testANewcomerDoesNotMonopoliseTheCPU() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: Self.slice, policy: .fairShare)
        scheduler.add(0)
        scheduler.add(1)
        let now = Self.spin(&scheduler, from: 0, for: 1_000 * Self.millisecond)
        XCTAssertTrue(scheduler.add(2))
        let before = (0..<3).map { scheduler.account(of: $0).cpuNanoseconds }
        Self.spin(&scheduler, from: now, for: 300 * Self.millisecond)
        let gained = (0..<3).map { scheduler.account(of: $0).cpuNanoseconds - before[$0] }
        XCTAssertLessThanOrEqual(gained[2], 150 * Self.millisecond, "the newcomer took more than its share: \(gained) ns")
        XCTAssertGreaterThanOrEqual(gained[2], 60 * Self.millisecond, "the newcomer did not get its share: \(gained) ns")
    }

    /// Yield, block, wake and remove keep their meaning under the new policy.
    func testYieldBlockWakeAndRemoveKeepTheirMeaning() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: Self.slice, policy: .fairShare)
        XCTAssertNil(scheduler.pickNext(now: 0), "nothing to run: halt")
        XCTAssertFalse(scheduler.add(0, weight: 0), "a weight of 0 is refused")
        XCTAssertEqual(scheduler.state(of: 0), .absent)
        scheduler.add(0)
        scheduler.add(1, weight: 3)
        guard let first = scheduler.pickNext(now: 0) else { return XCTFail("nothing runs") }
        let other = 1 - first
        XCTAssertEqual(scheduler.yield(now: Self.millisecond), other, "yield hands the CPU to the other ready program")
        XCTAssertEqual(scheduler.block(now: 2 * Self.millisecond), first, "the other blocks: the first runs again")
        XCTAssertEqual(scheduler.state(of: other), .blocked)
        XCTAssertEqual(scheduler.block(now: 3 * Self.millisecond), nil, "both asleep: halt")
        XCTAssertTrue(scheduler.wake(other))
        XCTAssertFalse(scheduler.wake(other), "already awake")
        XCTAssertEqual(scheduler.pickNext(now: 4 * Self.millisecond), other)
        XCTAssertEqual(scheduler.load, 2)
        scheduler.remove(other, now: 5 * Self.millisecond)
        XCTAssertNil(scheduler.running, "the running program was removed and the other sleeps")
        XCTAssertTrue(scheduler.wake(first))
        XCTAssertEqual(scheduler.pickNext(now: 6 * Self.millisecond), first)
        XCTAssertEqual(scheduler.account(of: first).cpuNanoseconds + scheduler.account(of: other).cpuNanoseconds,
                       4 * Self.millisecond, "1 + 1 ms for the first, 1 + 1 ms for the other: sleep is not CPU time")
    }

    /// Round robin is still what a scheduler made without a policy does, and it ignores weights.
    func testRoundRobinStaysTheDefaultAndIgnoresWeights() {
        var scheduler = CPUScheduler(capacity: 4, timeSlice: Self.slice)
        XCTAssertEqual(scheduler.policy, .roundRobin)
        scheduler.add(0, weight: 1)
        scheduler.add(1, weight: 3)
        Self.spin(&scheduler, from: 0, for: 2_000 * Self.millisecond)
        for share in Self.shares(scheduler, [0, 1]) { XCTAssertEqual(share, 0.5, accuracy: 0.03) }
    }
}
