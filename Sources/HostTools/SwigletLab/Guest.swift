/// One guest in QEMU: started on the namespace's tap, waited for until its ready line, stopped.

import ExperimentKit
import Foundation

/// Why a guest did not come up.
struct BootFailure: Error, CustomStringConvertible {
    var description: String
}

/// A running guest.
final class Guest {
    let launch: GuestLaunch
    private let child: Child
    /// The ready line as the console printed it.
    private(set) var readyLine = ""

    /// Starts QEMU with `launch` inside `namespace`; QEMU's own messages go to `qemuLogPath`.
    init(launch: GuestLaunch, namespace: LabNamespace, qemuLogPath: String) throws {
        self.launch = launch
        try? FileManager.default.removeItem(atPath: launch.consolePath)
        // `ip netns exec` execs QEMU in place, so the child's pid is QEMU's own.
        child = try Child(namespace.inside(launch.arguments), outputPath: qemuLogPath)
    }

    var pid: Int32 { child.pid }

    /// The console so far, without terminal escapes (GRUB clears the screen) and carriage returns.
    var console: String {
        let raw = (try? String(contentsOfFile: launch.consolePath, encoding: .utf8))
            ?? String(decoding: (FileManager.default.contents(atPath: launch.consolePath) ?? Data()), as: UTF8.self)
        return raw.replacingOccurrences(of: "\r", with: "")
            .replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
    }

    /// Waits for the kind's ready line, at most `timeout` seconds. Throws `BootFailure` when
    /// QEMU exits first or the line does not come (QEMU is then stopped).
    func waitUntilReady(timeout: Double) throws {
        let ready = launch.kind.readyLine
        let deadline = monotonicSeconds() + timeout
        while true {
            try Interruption.check()
            if let line = console.split(separator: "\n").first(where: { $0.contains(ready) }) {
                readyLine = String(line)
                return
            }
            if !child.isRunning {
                let status = child.stop()
                throw BootFailure(description: "QEMU exited (status \(status)) before '\(ready)': \(lastLines(child.output, 5))")
            }
            if monotonicSeconds() >= deadline {
                child.stop()
                throw BootFailure(description: "no '\(ready)' on the console within \(Int(timeout)) s")
            }
            usleep(200_000)
        }
    }

    var isRunning: Bool { child.isRunning }

    /// Stops QEMU (SIGTERM, then SIGKILL).
    func stop() { child.stop() }
}

/// The last `count` non-empty lines of `text`, joined with " | ".
func lastLines(_ text: String, _ count: Int) -> String {
    text.split(separator: "\n").suffix(count).joined(separator: " | ")
}
