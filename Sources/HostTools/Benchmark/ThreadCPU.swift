// Host CPU time of another process's threads (QEMU's, with --cpu-pid), sampled at the start and
// end of each measurement: shows which thread (a virtual CPU, QEMU's main loop that emulates the
// devices and moves packets through the tap) is saturated while the rate is measured.

import Glibc

/// Reads a small file of /proc whole (its size shows as 0, so read until the end).
func readProcFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

struct ThreadCPUSample {
    /// Clock ticks (user + system) per thread id, and each thread's name.
    var ticks: [Int: UInt64] = [:]
    var names: [Int: String] = [:]
    /// Host-wide busy and total ticks from /proc/stat.
    var hostBusy: UInt64 = 0
    var hostTotal: UInt64 = 0
    var at: UInt64 = 0

    static func take(pid: Int32) -> ThreadCPUSample {
        var sample = ThreadCPUSample()
        sample.at = monotonicNanoseconds()
        if let directory = opendir("/proc/\(pid)/task") {
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard let tid = Int(name),
                      let stat = readProcFile("/proc/\(pid)/task/\(tid)/stat"),
                      let close = stat.lastIndex(of: ")") else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                // After "(comm)": state is field 3 of stat, utime 14 and stime 15.
                guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { continue }
                sample.ticks[tid] = user + system
                let comm = readProcFile("/proc/\(pid)/task/\(tid)/comm") ?? "?"
                sample.names[tid] = comm.hasSuffix("\n") ? String(comm.dropLast()) : comm
            }
        }
        if let stat = readProcFile("/proc/stat"), let line = stat.split(separator: "\n").first {
            let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
            if values.count >= 8 {
                // user nice system idle iowait irq softirq steal
                sample.hostBusy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
                sample.hostTotal = sample.hostBusy + values[3] + values[4]
            }
        }
        return sample
    }

    /// Percent of one host core per thread name (threads of one name added) between two
    /// samples, busiest first, and the host's busy share of all its cores.
    static func usage(from start: ThreadCPUSample, to end: ThreadCPUSample) -> (threads: [(name: String, percent: Double)], host: Double) {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let seconds = Double(end.at - start.at) / 1e9
        var byName: [String: Double] = [:]
        for (tid, ticks) in end.ticks {
            guard let before = start.ticks[tid], seconds > 0 else { continue }
            byName[end.names[tid] ?? "?", default: 0] += Double(ticks - before) / hz / seconds * 100
        }
        let threads = byName.map { (name: $0.key, percent: $0.value) }.sorted { $0.percent > $1.percent }
        let total = end.hostTotal - start.hostTotal
        let host = total > 0 ? Double(end.hostBusy - start.hostBusy) / Double(total) * 100 : 0
        return (threads, host)
    }
}
