/// Tests of LinuxCPUStat: /proc/stat snapshots and the per-CPU shares between two of them.
import ExperimentKit
import XCTest

final class LinuxCPUStatTests: XCTestCase {
    /// The Linux guest's /proc/stat as `GET /proc/stat` served it (2 CPUs, shortly after boot;
    /// the `intr` line cut after its first numbers).
    private let booted = """
        cpu  27 0 570 316 0 0 50 0 0 0
        cpu0 16 0 366 85 0 0 23 0 0 0
        cpu1 11 0 203 230 0 0 27 0 0 0
        intr 2776 132 9 0 0 7 0 0 0 1 0 0 0 3 0 0 0 0 0 0 0 0 0 0 0 0 4 6 0 0 0
        ctxt 1856
        btime 1796474406
        processes 139
        procs_running 1
        procs_blocked 0
        softirq 3153 0 1170 1 8 3 0 21 1091 0 859

        """

    func testParsesTheGuestsText() throws {
        let stat = try LinuxCPUStat(parsing: booted)
        XCTAssertEqual(stat.total, LinuxCPUTimes(user: 27, system: 570, idle: 316, softirq: 50))
        XCTAssertEqual(stat.cpus.keys.sorted(), [0, 1])
        XCTAssertEqual(stat.cpus[0], LinuxCPUTimes(user: 16, system: 366, idle: 85, softirq: 23))
        XCTAssertEqual(stat.cpus[1], LinuxCPUTimes(user: 11, system: 203, idle: 230, softirq: 27))
        XCTAssertEqual(stat.interrupts, 2776, "the first number of intr, not the softirq line's")
    }

    /// Worked example: 10 s at USER_HZ 100 is 1000 ticks per CPU.
    /// cpu0: user 300 + nice 100 = 0.4, system 200 = 0.2, irq 50 + softirq 150 = 0.2,
    ///       idle 150 + iowait 50 = 0.2, steal 0.
    /// cpu1: user 100 = 0.1, system 100 = 0.1, softirq 0, idle 790 = 0.79, steal 10 = 0.01.
    /// intr: 25,000 more in 10 s = 2,500/s. Guest time (counted in user already) adds nothing.
    func testSharesBetweenTwoSnapshots() throws {
        let before = try LinuxCPUStat(parsing: """
            cpu  1000 100 2000 3000 10 20 30 5 0 0
            cpu0 600 100 1000 1000 10 20 30 0 0 0
            cpu1 400 0 1000 2000 0 0 0 5 0 0
            intr 100000 1 2 3

            """)
        let after = try LinuxCPUStat(parsing: """
            cpu  1400 200 2300 3940 60 70 180 15 77 0
            cpu0 900 200 1200 1150 60 70 180 0 77 0
            cpu1 500 0 1100 2790 0 0 0 15 0 0
            intr 125000 9 9 9

            """)
        let usage = try LinuxCPUUsage(from: before, to: after, seconds: 10)
        XCTAssertEqual(usage.seconds, 10)
        let cpu0 = try XCTUnwrap(usage.cpus[0])
        XCTAssertEqual(cpu0.user, 0.4, accuracy: 1e-12)
        XCTAssertEqual(cpu0.system, 0.2, accuracy: 1e-12)
        XCTAssertEqual(cpu0.irq, 0.2, accuracy: 1e-12)
        XCTAssertEqual(cpu0.idle, 0.2, accuracy: 1e-12)
        XCTAssertEqual(cpu0.steal, 0, accuracy: 1e-12)
        XCTAssertEqual(cpu0.accounted, 1, accuracy: 1e-12)
        let cpu1 = try XCTUnwrap(usage.cpus[1])
        XCTAssertEqual(cpu1.user, 0.1, accuracy: 1e-12)
        XCTAssertEqual(cpu1.system, 0.1, accuracy: 1e-12)
        XCTAssertEqual(cpu1.irq, 0, accuracy: 1e-12)
        XCTAssertEqual(cpu1.idle, 0.79, accuracy: 1e-12)
        XCTAssertEqual(cpu1.steal, 0.01, accuracy: 1e-12)
        // The cpu line over 2 CPUs: (500 + 0) / 2000 ticks of user+nice, and so on.
        XCTAssertEqual(usage.average.user, 0.25, accuracy: 1e-12)
        XCTAssertEqual(usage.average.system, 0.15, accuracy: 1e-12)
        XCTAssertEqual(usage.average.irq, 0.1, accuracy: 1e-12)
        XCTAssertEqual(usage.average.idle, 0.495, accuracy: 1e-12)
        XCTAssertEqual(usage.average.steal, 0.005, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(usage.interruptsPerSecond), 2500, accuracy: 1e-9)
    }

    /// The shares are over the wall time given, not normalised: a wall time twice the ticks'
    /// halves them, and `accounted` shows it. Another USER_HZ scales the ticks.
    func testSharesFollowTheWallTimeAndUserHZ() throws {
        let before = try LinuxCPUStat(parsing: "cpu 0 0 0 0\ncpu0 0 0 0 0\n")
        let after = try LinuxCPUStat(parsing: "cpu 50 0 0 50\ncpu0 50 0 0 50\n")
        let matching = try LinuxCPUUsage(from: before, to: after, seconds: 1)
        XCTAssertEqual(matching.cpus[0]?.user, 0.5)
        XCTAssertEqual(matching.cpus[0]?.accounted, 1)
        let longer = try LinuxCPUUsage(from: before, to: after, seconds: 2)
        XCTAssertEqual(longer.cpus[0]?.user, 0.25)
        XCTAssertEqual(longer.cpus[0]?.accounted, 0.5)
        let fasterTicks = try LinuxCPUUsage(from: before, to: after, seconds: 1, userHZ: 250)
        XCTAssertEqual(fasterTicks.cpus[0]?.user, 0.2)
        XCTAssertNil(matching.interruptsPerSecond, "no intr line, no rate")
        XCTAssertEqual(LinuxCPUStat.userHZ, 100)
    }

    /// The guest's own snapshots around 8.2 s of HTTP keep-alive load (wrk, 16 connections) on
    /// 2 vCPUs under TCG on a busy host: its ticks covered only part of the wall time, which
    /// `accounted` shows and `normalized` divides out.
    /// cpu0: user 21, system 138, idle 112, softirq 243 ticks: 514 of 821.7.
    /// cpu1: user 42, system 274, idle 133, softirq 145 ticks: 594.
    func testGuestSnapshotsUnderLoadLoseTicks() throws {
        let before = try LinuxCPUStat(parsing: """
            cpu  27 0 792 965 0 0 47 0 0 0
            cpu0 11 0 337 576 0 0 22 0 0 0
            cpu1 16 0 456 388 0 0 24 0 0 0
            intr 3821 238 9

            """)
        let after = try LinuxCPUStat(parsing: """
            cpu  90 0 1206 1209 0 0 434 0 0 0
            cpu0 32 0 475 688 0 0 265 0 0 0
            cpu1 58 0 730 521 0 0 169 0 0 0
            intr 14326 238 9

            """)
        let usage = try LinuxCPUUsage(from: before, to: after, seconds: 8.217)
        let cpu0 = try XCTUnwrap(usage.cpus[0])
        XCTAssertEqual(cpu0.accounted, 514 / 821.7, accuracy: 1e-9)
        XCTAssertEqual(cpu0.irq, 243 / 821.7, accuracy: 1e-9)
        XCTAssertEqual(cpu0.normalized.irq, 243.0 / 514, accuracy: 1e-9)
        XCTAssertEqual(cpu0.normalized.user, 21.0 / 514, accuracy: 1e-9)
        XCTAssertEqual(cpu0.normalized.accounted, 1, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(usage.cpus[1]).accounted, 594 / 821.7, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(usage.interruptsPerSecond), 10505 / 8.217, accuracy: 1e-9)
        let idle = LinuxCPUShares(user: 0, system: 0, irq: 0, idle: 0, steal: 0)
        XCTAssertEqual(idle.normalized, idle, "no ticks: nothing to divide")
    }

    /// Kernels before 2.6.33 list fewer counters (at least user, nice, system, idle).
    func testOlderKernelsWithFewerCounters() throws {
        let stat = try LinuxCPUStat(parsing: "cpu 1 2 3 4\ncpu0 1 2 3 4 5 6 7\n")
        XCTAssertEqual(stat.total, LinuxCPUTimes(user: 1, nice: 2, system: 3, idle: 4))
        XCTAssertEqual(stat.cpus[0], LinuxCPUTimes(user: 1, nice: 2, system: 3, idle: 4, iowait: 5, irq: 6, softirq: 7))
    }

    func testMetricsNames() throws {
        let before = try LinuxCPUStat(parsing: "cpu 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\nintr 0\n")
        let after = try LinuxCPUStat(parsing: "cpu 20 0 40 120 0 10 10 0\ncpu0 10 0 20 60 0 5 5 0\ncpu1 10 0 20 60 0 5 5 0\nintr 300\n")
        let metrics = try LinuxCPUUsage(from: before, to: after, seconds: 1).metrics
        XCTAssertEqual(metrics.keys.sorted(), [
            "idle_share_cpu0", "idle_share_cpu1", "interrupts_per_second", "irq_share_cpu0", "irq_share_cpu1",
            "steal_share_cpu0", "steal_share_cpu1", "system_share_cpu0", "system_share_cpu1",
            "user_share_cpu0", "user_share_cpu1",
        ])
        XCTAssertEqual(metrics["user_share_cpu0"], 0.1)
        XCTAssertEqual(metrics["system_share_cpu1"], 0.2)
        XCTAssertEqual(metrics["irq_share_cpu0"], 0.1)
        XCTAssertEqual(metrics["idle_share_cpu1"], 0.6)
        XCTAssertEqual(metrics["interrupts_per_second"], 300)
        XCTAssertEqual(MetricName.linuxUserShare(cpu: 3), "user_share_cpu3")
        XCTAssertEqual(MetricName.linuxIdleShare(cpu: 3), "idle_share_cpu3")
    }

    func testBadTexts() {
        func error(_ text: String) -> LinuxCPUStatError? {
            do {
                _ = try LinuxCPUStat(parsing: text)
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(error("<html>404 Not Found</html>\n"), LinuxCPUStatError(message: "no 'cpu' line: not /proc/stat's text"))
        XCTAssertEqual(error("")?.message, "no 'cpu' line: not /proc/stat's text")
        XCTAssertEqual(error("cpu 1 2 3 4\ncpu0 1 2 x 4\n")?.line, 2)
        XCTAssertEqual(error("cpu 1 2 3 4\ncpu0 1 2 x 4\n")?.description, "/proc/stat:2: 'x' is not a counter in 'cpu0 1 2 x 4'")
        XCTAssertEqual(error("cpu 1 2 3\n")?.message, "3 counters, at least 4 expected: 'cpu 1 2 3'")
        XCTAssertEqual(error("cpu 1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n")?.line, 3)
        XCTAssertEqual(error("cpu 1 2 3 4\ncpux 1 2 3 4\n")?.line, 2)
        XCTAssertEqual(error("cpu 1 2 3 4\nintr\n")?.line, 2)
        XCTAssertEqual(error("cpu 1 2 3 -4\n")?.line, 1)
    }

    func testSnapshotsThatCannotBeCompared() throws {
        func error(_ before: String, _ after: String, seconds: Double = 1) throws -> String? {
            let first = try LinuxCPUStat(parsing: before)
            let second = try LinuxCPUStat(parsing: after)
            do {
                _ = try LinuxCPUUsage(from: first, to: second, seconds: seconds)
                return nil
            } catch {
                return error.message
            }
        }
        let stat = "cpu 10 0 10 10\ncpu0 10 0 10 10\nintr 50\n"
        XCTAssertEqual(try error(stat, "cpu 10 0 10 10\ncpu0 5 0 10 10\nintr 60\n"),
                       "cpu0: a counter went backwards (10 then 5): did the guest reboot?")
        XCTAssertEqual(try error(stat, "cpu 10 0 10 10\ncpu0 10 0 10 10\nintr 40\n"),
                       "the interrupt total went backwards (50 then 40): did the guest reboot?")
        XCTAssertEqual(try error(stat, "cpu 10 0 10 10\ncpu0 10 0 10 10\ncpu1 0 0 0 0\n"),
                       "the snapshots list different CPUs: [0] and [0, 1]")
        XCTAssertEqual(try error(stat, stat, seconds: 0), "the wall time between the snapshots must be positive, not 0.0")
        XCTAssertNil(try error(stat, stat), "equal snapshots: all shares 0, no error")
    }
}
