/// The plots of a results directory, drawn by scripts/plot-experiment.py when it and matplotlib are there.

import Foundation

enum Plots {
    static let script = "scripts/plot-experiment.py"

    /// Runs the plot script on `directory` (it writes PNG and SVG next to the CSVs), or says why
    /// the plots were skipped. A failing script is reported, never fatal: the numbers are written.
    static func draw(_ directory: String) {
        guard FileManager.default.fileExists(atPath: script) else {
            return say("plots skipped: \(script) is not there")
        }
        guard findExecutable("python3") != nil else {
            return say("plots skipped: python3 is missing (scripts/install-deps.sh installs it)")
        }
        // The script finds a python3 with matplotlib itself (Debian's, when another is first on
        // PATH) and exits 3 when there is none.
        guard let (status, output) = try? runTool(["python3", script, directory], timeout: 600) else {
            return say("plots: \(script) could not be started")
        }
        switch status {
        case 0:
            let figures = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".png") }.sorted()
            say("plots: \(figures.joined(separator: ", ")) (and SVG) in \(directory)")
        case 3:
            say("plots skipped: matplotlib is missing (apt-get install python3-matplotlib)")
        default:
            say("plots: \(script) failed (status \(status.map(String.init) ?? "timeout")): \(lastLines(output, 5))")
        }
    }
}
