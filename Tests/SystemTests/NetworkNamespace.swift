/// A Linux network namespace for a test: created, given a tap device QEMU opens inside it, and deleted afterwards (needs root).
import Foundation
import XCTest

/// A network namespace named after the test process, where QEMU runs with a tap device and the
/// test's clients reach the guest at 10.0.2.15 from 10.0.2.2.
struct NetworkNamespace {
    let name: String
    let ip: String

    /// Creates the namespace with its loopback up; skips the test unless root, fails it
    /// without `ip` (iproute2).
    init(tag: String) throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to create a network namespace and a tap device") }
        guard let ip = QEMUMachine.findExecutable("ip") else {
            throw MachineError(description: "needs `ip` (iproute2): run scripts/install-deps.sh")
        }
        self.ip = ip
        name = "swiglet-\(tag)-\(getpid())"
        try Self.run(ip, ["netns", "add", name])
        try Self.run(ip, ["netns", "exec", name, ip, "link", "set", "lo", "up"])
    }

    /// Gives the tap device QEMU created the host side's address and brings it up.
    func configure(tap: String) throws {
        try Self.run(ip, ["netns", "exec", name, ip, "addr", "add", "10.0.2.2/24", "dev", tap])
        try Self.run(ip, ["netns", "exec", name, ip, "link", "set", tap, "up"])
    }

    /// Runs `arguments` inside the namespace; returns its output.
    @discardableResult
    func exec(_ arguments: [String]) throws -> String {
        try Self.run(ip, ["netns", "exec", name] + arguments)
    }

    /// Deletes the namespace (and with it the tap device).
    func delete() { _ = try? Self.run(ip, ["netns", "del", name]) }

    /// Runs a command (`runTool`); throws with its output when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let (status, output) = try runTool(executable, arguments)
        guard status == 0 else {
            throw MachineError(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }
}
