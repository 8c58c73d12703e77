/// The checker of the lab docs/labs/meter-counter: `/metrics` has `swiglet_cpu_yields_total`, the `yield` system calls each CPU took, counted where the kernel takes them.
import Foundation
import XCTest

/// Fails until the lab is solved, so `make test` skips it (`SystemTests.Lab*`); `make lab-check
/// LAB=meter-counter` runs it. It reads only the kernel's own output, `/metrics`: a `yielder`
/// (which calls `yield` in a loop) on cpu2 and a `spinner` (which makes system calls, but never
/// `yield`) on cpu1, beside the network core, which makes no system call at all.
final class LabMeterCounterTests: XCTestCase {
    static let family = "swiglet_cpu_yields_total"
    static let help = " (docs/labs/meter-counter/README.md)"

    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    func testYieldsAreCountedPerCPU() throws {
        try QEMUMachine.withMetrics(cpus: 3, commandLine: "run=spinner@1 run=yielder@2", timeout: 120) { running, port in
            // Each program reports once a second: both run in ring 3 by then.
            try running.waitFor("yields/s", timeout: 60)
            try running.waitFor("iterations/s", timeout: 30)
            let first = try Metrics.fetch(host: "127.0.0.1", port: port).1
            Thread.sleep(forTimeInterval: 2)
            let second = try Metrics.fetch(host: "127.0.0.1", port: port).1
            let family = Self.family

            // A counter family, with one sample per online CPU (the CPUs the meter already lists).
            XCTAssertTrue(second.text.contains("# TYPE \(family) counter"), "no counter family \(family) in /metrics\(Self.help)")
            let cpus = Set(second.values("swiglet_cpu_interrupts_total").keys.compactMap(Self.cpuLabel))
            XCTAssertEqual(cpus, ["0", "1", "2"], "the meter's CPUs: \(second.values("swiglet_cpu_interrupts_total"))")
            let samples = second.values(family)
            XCTAssertEqual(samples.count, cpus.count, "one \(family) sample per CPU, each with a cpu label: \(samples)\(Self.help)")
            XCTAssertEqual(Set(samples.keys.compactMap(Self.cpuLabel)), cpus, "the cpu labels of \(family): \(samples.keys.sorted())")
            guard samples.count == cpus.count else { return }

            func count(_ metrics: Metrics, _ cpu: String) -> Double { metrics.sum(family, matching: ["cpu=\"\(cpu)\""]) }
            // The network core's CPU (dedicated: the context's CPU; symmetric: the one taking its
            // interrupt) runs no program, so it takes no system call.
            let network = second.values("swiglet_network_context_info").keys.compactMap(Self.cpuLabel).first ?? "0"
            XCTAssertEqual(count(second, network), 0, "cpu\(network) (network) runs no program: \(samples)")
            // The yielder's CPU counts many: a yield costs microseconds, so thousands a second.
            XCTAssertGreaterThan(count(second, "2"), 10_000, "cpu2 runs the yielder: \(samples)\(Self.help)")
            XCTAssertGreaterThan(count(second, "2"), 100 * max(count(second, network), 1), "yielder's CPU against the network core's: \(samples)")
            // The spinner makes system calls (clock, write), none of them yield: the family counts
            // yields, not every system call.
            let spinnerCalls = second.sum("swiglet_cpu_system_calls_total", matching: ["cpu=\"1\""])
            XCTAssertGreaterThan(spinnerCalls, 0, "the spinner on cpu1 made system calls: \(second.values("swiglet_cpu_system_calls_total"))")
            XCTAssertEqual(count(second, "1"), 0, "the spinner on cpu1 never yields, yet \(family) counts \(count(second, "1")) there\(Self.help)")
            // A counter that counts: it grows between two scrapes two seconds apart.
            let growth = count(second, "2") - count(first, "2")
            XCTAssertGreaterThan(growth, 1_000, "\(family) on cpu2 grew by \(growth) in 2 s: before \(first.values(family)), after \(samples)")
        }
    }

    /// The value of the `cpu` label in a sample's key (`name{cpu="1",role="program"}`), if any.
    static func cpuLabel(_ key: String) -> String? {
        guard let start = key.range(of: "cpu=\"") else { return nil }
        let rest = key[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}
