/// The network namespace of one boot: a tap device with the gateway's address, where QEMU and the load generators run.

import ExperimentKit
import Foundation

/// A namespace made for one boot and deleted after it (with its tap device). The load
/// generators run in it too, so nothing of the host's network takes part and nothing else can
/// reach the guest.
final class LabNamespace {
    let name: String
    private var deleted = false

    /// Creates `name` with its tap device (multiqueue for `queues` > 1) as
    /// `GuestLaunch.namespaceCommands` says, and lets the client reuse TIME-WAIT ports over a wide
    /// range (connection-per-request loads close thousands of connections a second).
    init(name: String, queues: Int) throws {
        self.name = name
        _ = try? runTool(["ip", "netns", "del", name], timeout: 10)  // a leftover of a killed run
        for command in GuestLaunch.namespaceCommands(namespace: name, queues: queues) {
            let (status, output) = try runTool(["ip"] + command, timeout: 20)
            guard status == 0 else {
                delete()
                throw LaunchError(description: "ip \(command.joined(separator: " ")) failed: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        _ = try? runTool(["ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1",
                          "net.ipv4.ip_local_port_range=1024 65000"], timeout: 10)
    }

    /// `arguments` prefixed to run inside the namespace.
    func inside(_ arguments: [String]) -> [String] { ["ip", "netns", "exec", name] + arguments }

    /// Deletes the namespace (idempotent).
    func delete() {
        guard !deleted else { return }
        deleted = true
        // Not interruptible: this is what Ctrl-C's cleanup runs.
        _ = try? runTool(["ip", "netns", "del", name], timeout: 20, interruptible: false)
    }

    deinit { delete() }
}
