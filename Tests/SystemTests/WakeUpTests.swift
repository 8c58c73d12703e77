/// Waking sleeping programs: under a steady load on one connection the HTTP program's waits never end by their timeout, and every doorbell sent is taken and timed.

import Foundation
import XCTest

final class WakeUpTests: XCTestCase {
    /// One keep-alive connection, one request at a time, for 5 s: the HTTP program sleeps
    /// between requests (its CPU is shared with the two other default programs), and each
    /// answer's completion must wake it. A wake-up lost to the race between the program's last
    /// look at its ring and its sleep shows as a `wait` that ends by its 100 ms timeout, which
    /// the kernel counts (`swiglet_program_wait_timeouts_total`) — not the program.
    func testALoneConnectionNeverWaitsForTheTimeout() throws {
        let wrk = try requireTool("wrk")
        let ports = QEMUMachine.freePorts(2)
        let httpPort = ports[1]
        try QEMUMachine.withMetrics(cpus: 2, commandLine: nil, metricsPort: ports[0], extra: ["tcp:127.0.0.1:\(httpPort)-:80"]) { _, metricsPort in
            func timeouts() throws -> Double {
                let (response, metrics) = try Metrics.fetch(host: "127.0.0.1", port: metricsPort)
                XCTAssertEqual(response.status, 200)
                return metrics.sum("swiglet_program_wait_timeouts_total", matching: ["program=\"http\""])
            }
            let before = try timeouts()
            let (status, output) = try runTool(wrk, ["-t1", "-c1", "-d5s", "--timeout", "5s",
                                                     "http://127.0.0.1:\(httpPort)/index.html"], timeout: 60)
            print("wrk:\n\(output)")
            XCTAssertEqual(status, 0)
            XCTAssertFalse(output.contains("Socket errors"), output)
            let requests = output.split(separator: "\n").first { $0.contains("requests in") }
                .flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
            XCTAssertGreaterThan(requests, 500, "the load ran")
            let after = try timeouts()
            // A host that stalls the client for more than 100 ms could cause one honestly; the
            // lost wake-up caused dozens in 5 s.
            XCTAssertLessThanOrEqual(after - before, 1, "the HTTP program slept through completions \(Int(after - before)) times")
        }
    }

    /// The doorbells the network core sends are the IPIs the program's CPU takes, one for one,
    /// and their cost is measured where it is paid: `swiglet_cpu_ipi_send_seconds_total` and
    /// `swiglet_cpu_device_notify_seconds_total` (device writes that, under QEMU, wait for its
    /// global lock) grow on the network core with the traffic, by a plausible amount each, and
    /// `swiglet_cpu_apic_write_seconds_total` on the program's CPU (its timer and EOI writes),
    /// about one per wake-up (`swiglet_cpu_apic_writes_total`): the timer is re-armed only when
    /// it would fire too late.
    func testDoorbellsSentAreTakenAndTheirCostIsCounted() throws {
        try QEMUMachine.skipUnlessDedicated("doorbells are the network core's; in symmetric mode a program's CPU serves itself")
        // One request at a time: the program sleeps between them, so doorbells ring.
        try QEMUMachine.withUDPEchoLoad(cpus: 2, commandLine: "run=udp-echo@1", ready: "udp-echo: serving UDP echo on port 7",
                                        window: 1, duration: 3) { running, replies, before, after in
            XCTAssertGreaterThan(replies, 100, "too little load got through:\n\(running.console)")
            func growth(_ family: String, cpu: Int) -> Double { after.growth(family, since: before, matching: ["cpu=\"\(cpu)\""]) }
            let sent = growth("swiglet_cpu_ipis_sent_total", cpu: 0)
            XCTAssertGreaterThan(sent, 0, "a program asleep between requests was never woken")
            // The scrape is answered by the network core itself, which sends nothing meanwhile;
            // one IPI may still be on its way to cpu1.
            XCTAssertEqual(growth("swiglet_cpu_ipis_total", cpu: 1), sent, accuracy: 1, "IPIs sent by cpu0 against taken by cpu1")
            XCTAssertEqual(growth("swiglet_cpu_ipis_sent_total", cpu: 1), 0, "the program's CPU sends none")
            let sendSeconds = growth("swiglet_cpu_ipi_send_seconds_total", cpu: 0)
            XCTAssertGreaterThan(sendSeconds, 0)
            XCTAssertLessThan(sendSeconds / sent, 0.01, "10 ms or more per IPI: a unit is wrong")
            let notifySeconds = growth("swiglet_cpu_device_notify_seconds_total", cpu: 0)
            XCTAssertGreaterThan(notifySeconds, 0, "the replies were sent without notifying the NIC")
            XCTAssertLessThan(notifySeconds, 3, "more time notifying than the load lasted")
            // The woken side: the program's CPU ends each doorbell's interrupt with an APIC
            // write, and arms its timer before each sleep only when the armed one would fire
            // too late (`OneShotDeadline`): about one write per wake-up, where re-arming every
            // time made two.
            let apicSeconds = growth("swiglet_cpu_apic_write_seconds_total", cpu: 1)
            XCTAssertGreaterThan(apicSeconds, 0, "the program's CPU slept and woke without an APIC write")
            XCTAssertLessThan(apicSeconds, 3, "more time in APIC writes than the load lasted")
            let taken = growth("swiglet_cpu_ipis_total", cpu: 1)
            let writes = growth("swiglet_cpu_apic_writes_total", cpu: 1)
            XCTAssertGreaterThanOrEqual(writes, taken - 1, "fewer APIC writes than doorbells to end")
            XCTAssertLessThan(writes, 1.5 * taken, "the timer was re-armed at each sleep: \(writes) writes for \(taken) wake-ups")
        }
    }
}
