// swiglet-bench: the load generator of Swiglet's benchmarks: UDP echo (scripts/bench-udp.sh), and
// the TCP modes of scripts/bench-tcp.sh (tcp-echo, tcp-connect) and the TCP robustness storms
// (syn-flood, tcp-garbage) and the overload flood (udp-flood). `swiglet-bench --help` and `swiglet-bench MODE --help` explain them.

import Glibc

func printError(_ text: String) {
    var line = "swiglet-bench: \(text)\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

func progress(_ quiet: Bool, _ text: String) {
    guard !quiet else { return }
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

/// Measures every size and window against one target; nil (after a message) if it does not answer.
func measureAll(_ endpoint: Endpoint, label: String, options: Options) -> Results? {
    let client: EchoClient
    do {
        client = try EchoClient(endpoint: endpoint, timeoutMilliseconds: options.timeoutMilliseconds)
    } catch {
        printError(error.message)
        return nil
    }
    guard let roundTrip = client.probe(seconds: options.probeSeconds) else {
        printError("\(label) at \(endpoint) did not echo a probe within \(Report.formatSeconds(options.probeSeconds)): is its UDP echo server up?")
        return nil
    }
    progress(options.quiet, "swiglet-bench: \(label) at \(endpoint) answers (first round trip \(roundTrip / 1000) µs)")
    var results = Results(label: label, target: endpoint.description, duration: options.duration,
                          warmup: options.warmup, timeoutMilliseconds: options.timeoutMilliseconds)
    for size in options.sizes {
        for window in options.windows {
            let offered = options.rate > 0 ? ", \(Report.grouped(options.rate)) req/s offered" : ""
            progress(options.quiet, "swiglet-bench: \(label): \(size) B, \(window) outstanding\(offered), "
                + "\(Report.formatSeconds(options.warmup)) warm-up + \(Report.formatSeconds(options.duration))")
            let m = client.measure(size: size, window: window, rate: options.rate, warmup: options.warmup,
                                   duration: options.duration, maxRequests: options.maxRequests,
                                   cpuPid: options.cpuPid)
            if m.truncated {
                progress(options.quiet, "swiglet-bench: \(label): stopped early at --max-requests \(options.maxRequests)")
            }
            results.measurements.append(m)
        }
    }
    return results
}

// The TCP modes and udp-flood (tcp-echo, tcp-connect, tcp-rr, syn-flood, tcp-garbage, udp-flood) are chosen by the first word.
if let first = CommandLine.arguments.dropFirst().first, let mode = TCPMode(rawValue: first) {
    exit(runTCPMode(mode, Array(CommandLine.arguments.dropFirst(2))))
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    printError("\(error.message) (see --help)")
    exit(2)
}
if options.help {
    print(Options.usage)
    exit(0)
}

var status: Int32 = 0
do {
    let results: Results
    var baseline: Results?
    if let path = options.resultsPath {
        results = try Report.load(path)
    } else {
        guard let target = options.target,
              let measured = measureAll(target, label: options.label, options: options) else { exit(1) }
        results = measured
        if let path = options.savePath { try Report.save(results, to: path) }
        if let baselineTarget = options.baselineTarget {
            guard let measured = measureAll(baselineTarget, label: options.baselineLabel, options: options) else { exit(1) }
            baseline = measured
        }
    }
    if let path = options.baselinePath { baseline = try Report.load(path) }

    if !(options.comparisonOnly && baseline != nil) { print(Report.table(results)) }
    if let baseline {
        if !options.comparisonOnly { print(Report.table(baseline)) }
        print(Report.comparison(results, baseline: baseline))
    }
    for r in [results] + (baseline.map { [$0] } ?? []) {
        let mismatched = r.measurements.reduce(0) { $0 + $1.mismatched }
        if mismatched > 0 {
            printError("\(r.label): \(mismatched) replies did not match the request they answer")
            status = 1
        }
        if r.measurements.contains(where: { $0.replies == 0 }) {
            printError("\(r.label): a measurement got no reply at all")
            status = 1
        }
    }
} catch {
    printError(error.message)
    exit(1)
}
exit(status)
