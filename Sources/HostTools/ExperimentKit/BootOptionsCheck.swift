/// Checks a target's Swiglet boot options with the kernel's own parser and placement planner.

import BootConfiguration

/// The kernel only warns about an unknown boot option and goes on with its default, so a typo
/// in an experiment file would measure the wrong configuration for hours. The file is checked
/// with the same parser (`CommandLineParser`) and placement rules (`NetworkPlacement.plan`) the
/// kernel uses, before anything boots.
enum BootOptionsCheck {
    /// What is wrong with `options` on a machine of `cpus` CPUs and `queues` NIC queue pairs, or
    /// nil when the kernel would accept them.
    static func problem(with options: String, cpus: Int, queues: Int) -> String? {
        if options.contains(",") {
            // The options travel in `-fw_cfg name=opt/swiglet/cmdline,string=...`, where a comma
            // ends the value.
            return "boot options cannot contain ',' (QEMU's -fw_cfg would cut them there)"
        }
        var parsed = BootOptions()
        var problems: [String] = []
        let bytes = Array(options.utf8)
        bytes.withUnsafeBytes { buffer in
            CommandLineParser.parse(buffer, into: &parsed) { problem in
                let word = String(decoding: bytes[problem.wordStart ..< problem.wordStart + problem.wordLength], as: UTF8.self)
                switch problem.kind {
                case .unknownOption: problems.append("unknown boot option '\(word)'")
                case .badValue: problems.append("bad boot option value '\(word)'")
                }
            }
        }
        if let first = problems.first { return first }

        switch NetworkPlacement.plan(options: parsed, onlineCPUs: cpus, queuePairs: queues) {
        case .failure(let error):
            return "boot options '\(options)' refused with cpus = \(cpus), queues = \(queues): \(error.message)"
        case .success(let placement):
            for program in parsed.programs ?? [] {
                let name = String(decoding: program.name, as: UTF8.self)
                guard let cpu = program.cpu else {
                    if placement.hasApplicationCPU { continue }
                    return "run=\(name) needs an application CPU, and cpus = \(cpus) leaves none"
                }
                guard !placement.mayRunPrograms(on: cpu) else { continue }
                return "run=\(name)@\(cpu) names a CPU that runs no program with cpus = \(cpus) (application CPUs: \(placement.applicationCPUs.map(String.init).joined(separator: ", ")))"
            }
        }
        return nil
    }
}
