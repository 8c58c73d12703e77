/// Per-CPU shares and rates of a run from the guest kernel's own counters, read before and after it: Swiglet's /metrics, Linux's /proc/stat.

extension MetricName {
    /// `cpu-share` of a Swiglet target: the fraction of the elapsed time CPU `cpu` spent in its
    /// kernel on anything but the network stack and sleep in `wait`.
    public static func kernelShare(cpu: Int) -> String { "kernel_share_cpu\(cpu)" }
    /// `cpu-share` of a Swiglet target: the fraction of the elapsed time CPU `cpu`'s program
    /// slept in `wait` (the same name as `linuxIdleShare`: asleep either way).
    public static func idleShare(cpu: Int) -> String { "idle_share_cpu\(cpu)" }
}

/// What `cpu-share`, `interrupts` and `syscalls` record, computed from two snapshots of the
/// guest's counters and the host time between them. Only the kernel's counters are used, never
/// what a program says about itself; a counter missing from either snapshot leaves its metric
/// out (missing, not zero).
public enum CPUShares {
    /// Swiglet: from /metrics before and after, `seconds` of host time apart (between the
    /// middles of the two requests). Per CPU (the `cpu` label):
    ///
    /// - `app_share_cpuN` = Δ`swiglet_cpu_user_seconds_total` / seconds (ring 3)
    /// - `network_share_cpuN` = Δ`swiglet_cpu_network_seconds_total` / seconds
    /// - `kernel_share_cpuN` = (Δkernel − Δnetwork − Δidle) / seconds, at least 0: the meter
    ///   page's split (kernel time includes the network stack run there and the sleep in `wait`)
    /// - `idle_share_cpuN` = Δ`swiglet_cpu_idle_seconds_total` / seconds
    /// - `interrupts_cpuN`, `ipis_cpuN`, `syscalls_cpuN`: Δcount / seconds
    ///
    /// and `interrupts_per_second`, every CPU's interrupts together. A dedicated network core
    /// runs no program: its `network_share` is the time its passes found work (from commit
    /// 2026-12-06 on; before, 0), and its empty polls are in no counter, so the rest of its
    /// bar is blank. Its `role` label says which CPUs are which (`roles`).
    public static func swiglet(before: PrometheusSamples, after: PrometheusSamples, seconds: Double,
                               measurements: Set<Measurement>) -> [String: Double] {
        guard seconds > 0 else { return [:] }
        var metrics: [String: Double] = [:]
        func delta(_ family: String, cpu: String) -> Double? {
            guard let a = before.sum(family, matching: ["cpu": cpu]), let b = after.sum(family, matching: ["cpu": cpu]) else { return nil }
            return b - a
        }
        var totalInterrupts: Double?
        for cpuLabel in cpuLabels(after) {
            guard let cpu = Int(cpuLabel) else { continue }
            if measurements.contains(.cpuShare) {
                let user = delta("swiglet_cpu_user_seconds_total", cpu: cpuLabel)
                let kernel = delta("swiglet_cpu_kernel_seconds_total", cpu: cpuLabel)
                let network = delta("swiglet_cpu_network_seconds_total", cpu: cpuLabel)
                let idle = delta("swiglet_cpu_idle_seconds_total", cpu: cpuLabel)
                if let user { metrics[MetricName.applicationShare(cpu: cpu)] = user / seconds }
                if let network { metrics[MetricName.networkShare(cpu: cpu)] = network / seconds }
                if let idle { metrics[MetricName.idleShare(cpu: cpu)] = idle / seconds }
                if let kernel, let network, let idle {
                    metrics[MetricName.kernelShare(cpu: cpu)] = max(0, kernel - network - idle) / seconds
                }
            }
            if measurements.contains(.interrupts) {
                if let interrupts = delta("swiglet_cpu_interrupts_total", cpu: cpuLabel) {
                    metrics[MetricName.interrupts(cpu: cpu)] = interrupts / seconds
                    totalInterrupts = (totalInterrupts ?? 0) + interrupts
                }
                if let ipis = delta("swiglet_cpu_ipis_total", cpu: cpuLabel) {
                    metrics[MetricName.interprocessorInterrupts(cpu: cpu)] = ipis / seconds
                }
            }
            if measurements.contains(.syscalls), let calls = delta("swiglet_cpu_system_calls_total", cpu: cpuLabel) {
                metrics[MetricName.systemCalls(cpu: cpu)] = calls / seconds
            }
        }
        if let totalInterrupts { metrics[MetricName.interruptsPerSecond] = totalInterrupts / seconds }
        return metrics
    }

    /// Swiglet's CPU roles from /metrics' `role` label: `cpu0=network cpu1=program`.
    public static func roles(_ samples: PrometheusSamples) -> String {
        cpuLabels(samples).compactMap { label -> String? in
            guard let role = samples.values("swiglet_cpu_interrupts_total", matching: ["cpu": label]).first?.labels["role"] else { return nil }
            return "cpu\(label)=\(role)"
        }.joined(separator: " ")
    }

    /// Linux: from /proc/stat before and after (`LinuxCPUUsage`, over `seconds` of host time):
    /// `user_share_cpuN`, `system_share_cpuN`, `irq_share_cpuN`, `idle_share_cpuN` and
    /// `steal_share_cpuN` for `cpu-share`, `interrupts_per_second` for `interrupts`. Linux does
    /// not count its network stack's time apart (it runs in softirqs, inside `irq`, and in system
    /// calls) nor its system calls, so there is no network share and no `syscalls` metric.
    public static func linux(before: LinuxCPUStat, after: LinuxCPUStat, seconds: Double,
                             measurements: Set<Measurement>) throws(LinuxCPUStatError) -> [String: Double] {
        let usage = try LinuxCPUUsage(from: before, to: after, seconds: seconds)
        return usage.metrics.filter { name, _ in
            name == MetricName.interruptsPerSecond ? measurements.contains(.interrupts) : measurements.contains(.cpuShare)
        }
    }

    /// Whether a load records anything from the guest's counters (and so needs the snapshots).
    public static func needsSnapshots(_ measurements: Set<Measurement>) -> Bool {
        !measurements.isDisjoint(with: [.cpuShare, .interrupts, .syscalls])
    }

    /// The `cpu` labels of the CPU families, in numeric order.
    private static func cpuLabels(_ samples: PrometheusSamples) -> [String] {
        var labels = Set<String>()
        for sample in samples.samples where sample.name.hasPrefix("swiglet_cpu_") {
            // Per-context series repeat the sums with one context; the CPU families have none,
            // but be safe.
            guard sample.labels["context"] == nil, let cpu = sample.labels["cpu"] else { continue }
            labels.insert(cpu)
        }
        return labels.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
    }
}
