/// QEMU system test of the program table: the image ships one module per program ELF, and
/// every name on a module's command line runs that ELF under its own name.
import Foundation
import XCTest

final class ProgramNameTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Names the image has had since programs could run under several names (now in
    /// Sources/UserSpace/Programs/programs.list): each must still work.
    static let names = ["udp-echo", "tcp-echo", "http", "tcp-client", "tcp-client-crash", "spinner", "yielder", "faulty",
                        "faulty-ud", "faulty-gp", "faulty-de", "bad-channel", "bad-channel-exit", "flood"]

    /// GRUB loads each ELF once (fewer modules than names), the kernel lists every name, and a
    /// second name of a shared ELF (`faulty-gp`, the third name of faulty.elf) starts and
    /// behaves as that name says: a privileged instruction, #GP.
    func testEveryNameOfASharedModuleRuns() throws {
        let machine = QEMUMachine(cpus: 2, commandLine: "run=faulty-gp@1")
        try machine.whileRunning { running in
            try running.waitFor("programs: faulty-gp stopped after exception vector 13;", timeout: 60)
            let console = running.console
            XCTAssertTrue(console.contains("cpu1: program faulty-gp faulted with #GP"), console)
            let line = try XCTUnwrap(console.components(separatedBy: "\n").first { $0.contains("cpu0: programs: ") && $0.contains(" names: ") },
                                     "no program table line\n\(console)")
            let listed = line.components(separatedBy: " names: ")[1].split(separator: " ").map(String.init)
            for name in Self.names { XCTAssertTrue(listed.contains(name), "\(name) missing: \(line)") }
            XCTAssertEqual(Set(listed).count, listed.count, "a name listed twice: \(line)")
            let counts = line.components(separatedBy: "programs: ")[1].split(separator: " ")
            let modules = try XCTUnwrap(Int(counts[0]), line)
            XCTAssertLessThan(modules, listed.count, "one module per ELF, several names for some: \(line)")
            XCTAssertFalse(console.contains("programs: module "), "a name was rejected\n\(console)")
        }
    }
}
