/// Tests of the plan: points from sweeps, targets interleaved and rotated, boots grouped, resume and ETA arithmetic.
import ExperimentKit
import XCTest

final class ExperimentPlanTests: XCTestCase {
    private func experiment(_ text: String) throws -> Experiment {
        try ExperimentParser.parse(text, file: "plan.exp")
    }

    /// Three targets, two CPU counts, a load sweeping two parameters and a load needing its own boot.
    private let threeTargets = """
        repetitions = 3
        [machine]
        cpus = 2, 4
        [target a]
        kind = swiglet
        boot = net-mode=dedicated
        [target b]
        kind = swiglet
        boot = net-mode=symmetric
        [target c]
        kind = linux
        [load http]
        kind = http-keepalive
        connections = 16, 256
        rate = 0, 1000
        duration = 10
        warmup = 2
        [load udp]
        kind = udp-echo
        boot = run=udp-echo@1
        window = 1, 32
        duration = 5
        warmup = 1
        """

    func testPointsExpandEverySweep() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        // http: 2 CPU counts × 2 connections × 2 rates; udp: 2 CPU counts × 2 windows (size, rate default).
        XCTAssertEqual(plan.points.count, 8 + 4)
        XCTAssertEqual(plan.points.prefix(4).map(\.key), [
            "http/cpus=2/connections=16/rate=0", "http/cpus=2/connections=16/rate=1000",
            "http/cpus=2/connections=256/rate=0", "http/cpus=2/connections=256/rate=1000",
        ])
        XCTAssertEqual(plan.points[8].key, "udp/cpus=2/size=64/window=1/rate=0")
        XCTAssertEqual(plan.points[8].parameters, [.size: 64, .window: 1, .rate: 0])
        XCTAssertEqual(Set(plan.points.map(\.key)).count, plan.points.count, "keys are unique")
        // points × repetitions × targets
        XCTAssertEqual(plan.runs.count, 12 * 3 * 3)
        XCTAssertEqual(Set(plan.runs.map(\.key)).count, plan.runs.count, "run keys are unique")
    }

    func testTargetOrderRotatesWithTheRepetition() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        XCTAssertEqual(plan.targetOrder(repetition: 1).map(\.name), ["a", "b", "c"])
        XCTAssertEqual(plan.targetOrder(repetition: 2).map(\.name), ["b", "c", "a"])
        XCTAssertEqual(plan.targetOrder(repetition: 3).map(\.name), ["c", "a", "b"])
        XCTAssertEqual(plan.targetOrder(repetition: 4).map(\.name), ["a", "b", "c"])
    }

    /// Within each (point, repetition) every target runs exactly once, in the repetition's order,
    /// and each repetition is over before the next begins.
    func testRunsInterleaveTargets() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        let runs = plan.runs
        for repetition in 1...3 {
            let expected = plan.targetOrder(repetition: repetition).map(\.name)
            for point in plan.points {
                let targets = runs.filter { $0.point == point && $0.repetition == repetition }.map(\.target)
                XCTAssertEqual(targets, expected, "\(point.key) r\(repetition)")
            }
        }
        XCTAssertEqual(runs.map(\.repetition), runs.map(\.repetition).sorted(), "repetitions do not overlap")
    }

    func testSharedBootsGroupPointsByMachineAndBootOptions() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        let first = plan.boots.filter { $0.repetition == 1 }
        // For each CPU count: a (http, udp boot), b (http, udp boot), c (one boot: Linux has no load options).
        XCTAssertEqual(first.map(\.key), [
            "r1/cpus=2/a/http", "r1/cpus=2/a/udp", "r1/cpus=2/b/http", "r1/cpus=2/b/udp", "r1/cpus=2/c/http+udp",
            "r1/cpus=4/a/http", "r1/cpus=4/a/udp", "r1/cpus=4/b/http", "r1/cpus=4/b/udp", "r1/cpus=4/c/http+udp",
        ])
        XCTAssertEqual(first[0].bootOptions, "net-mode=dedicated")
        XCTAssertEqual(first[1].bootOptions, "net-mode=dedicated run=udp-echo@1")
        XCTAssertEqual(first[3].bootOptions, "net-mode=symmetric run=udp-echo@1")
        XCTAssertEqual(first[4].bootOptions, "")
        XCTAssertEqual(first[0].runs.map(\.point.key), plan.points.filter { $0.load == "http" && $0.cpus == 2 }.map(\.key))
        XCTAssertEqual(first[4].runs.count, 6)
        XCTAssertEqual(first[0].fileLabel, "r1-cpus2-a-http")
        XCTAssertEqual(plan.boots.filter { $0.repetition == 2 }.map(\.target).prefix(5), ["b", "b", "c", "a", "a"])
        XCTAssertEqual(plan.boots.count, 30)
    }

    func testPerRunBootsGiveEveryRunItsOwnGuest() throws {
        let plan = ExperimentPlan(try experiment("boots = per-run\nrepetitions = 2\n" + threeTargets.replacingOccurrences(of: "repetitions = 3\n", with: "")))
        XCTAssertEqual(plan.boots.count, plan.runs.count)
        XCTAssertEqual(plan.runs.count, 12 * 2 * 3)
        // A (point, repetition)'s targets run back to back.
        XCTAssertEqual(plan.runs.prefix(6).map(\.key), [
            "http/cpus=2/connections=16/rate=0/r1/a", "http/cpus=2/connections=16/rate=0/r1/b",
            "http/cpus=2/connections=16/rate=0/r1/c", "http/cpus=2/connections=16/rate=1000/r1/a",
            "http/cpus=2/connections=16/rate=1000/r1/b", "http/cpus=2/connections=16/rate=1000/r1/c",
        ])
        let udp = try XCTUnwrap(plan.boots.first { $0.runs[0].point.load == "udp" && $0.target == "b" })
        XCTAssertEqual(udp.bootOptions, "net-mode=symmetric run=udp-echo@1")
        XCTAssertEqual(plan.boots.filter { $0.repetition == 2 }.first?.target, "b")
    }

    func testRunKeys() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        let run = plan.runs[0]
        XCTAssertEqual(run.key, "http/cpus=2/connections=16/rate=0/r1/a")
        XCTAssertEqual(run.fileLabel, "http-cpus2-connections16-rate0-r1-a")
        // The same file gives the same keys: resume relies on it.
        XCTAssertEqual(ExperimentPlan(try experiment(threeTargets)).runs.map(\.key), plan.runs.map(\.key))
    }

    func testResumeArithmetic() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        let all = plan.runs
        XCTAssertEqual(plan.remainingRunCount(completed: []), 108)
        let done = Set(all.prefix(40).map(\.key))
        XCTAssertEqual(plan.remainingRunCount(completed: done), 68)
        XCTAssertEqual(plan.remainingRuns(completed: done).map(\.key), all.dropFirst(40).map(\.key))
        // Keys the plan does not have (an edited file) do not count.
        XCTAssertEqual(plan.remainingRunCount(completed: done.union(["other/cpus=2/r1/a"])), 68)
        XCTAssertEqual(plan.remainingRunCount(completed: Set(all.map(\.key))), 0)
        XCTAssertTrue(plan.remainingBoots(completed: Set(all.map(\.key))).isEmpty)

        // The first boot (4 runs) is done and the second (2 runs) half done: the second is
        // still needed, with its one remaining run.
        let partly = Set(all.prefix(5).map(\.key))
        let boots = plan.remainingBoots(completed: partly)
        XCTAssertEqual(boots.count, plan.boots.count - 1)
        XCTAssertEqual(boots[0].key, "r1/cpus=2/a/udp")
        XCTAssertEqual(boots[0].runs.map(\.key), [all[5].key])
        XCTAssertEqual(boots.reduce(0) { $0 + $1.runs.count }, 103)
    }

    func testEstimatedTime() throws {
        let plan = ExperimentPlan(try experiment(threeTargets))
        let done = Set(plan.runs.prefix(8).map(\.key))
        XCTAssertEqual(plan.estimatedSecondsRemaining(completed: done, meanSecondsPerRun: 15), 100 * 15)
        // 30 boots, the first two (4 + 2 runs) done and the third (b's 4 http runs at cpus 2) half done.
        XCTAssertEqual(plan.remainingBoots(completed: done).count, 28)
        XCTAssertEqual(plan.estimatedSecondsRemaining(completed: done, meanSecondsPerRun: 15, secondsPerBoot: 30), 100 * 15 + 28 * 30)
        // Nominal: http runs take 12 s (2 + 10), udp runs 6 s (1 + 5): 8 + 4 points × 3 targets × 3 repetitions.
        XCTAssertEqual(plan.nominalSecondsRemaining(completed: []), Double(8 * 9 * 12 + 4 * 9 * 6))
        XCTAssertEqual(plan.estimatedSecondsRemaining(completed: Set(plan.runs.map(\.key)), meanSecondsPerRun: 15), 0)
    }

    func testBootOptionsOfATargetWithALoad() {
        let load = Load(name: "u", kind: .udpEcho, swigletBootOptions: "run=udp-echo@1")
        XCTAssertEqual(ExperimentPlan.bootOptions(of: Target(name: "s", kind: .swiglet, bootOptions: "log=debug"), with: load),
                       "log=debug run=udp-echo@1")
        XCTAssertEqual(ExperimentPlan.bootOptions(of: Target(name: "s", kind: .swiglet), with: load), "run=udp-echo@1")
        XCTAssertEqual(ExperimentPlan.bootOptions(of: Target(name: "l", kind: .linux), with: load), "")
    }
}
