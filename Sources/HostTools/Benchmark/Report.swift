// Results: the tables swiglet-bench prints, and the text file --save writes and --baseline and
// --results read.

import Foundation

/// All measurements of one system.
struct Results {
    var label: String
    var target: String
    var duration: Double
    var warmup: Double
    var timeoutMilliseconds: Int
    var measurements: [Measurement] = []

    func measurement(size: Int, window: Int) -> Measurement? {
        measurements.first { $0.size == size && $0.window == window }
    }
}

enum Report {
    static let fileHeader = "# swiglet-bench results v1"

    static func serialize(_ results: Results) -> String {
        var text = fileHeader + "\n"
        text += "label=\(results.label) target=\(results.target) duration=\(results.duration) "
            + "warmup=\(results.warmup) timeout_ms=\(results.timeoutMilliseconds)\n"
        for m in results.measurements {
            text += "size=\(m.size) window=\(m.window) seconds=\(m.seconds) rps=\(m.requestsPerSecond) "
                + "p50_us=\(m.p50Microseconds) p99_us=\(m.p99Microseconds) sent=\(m.sent) "
                + "replies=\(m.replies) lost=\(m.lost) late=\(m.late) mismatched=\(m.mismatched) "
                + "refused=\(m.refused) unexpected=\(m.unexpected) client_cpu_pct=\(m.clientCPUPercent) "
                + "offered_rps=\(m.offeredRate)"
            if let host = m.hostCPUPercent {
                let threads = m.threadCPU.map { "\($0.name.replacingOccurrences(of: " ", with: "_")):\($0.percent)" }
                text += " host_cpu_pct=\(host) threads_cpu_pct=\(threads.joined(separator: ","))"
            }
            text += "\n"
        }
        return text
    }

    static func parse(_ text: String, from path: String) throws(ClientError) -> Results {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == fileHeader, lines.count >= 2 else {
            throw ClientError(message: "\(path) is not a swiglet-bench results file (written by --save)")
        }
        lines.removeFirst()
        func fields(_ line: String) -> [String: String] {
            var fields: [String: String] = [:]
            for item in line.split(separator: " ") {
                let pair = item.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            return fields
        }
        let header = fields(lines.removeFirst())
        var results = Results(label: header["label"] ?? "?", target: header["target"] ?? "?",
                              duration: Double(header["duration"] ?? "") ?? 0,
                              warmup: Double(header["warmup"] ?? "") ?? 0,
                              timeoutMilliseconds: Int(header["timeout_ms"] ?? "") ?? 0)
        for (number, line) in lines.enumerated() {
            let f = fields(line)
            guard let size = Int(f["size"] ?? ""), let window = Int(f["window"] ?? ""),
                  let seconds = Double(f["seconds"] ?? ""), let replies = Int(f["replies"] ?? "") else {
                throw ClientError(message: "\(path) line \(number + 3) is not a measurement: \(line)")
            }
            var m = Measurement(size: size, window: window)
            m.seconds = seconds
            m.replies = replies
            m.sent = Int(f["sent"] ?? "") ?? 0
            m.lost = Int(f["lost"] ?? "") ?? 0
            m.late = Int(f["late"] ?? "") ?? 0
            m.mismatched = Int(f["mismatched"] ?? "") ?? 0
            m.refused = Int(f["refused"] ?? "") ?? 0
            m.unexpected = Int(f["unexpected"] ?? "") ?? 0
            m.p50Microseconds = Double(f["p50_us"] ?? "") ?? 0
            m.p99Microseconds = Double(f["p99_us"] ?? "") ?? 0
            m.clientCPUPercent = Double(f["client_cpu_pct"] ?? "") ?? 0
            m.offeredRate = Double(f["offered_rps"] ?? "") ?? 0
            m.hostCPUPercent = Double(f["host_cpu_pct"] ?? "")
            for item in (f["threads_cpu_pct"] ?? "").split(separator: ",") {
                let pair = item.split(separator: ":")
                if pair.count == 2, let percent = Double(pair[1]) {
                    m.threadCPU.append((name: pair[0].replacingOccurrences(of: "_", with: " "), percent: percent))
                }
            }
            results.measurements.append(m)
        }
        return results
    }

    static func save(_ results: Results, to path: String) throws(ClientError) {
        do {
            try serialize(results).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ClientError(message: "cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func load(_ path: String) throws(ClientError) -> Results {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ClientError(message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text, from: path)
    }

    /// 12345.6 -> "12,346"
    static func grouped(_ value: Double) -> String {
        let digits = String(Int(value.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static func microseconds(_ value: Double) -> String {
        value >= 1000 ? grouped(value) : String(format: "%.1f", value)
    }

    /// The table of one system.
    static func table(_ results: Results) -> String {
        var text = "UDP echo, \(results.label) at \(results.target): \(formatSeconds(results.duration)) per measurement "
            + "after \(formatSeconds(results.warmup)) warm-up, loss timeout \(results.timeoutMilliseconds) ms"
        if let offered = results.measurements.first?.offeredRate, offered > 0 {
            text += ", \(grouped(offered)) req/s offered (round trips count from when each request was due)"
        }
        text += "\n"
        let columns = ["size B", "window", "req/s", "p50 µs", "p99 µs", "sent", "replies", "lost", "late", "mismatched"]
        let widths = [6, 6, 10, 9, 9, 10, 10, 6, 6, 10]
        text += zip(columns, widths).map { pad($0, $1) }.joined(separator: " ") + "\n"
        for m in results.measurements {
            let cells = [String(m.size), String(m.window), grouped(m.requestsPerSecond),
                         m.replies > 0 ? microseconds(m.p50Microseconds) : "-",
                         m.replies > 0 ? microseconds(m.p99Microseconds) : "-",
                         grouped(Double(m.sent)), grouped(Double(m.replies)), String(m.lost),
                         String(m.late), String(m.mismatched)]
            var line = zip(cells, widths).map { pad($0, $1) }.joined(separator: " ")
            var notes: [String] = []
            if m.refused > 0 { notes.append("\(m.refused) refused (ICMP)") }
            if m.unexpected > 0 { notes.append("\(m.unexpected) unexpected") }
            if m.clientCPUPercent > 0 { notes.append(String(format: "client CPU %.0f%%", m.clientCPUPercent)) }
            if !notes.isEmpty { line += "   " + notes.joined(separator: ", ") }
            text += line + "\n"
        }
        text += threadTable(results)
        return text
    }

    /// Host CPU per thread of the process given with --cpu-pid, one row per measurement.
    static func threadTable(_ results: Results) -> String {
        let measured = results.measurements.filter { $0.hostCPUPercent != nil }
        guard !measured.isEmpty else { return "" }
        var peak: [String: Double] = [:]
        for m in measured { for t in m.threadCPU { peak[t.name] = max(peak[t.name] ?? 0, t.percent) } }
        let names = peak.filter { $0.value >= 1 }.sorted { $0.value > $1.value }.prefix(6).map(\.key)
        var text = "host CPU during each measurement (100% = one host core): \(results.label)'s QEMU threads, "
            + "this load generator, everything else, and the host's \(hostCores) cores together\n"
        let widths = [6, 6] + names.map { max($0.count, 7) } + [7, 7, 9]
        text += zip(["size B", "window"] + names + ["client", "others", "host all"], widths).map { pad($0, $1) }.joined(separator: " ") + "\n"
        var disturbed = false
        for m in measured {
            var cells = [String(m.size), String(m.window)]
            for name in names {
                let percent = m.threadCPU.filter { $0.name == name }.reduce(0) { $0 + $1.percent }
                cells.append(String(format: "%.0f%%", percent))
            }
            // Everything the host did that is neither QEMU nor this client: other work on the
            // machine (or the host kernel's own network path that runs in no thread, softirqs).
            let qemu = m.threadCPU.reduce(0) { $0 + $1.percent }
            let others = max(0, (m.hostCPUPercent ?? 0) * Double(hostCores) - qemu - m.clientCPUPercent)
            if others >= 25 { disturbed = true }
            cells.append(String(format: "%.0f%%", m.clientCPUPercent))
            cells.append(String(format: "%.0f%%", others))
            cells.append(String(format: "%.0f%%", m.hostCPUPercent ?? 0))
            text += zip(cells, widths).map { pad($0, $1) }.joined(separator: " ") + "\n"
        }
        if disturbed {
            text += "warning: other work used a quarter of a host core or more during a measurement: "
                + "its numbers are disturbed (run on a quiet machine)\n"
        }
        return text
    }

    /// Each number of `results` beside the baseline's and their ratio.
    static func comparison(_ results: Results, baseline: Results) -> String {
        let a = results.label, b = baseline.label
        var text = "UDP echo, \(a) vs \(b) (ratio = \(a) / \(b): req/s above 1 and latency below 1 favour \(a))\n"
        let widths = [22, 11, 11, 9]
        text += zip(["", a, b, "ratio"], widths).enumerated()
            .map { $0.offset == 0 ? $0.element.0.padding(toLength: $0.element.1, withPad: " ", startingAt: 0) : pad($0.element.0, $0.element.1) }
            .joined(separator: " ") + "\n"
        func row(_ name: String, _ x: String, _ y: String, _ ratio: String) -> String {
            name.padding(toLength: widths[0], withPad: " ", startingAt: 0) + " "
                + [pad(x, widths[1]), pad(y, widths[2]), pad(ratio, widths[3])].joined(separator: " ") + "\n"
        }
        func ratio(_ x: Double, _ y: Double) -> String { y > 0 && x > 0 ? String(format: "%.2f", x / y) : "-" }
        for m in results.measurements {
            let title = "\(m.size) B, \(m.window) outstanding"
            guard let base = baseline.measurement(size: m.size, window: m.window) else {
                text += row(title, "", "(no baseline)", "")
                continue
            }
            text += title + "\n"
            text += row("  req/s", grouped(m.requestsPerSecond), grouped(base.requestsPerSecond),
                        ratio(m.requestsPerSecond, base.requestsPerSecond))
            let answered = m.replies > 0, baseAnswered = base.replies > 0
            text += row("  p50 latency µs", answered ? microseconds(m.p50Microseconds) : "-",
                        baseAnswered ? microseconds(base.p50Microseconds) : "-",
                        answered && baseAnswered ? ratio(m.p50Microseconds, base.p50Microseconds) : "-")
            text += row("  p99 latency µs", answered ? microseconds(m.p99Microseconds) : "-",
                        baseAnswered ? microseconds(base.p99Microseconds) : "-",
                        answered && baseAnswered ? ratio(m.p99Microseconds, base.p99Microseconds) : "-")
            if m.lost + base.lost + m.mismatched + base.mismatched > 0 {
                text += row("  lost / mismatched", "\(m.lost) / \(m.mismatched)", "\(base.lost) / \(base.mismatched)", "")
            }
        }
        return text
    }

    static var hostCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
