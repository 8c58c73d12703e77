/// Tests of HostCPUSample and HostCPUUsage: the host's /proc read around a run, split into QEMU's vCPU threads, its I/O thread and the rest.
import ExperimentKit
import Glibc
import XCTest

final class HostCPUTests: XCTestCase {
    /// A vCPU thread's stat line as QEMU 7.2 (`-name swiglet,debug-threads=on`) has it: the
    /// name holds a space and a slash; utime 1234 and stime 56 are fields 14 and 15.
    private let vcpuLine = "9607 (CPU 0/TCG) R 9600 9599 9599 0 -1 4194368 52 0 0 0 1234 56 0 0 20 0 5 0 7005 1809571840 43000 "
        + "18446744073709551615 1 1 0 0 0 0 268444224 4096 17990 0 0 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0"

    func testReadsUserAndSystemTicksAfterTheName() {
        XCTAssertEqual(HostThreadTime.ticks(statLine: vcpuLine), 1234 + 56)
        // A name may hold ") " itself: the fields are counted from the last parenthesis.
        XCTAssertEqual(HostThreadTime.ticks(statLine: "12 (odd) name) S 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0"), 10)
        XCTAssertNil(HostThreadTime.ticks(statLine: "12 (short) S 1 1"))
        XCTAssertNil(HostThreadTime.ticks(statLine: "no parentheses here"))
    }

    func testKnowsVCPUThreadsByName() {
        XCTAssertEqual(HostCPUUsage.vcpuNumber(threadName: "CPU 0/TCG"), 0)
        XCTAssertEqual(HostCPUUsage.vcpuNumber(threadName: "CPU 13/KVM"), 13)
        XCTAssertNil(HostCPUUsage.vcpuNumber(threadName: "qemu-system-x86"))
        XCTAssertNil(HostCPUUsage.vcpuNumber(threadName: "worker"))
        XCTAssertNil(HostCPUUsage.vcpuNumber(threadName: "CPU x/TCG"))
    }

    private func sample(_ threads: [Int: HostThreadTime], busy: UInt64, idle: UInt64, at seconds: Double) -> HostCPUSample {
        HostCPUSample(processID: 100, threads: threads, host: LinuxCPUTimes(user: busy / 2, system: busy - busy / 2, idle: idle),
                      hostCores: 2, seconds: seconds)
    }

    /// 2 s on a 2-core host at 100 ticks a second: 400 ticks of host time.
    func testSplitsTheHostIntoVCPUsTheIOThreadAndTheRest() throws {
        let before = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 1_000),
                             101: HostThreadTime(name: "worker", ticks: 10),
                             102: HostThreadTime(name: "CPU 0/TCG", ticks: 5_000),
                             103: HostThreadTime(name: "CPU 1/TCG", ticks: 3_000)], busy: 50_000, idle: 9_000, at: 10)
        let after = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 1_180),   // 90%
                            101: HostThreadTime(name: "worker", ticks: 12),              // 1%
                            102: HostThreadTime(name: "CPU 0/TCG", ticks: 5_196),        // 98%
                            103: HostThreadTime(name: "CPU 1/TCG", ticks: 3_060),        // 30%
                            104: HostThreadTime(name: "worker", ticks: 4)],              // new: 2%
                           busy: 50_390, idle: 9_010, at: 12)
        let usage = try XCTUnwrap(HostCPUUsage(from: before, to: after, ticksPerSecond: 100))
        XCTAssertEqual(usage.ioThread, 90, accuracy: 1e-9, "the thread whose id is the process's")
        XCTAssertEqual(usage.vcpus[0] ?? -1, 98, accuracy: 1e-9)
        XCTAssertEqual(usage.vcpus[1] ?? -1, 30, accuracy: 1e-9)
        XCTAssertEqual(usage.qemu, 221, accuracy: 1e-9)
        XCTAssertEqual(usage.hostBusy, 195, accuracy: 1e-9, "390 busy ticks in 2 s: 1.95 cores")
        XCTAssertEqual(usage.rest, 0, "QEMU counted more than the host's busy time: the rest is 0, not negative")
        XCTAssertEqual(usage.threads.first, HostThreadUse(name: "CPU 0/TCG", percent: 98))
        XCTAssertEqual(usage.threads.first { $0.name == "worker" }?.percent ?? -1, 3, accuracy: 1e-9, "threads of one name added")

        let metrics = usage.metrics
        XCTAssertEqual(metrics[MetricName.hostIOThread] ?? -1, 90, accuracy: 1e-9)
        XCTAssertEqual(metrics[MetricName.hostVCPU(0)] ?? -1, 98, accuracy: 1e-9)
        XCTAssertEqual(metrics[MetricName.hostVCPU(1)] ?? -1, 30, accuracy: 1e-9)
        XCTAssertEqual(metrics[MetricName.hostBusy] ?? -1, 195, accuracy: 1e-9)
        XCTAssertEqual(metrics["host_vcpu0_pct"], metrics[MetricName.hostVCPU(0)], "the name raw.csv and the plots use")
        XCTAssertNil(metrics[MetricName.hostVCPU(2)])
    }

    func testTheRestIsTheHostBeyondQEMU() throws {
        let before = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 0)], busy: 0, idle: 0, at: 0)
        let after = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 50)], busy: 150, idle: 50, at: 1)
        let usage = try XCTUnwrap(HostCPUUsage(from: before, to: after, ticksPerSecond: 100))
        XCTAssertEqual(usage.rest, 100, accuracy: 1e-9, "the load generator and the host kernel: one core")
        XCTAssertEqual(usage.metrics[MetricName.hostRest] ?? -1, 100, accuracy: 1e-9)
    }

    func testAReusedThreadIDCountsFromZero() throws {
        let before = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 0), 7: HostThreadTime(name: "old", ticks: 900)],
                            busy: 0, idle: 0, at: 0)
        let after = sample([100: HostThreadTime(name: "qemu-system-x86", ticks: 0), 7: HostThreadTime(name: "new", ticks: 20)],
                           busy: 100, idle: 100, at: 1)
        let usage = try XCTUnwrap(HostCPUUsage(from: before, to: after, ticksPerSecond: 100))
        XCTAssertEqual(usage.qemu, 20, accuracy: 1e-9, "not a wrapped subtraction")
    }

    func testRefusesSnapshotsOfDifferentProcessesOrNoTime() {
        let a = sample([:], busy: 0, idle: 0, at: 5)
        var b = a
        b.processID = 101
        b.seconds = 6
        XCTAssertNil(HostCPUUsage(from: a, to: b, ticksPerSecond: 100))
        XCTAssertNil(HostCPUUsage(from: a, to: a, ticksPerSecond: 100))
    }

    /// The real /proc: this test process burns CPU on its main thread between two snapshots.
    func testReadsThisProcessFromProc() throws {
        let pid = Int(getpid())
        let before = try XCTUnwrap(HostCPUSample.take(processID: pid))
        XCTAssertNotNil(before.threads[pid], "the main thread's id is the process's")
        XCTAssertGreaterThanOrEqual(before.hostCores, 1)
        var spin: UInt64 = 0
        let end = before.seconds + 0.3
        while (HostCPUSample.take(processID: pid)?.seconds ?? .infinity) < end { spin &+= 1 }
        let after = try XCTUnwrap(HostCPUSample.take(processID: pid))
        let usage = try XCTUnwrap(HostCPUUsage(from: before, to: after))
        XCTAssertGreaterThan(usage.qemu, 20, "0.3 s of reading /proc in a loop uses the CPU (\(spin) reads)")
        XCTAssertGreaterThan(usage.hostBusy, 20)
        XCTAssertNil(HostCPUSample.take(processID: Int(Int32.max)), "no such process")
    }
}
