/// What must be there before anything boots: root, /dev/net/tun, the tools the loads use, the images the targets boot.

import ExperimentKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks a run can happen at all, naming each missing piece and how to get it.
enum Preflight {
    /// The problems; empty when the experiment can run.
    static func problems(_ experiment: Experiment, options: LabRunOptions) -> [String] {
        var problems: [String] = []
        if getuid() != 0 {
            problems.append("must run as root: it creates a network namespace and a tap device per boot (try sudo)")
        }
        if experiment.machine.nic == .user {
            problems.append("nic = user is not supported: swiglet-lab measures only on a tap device in a network namespace (nic = tap)")
        }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") {
            problems.append("/dev/net/tun is missing: no tap devices on this machine")
        }
        for tool in ["ip", "qemu-system-x86_64", "curl"] where findExecutable(tool) == nil {
            problems.append("'\(tool)' is missing (scripts/install-deps.sh installs it)")
        }
        let kinds = Set(experiment.loads.map(\.kind))
        if kinds.contains(where: \.isHTTP) {
            if findExecutable("wrk") == nil { problems.append("'wrk' is missing (scripts/install-deps.sh installs it)") }
            if !FileManager.default.fileExists(atPath: "scripts/wrk-verify.lua") {
                problems.append("scripts/wrk-verify.lua is missing: run swiglet-lab from the repository's root")
            }
        }
        if !kinds.isDisjoint(with: [.udpEcho, .tcpBulk]), !FileManager.default.isExecutableFile(atPath: options.bench) {
            problems.append("\(options.bench) is missing: swift build -c release --product swiglet-bench --scratch-path .build-bench "
                + "(make experiment builds it), or give --bench PATH")
        }
        let targetKinds = Set(experiment.targets.map(\.kind))
        for target in experiment.targets {
            guard let image = target.swigletImage, !FileManager.default.fileExists(atPath: image) else { continue }
            if target.image == nil {
                problems.append("\(image) is missing: make image (make experiment builds it)")
            } else {
                problems.append("[target \(target.name)]: image = \(image) is missing (build it, then copy images/swiglet.iso there)")
            }
        }
        if targetKinds.contains(.linux) {
            for file in ["images/linux/vmlinuz", "images/linux/initramfs.cpio.gz"] where !FileManager.default.fileExists(atPath: file) {
                problems.append("\(file) is missing: scripts/build-linux-guest.sh (make experiment builds it when a target is linux)")
            }
        }
        return problems
    }
}
