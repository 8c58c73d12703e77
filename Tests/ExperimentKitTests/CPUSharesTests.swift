/// Tests of the counters around a run: Prometheus text read back, Swiglet's per-CPU shares and rates from two /metrics pages (worked example), Linux's through LinuxCPUUsage.
import ExperimentKit
import XCTest

final class CPUSharesTests: XCTestCase {
    /// A /metrics page of a 2-CPU dedicated Swiglet with the given counters for cpu1.
    private func page(user: Double, kernel: Double, network: Double, idle: Double, interrupts: Int, ipis: Int,
                      calls: Int) -> PrometheusSamples {
        PrometheusSamples(text: """
            # HELP swiglet_cpu_interrupts_total Interrupts taken (all vectors) per CPU.
            # TYPE swiglet_cpu_interrupts_total counter
            swiglet_cpu_interrupts_total{cpu="0",role="network"} 0
            swiglet_cpu_interrupts_total{cpu="1",role="program"} \(interrupts)
            swiglet_cpu_ipis_total{cpu="0",role="network"} 0
            swiglet_cpu_ipis_total{cpu="1",role="program"} \(ipis)
            swiglet_cpu_system_calls_total{cpu="0",role="network"} 0
            swiglet_cpu_system_calls_total{cpu="1",role="program"} \(calls)
            swiglet_cpu_user_seconds_total{cpu="0",role="network"} 0.000000000
            swiglet_cpu_user_seconds_total{cpu="1",role="program"} \(user)
            swiglet_cpu_kernel_seconds_total{cpu="0",role="network"} 0.000000000
            swiglet_cpu_kernel_seconds_total{cpu="1",role="program"} \(kernel)
            swiglet_cpu_network_seconds_total{cpu="0",role="network"} 0.000000000
            swiglet_cpu_network_seconds_total{cpu="1",role="program"} \(network)
            swiglet_cpu_idle_seconds_total{cpu="0",role="network"} 0.000000000
            swiglet_cpu_idle_seconds_total{cpu="1",role="program"} \(idle)
            swiglet_tcp_connections{state="ESTABLISHED",context="0"} 4
            """)
    }

    func testPrometheusSamples() {
        let samples = PrometheusSamples(text: """
            # TYPE a counter
            a{x="1",y="two words"} 3
            a{x="2",y="q\\"uote"} 4.5 1700000000
            b 7
            c{x="1"} +Inf
            garbage line without a value
            d{x="unterminated} 1
            """)
        XCTAssertEqual(samples.samples.count, 4)
        XCTAssertEqual(samples.sum("a"), 7.5)
        XCTAssertEqual(samples.sum("a", matching: ["x": "2"]), 4.5)
        XCTAssertEqual(samples.values("a", matching: ["x": "2"]).first?.labels["y"], "q\"uote")
        XCTAssertEqual(samples.values("a", matching: ["x": "1"]).first?.labels["y"], "two words")
        XCTAssertEqual(samples.sum("b"), 7)
        XCTAssertEqual(samples.sum("c"), .infinity)
        XCTAssertNil(samples.sum("d"))
        XCTAssertNil(samples.sum("missing"))
    }

    /// 2 s apart: cpu1 ran its program 0.5 s (25%), the network stack 0.2 s and slept 0.9 s of
    /// its 1.3 s in the kernel, so 0.2 s of other kernel work (10%); 400 interrupts (200/s).
    func testSwigletSharesWorkedExample() {
        let before = page(user: 1, kernel: 2, network: 0.5, idle: 1, interrupts: 1000, ipis: 100, calls: 50)
        let after = page(user: 1.5, kernel: 3.3, network: 0.7, idle: 1.9, interrupts: 1400, ipis: 300, calls: 2050)
        let metrics = CPUShares.swiglet(before: before, after: after, seconds: 2, measurements: Set(Measurement.allCases))
        XCTAssertEqual(metrics["app_share_cpu1"]!, 0.25, accuracy: 1e-9)
        XCTAssertEqual(metrics["network_share_cpu1"]!, 0.1, accuracy: 1e-9)
        XCTAssertEqual(metrics["idle_share_cpu1"]!, 0.45, accuracy: 1e-9)
        XCTAssertEqual(metrics["kernel_share_cpu1"]!, 0.1, accuracy: 1e-9)
        XCTAssertEqual(metrics["interrupts_cpu1"]!, 200, accuracy: 1e-9)
        XCTAssertEqual(metrics["ipis_cpu1"]!, 100, accuracy: 1e-9)
        XCTAssertEqual(metrics["syscalls_cpu1"]!, 1000, accuracy: 1e-9)
        XCTAssertEqual(metrics["interrupts_per_second"]!, 200, accuracy: 1e-9)
        XCTAssertEqual(metrics["app_share_cpu0"], 0)
        XCTAssertEqual(CPUShares.roles(after), "cpu0=network cpu1=program")
    }

    func testSwigletSharesFollowTheMeasurementsAndMissingCounters() {
        let before = page(user: 1, kernel: 2, network: 0.5, idle: 1, interrupts: 1000, ipis: 100, calls: 50)
        let after = page(user: 1.5, kernel: 3.3, network: 0.7, idle: 1.9, interrupts: 1400, ipis: 300, calls: 2050)
        let sharesOnly = CPUShares.swiglet(before: before, after: after, seconds: 2, measurements: [.cpuShare])
        XCTAssertTrue(sharesOnly.keys.allSatisfy { $0.contains("share") }, "\(sharesOnly.keys)")
        XCTAssertEqual(CPUShares.swiglet(before: before, after: after, seconds: 2, measurements: [.throughput]), [:])
        XCTAssertEqual(CPUShares.swiglet(before: before, after: after, seconds: 0, measurements: [.cpuShare]), [:])
        // A kernel without the idle counter: no idle share and no kernel share (it needs idle),
        // rather than numbers that would count sleep as kernel work.
        let withoutIdle = PrometheusSamples(samples: before.samples.filter { $0.name != "swiglet_cpu_idle_seconds_total" })
        let metrics = CPUShares.swiglet(before: withoutIdle, after: after, seconds: 2, measurements: [.cpuShare])
        XCTAssertNil(metrics["idle_share_cpu1"])
        XCTAssertNil(metrics["kernel_share_cpu1"])
        XCTAssertNotNil(metrics["app_share_cpu1"])
        XCTAssertTrue(CPUShares.needsSnapshots([.syscalls]))
        XCTAssertFalse(CPUShares.needsSnapshots([.throughput, .latency]))
    }

    func testLinuxSharesThroughLinuxCPUUsage() throws {
        let before = try LinuxCPUStat(parsing: "cpu 0 0 0 0\ncpu0 100 0 50 800 0 10 20 0 0 0\nintr 1000 5 6\nctxt 9\n")
        let after = try LinuxCPUStat(parsing: "cpu 0 0 0 0\ncpu0 150 0 70 900 0 20 40 0 0 0\nintr 3000 5 6\nctxt 19\n")
        let everything = try CPUShares.linux(before: before, after: after, seconds: 2, measurements: Set(Measurement.allCases))
        XCTAssertEqual(everything["user_share_cpu0"]!, 0.25, accuracy: 1e-9)
        XCTAssertEqual(everything["interrupts_per_second"]!, 1000, accuracy: 1e-9)
        XCTAssertNil(everything["network_share_cpu0"], "Linux does not count its network stack apart")
        let shares = try CPUShares.linux(before: before, after: after, seconds: 2, measurements: [.cpuShare])
        XCTAssertNil(shares["interrupts_per_second"])
        let interrupts = try CPUShares.linux(before: before, after: after, seconds: 2, measurements: [.interrupts])
        XCTAssertEqual(Array(interrupts.keys), ["interrupts_per_second"])
    }
}
