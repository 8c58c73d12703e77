/// Facts about what is measured and on what, read before a run: the commit, QEMU's version, tool versions, the image's checksum.

import ExperimentKit
import Foundation

/// The facts metadata.json records beside the ones `HostFacts` reads from /proc.
struct MeasuredBuild {
    /// `git rev-parse HEAD`, or "unknown" outside a git checkout.
    var commit: String
    /// Whether tracked files have uncommitted changes (untracked files, such as results, do not count).
    var dirty: Bool
    /// `qemu-system-x86_64 --version`'s first line.
    var qemuVersion: String

    static func read() -> MeasuredBuild {
        let head = (try? runTool(["git", "rev-parse", "HEAD"], timeout: 20))
        let commit = head?.status == 0 ? head!.output.trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
        let status = (try? runTool(["git", "status", "--porcelain", "--untracked-files=no"], timeout: 60))
        let dirty = status.map { $0.status == 0 && !$0.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
        let qemu = (try? runTool(["qemu-system-x86_64", "--version"], timeout: 20))?.output
            .split(separator: "\n").first.map(String.init) ?? "unknown"
        return MeasuredBuild(commit: commit, dirty: dirty, qemuVersion: qemu)
    }
}

/// The first line a tool prints for `arguments` (its version), or "unknown".
func toolVersion(_ arguments: [String]) -> String {
    guard let (_, output) = try? runTool(arguments, timeout: 20) else { return "unknown" }
    return output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// `sha256sum`'s digest of `path`, or "unknown".
func sha256(_ path: String) -> String {
    guard let (status, output) = try? runTool(["sha256sum", path], timeout: 60), status == 0 else { return "unknown" }
    return output.split(separator: " ").first.map(String.init) ?? "unknown"
}
