/// The names of the metrics runs record, so that the runner, the summaries and the tables agree.

/// Metric names for `RunRecord.metrics`. A runner may record others (names of letters, digits,
/// `_`, `.` and `-`); these are the ones the tables put first and the experiments ask for.
public enum MetricName {
    /// `throughput`: requests answered per second (HTTP requests, echoed messages).
    public static let requestsPerSecond = "requests_per_second"
    /// `throughput` of `tcp-bulk`: bytes echoed intact per second.
    public static let bytesPerSecond = "bytes_per_second"
    /// `throughput` of `http-close`: connections completed per second (each carried one request).
    public static let connectionsPerSecond = "connections_per_second"
    /// `latency`: the 50th and 99th percentile of a request's round trip, in microseconds.
    public static let p50Microseconds = "p50_us"
    public static let p99Microseconds = "p99_us"

    /// `cpu-share`: the fraction (0–1) of the elapsed time CPU `cpu` ran its application in
    /// ring 3 (Δuser / Δwall, what the kernel's meter page draws as "application"); the time
    /// the network took from it is `networkShare`, the rest `kernelShare` and `idleShare`.
    public static func applicationShare(cpu: Int) -> String { "app_share_cpu\(cpu)" }
    /// `cpu-share`: the fraction (0–1) of the elapsed time CPU `cpu` spent running the network stack.
    public static func networkShare(cpu: Int) -> String { "network_share_cpu\(cpu)" }
    /// `interrupts`: interrupts (device, timer and IPIs) CPU `cpu` took per second.
    public static func interrupts(cpu: Int) -> String { "interrupts_cpu\(cpu)" }
    /// `interrupts`: of those, inter-processor interrupts per second.
    public static func interprocessorInterrupts(cpu: Int) -> String { "ipis_cpu\(cpu)" }
    /// `syscalls`: system calls CPU `cpu` served per second.
    public static func systemCalls(cpu: Int) -> String { "syscalls_cpu\(cpu)" }
}
