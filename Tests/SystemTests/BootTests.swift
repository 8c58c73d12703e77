/// QEMU system tests of the foundation: every CPU comes up, faults are contained, the heap
/// reuses memory under concurrent stress, the clock keeps time, IPIs arrive, options are checked.
import Foundation
import XCTest

final class BootTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Fails the test with the whole console attached, so a failure explains itself.
    private func check(_ condition: Bool, _ message: String, _ outcome: QEMUMachine.Outcome,
                       file: StaticString = #filePath, line: UInt = #line) {
        if !condition {
            XCTFail("\(message)\n---- console ----\n\(outcome.console)\n---- end of console ----", file: file, line: line)
        }
    }

    /// The ready line, parsed: `swiglet: ready cpus=N memory=MMiB ...`.
    private func readyLine(_ console: String) -> (cpus: Int, memoryMiB: Int)? {
        guard let line = console.split(separator: "\n").first(where: { $0.hasPrefix("swiglet: ready") }) else { return nil }
        var cpus: Int?, memory: Int?
        for word in line.split(separator: " ") {
            if word.hasPrefix("cpus=") { cpus = Int(word.dropFirst(5)) }
            if word.hasPrefix("memory="), word.hasSuffix("MiB") { memory = Int(word.dropFirst(7).dropLast(3)) }
        }
        guard let cpus, let memory else { return nil }
        return (cpus, memory)
    }

    /// Runs self test `name` and checks the pass line, the ready line and the exit status.
    @discardableResult
    private func runSelfTest(_ name: String, cpus: Int, extraOptions: String = "", expectFault: Bool = false,
                             file: StaticString = #filePath, line: UInt = #line) throws -> QEMUMachine.Outcome {
        let machine = QEMUMachine(cpus: cpus, commandLine: "test=\(name) \(extraOptions)")
        let outcome = try machine.boot()
        check(!outcome.timedOut, "QEMU did not finish within \(Int(machine.timeout)) s", outcome, file: file, line: line)
        check(readyLine(outcome.console)?.cpus == cpus, "no ready line with cpus=\(cpus)", outcome, file: file, line: line)
        check(outcome.console.contains("swiglet-test: \(name) pass"), "no pass line for \(name)", outcome, file: file, line: line)
        let faulted = outcome.console.contains(": exception #")
        check(faulted == expectFault, expectFault ? "no exception was reported" : "a CPU faulted", outcome, file: file, line: line)
        check(outcome.selfTestPassed, "QEMU exit status \(String(describing: outcome.exitStatus)), expected 1 (pass)", outcome, file: file, line: line)
        return outcome
    }

    func testEveryCPUReportsForOneToEightCPUs() throws {
        for cpus in 1...8 {
            let machine = QEMUMachine(cpus: cpus)
            let outcome = try machine.boot(stopWhen: hasCompleteReadyLine)
            let ready = readyLine(outcome.console)
            check(ready?.cpus == cpus, "expected cpus=\(cpus) on the ready line", outcome)
            check((200...256).contains(ready?.memoryMiB ?? 0), "usable memory for -m 256M out of range", outcome)
            check(!outcome.console.contains("exception"), "a CPU faulted during boot", outcome)
        }
    }

    func testEveryApplicationProcessorAnswers() throws {
        for cpus in [1, 2, 4] {
            let outcome = try runSelfTest("cpus", cpus: cpus)
            let online = outcome.console.split(separator: "\n").filter { $0.contains("online, apic") }.count
            check(online == cpus - 1, "expected \(cpus - 1) 'online' lines from application CPUs", outcome)
        }
    }

    func testPageFaultIsReportedAndOtherCPUsGoOn() throws {
        let outcome = try runSelfTest("page-fault", cpus: 3, expectFault: true)
        check(outcome.console.contains("cpu2: exception #PF page fault (vector 14) error=0x2 "), "no #PF report from cpu2", outcome)
        check(outcome.console.contains("cr2=0xdead0000"), "CR2 not reported as the faulting address", outcome)
        check(outcome.console.contains("others-answered=1/1"), "the other application CPU did not go on", outcome)
    }

    func testInvalidOpcodeIsReportedWithItsAddress() throws {
        let outcome = try runSelfTest("invalid-opcode", cpus: 2, expectFault: true)
        let address = try symbolAddress("raise_invalid_opcode")
        check(outcome.console.contains("cpu1: exception #UD invalid opcode (vector 6) error=0x0 rip=0x\(address) "),
              "no #UD report from cpu1 at raise_invalid_opcode (0x\(address))", outcome)
    }

    func testStackOverflowHitsTheGuardPageAndDoubleFaultsOnItsOwnStack() throws {
        let outcome = try runSelfTest("stack-overflow", cpus: 2, expectFault: true)
        check(outcome.console.contains("cpu1: exception #DF double fault (vector 8)"), "no #DF report from cpu1", outcome)
    }

    func testFaultTestsNeedAnApplicationCPU() throws {
        // The test must be able to fail: with the boot CPU as the target it refuses and exits 3.
        let machine = QEMUMachine(cpus: 2, commandLine: "test=page-fault fault-cpu=0")
        let outcome = try machine.boot()
        check(outcome.console.contains("swiglet-test: page-fault fail reason=needs-an-application-cpu"), "no fail line", outcome)
        check(outcome.exitStatus == 3, "QEMU exit status \(String(describing: outcome.exitStatus)), expected 3 (fail)", outcome)
    }

    func testHeapReusesMemoryUnderConcurrentStress() throws {
        let outcome = try runSelfTest("heap-stress", cpus: 2)
        check(outcome.console.contains("valid=yes failures=0"), "heap stress reported failures", outcome)
    }

    func testClockKeepsTimeOnEveryCPU() throws {
        try runSelfTest("clock", cpus: 2)
    }

    func testInterprocessorInterruptsReachEveryCPU() throws {
        let outcome = try runSelfTest("ipi", cpus: 4)
        check(outcome.console.contains("delivered=3/3"), "not every CPU got its IPI", outcome)
    }

    func testMemoryFunctionsMatchTheirDefinitions() throws {
        // boot/memory.asm is the kernel's and every program's memset/memcpy/memmove/memcmp.
        let outcome = try runSelfTest("memory", cpus: 1)
        check(outcome.console.contains("failures=0"), "a memory function got a length or alignment wrong", outcome)
    }

    func testBadBootOptionsAreReportedNotIgnored() throws {
        let outcome = try runSelfTest("cpus", cpus: 1, extraOptions: "bogus=1 log=loud fault-cpu=x")
        check(outcome.console.contains("unknown option 'bogus=1'"), "unknown option not reported", outcome)
        check(outcome.console.contains("bad value in 'log=loud'"), "bad log level not reported", outcome)
        check(outcome.console.contains("bad value in 'fault-cpu=x'"), "bad number not reported", outcome)
    }

    /// The kernel's symbol table, read with llvm-nm, gives the address a fault must report.
    private func symbolAddress(_ name: String) throws -> String {
        let nm = QEMUMachine.findExecutable("llvm-nm") ?? "/opt/swift/usr/bin/llvm-nm"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nm)
        process.arguments = [QEMUMachine.kernelELF.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let line = text.split(separator: "\n").first(where: { $0.hasSuffix(" \(name)") }),
              let hex = line.split(separator: " ").first, let value = UInt64(hex, radix: 16) else {
            throw MissingSymbol(name: name)
        }
        return String(value, radix: 16)
    }
}

struct MissingSymbol: Error, CustomStringConvertible {
    let name: String
    var description: String { "symbol \(name) not found in \(QEMUMachine.kernelELF.path)" }
}
