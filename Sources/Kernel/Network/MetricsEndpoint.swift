/// The metrics endpoint's content: every counter of the kernel in Prometheus text format (served on TCP port 9090 by the network contexts).
import Channels
import HTTP
import Network
import NetworkContext
import RawBytes
import Synchronization
import TCP

/// Renders `/metrics`; the contexts serve it (`NetworkContext`'s metrics sessions), so
/// monitoring needs no program and works while programs misbehave. A slow path: it reads every
/// context's counters while their CPUs keep counting (aligned 64-bit loads, never torn on x86;
/// a sample may be a pass behind).
///
/// What it exports (Prometheus exposition format 0.0.4), summed over the network contexts:
/// - `swiglet_frames_total`, `swiglet_bytes_total` {layer, direction}: the stack per protocol;
/// - `swiglet_drops_total` {reason}: the stack's drops by reason;
/// - `swiglet_tcp_*`: segments, drops by reason, connections by state, retransmissions (timeout,
///   fast), opens, SYN cookies, resets, and connection events (duplicate ACKs, out-of-order
///   segments, zero-window probes, challenge ACKs);
/// - `swiglet_cpu_*` {cpu, role}: the intrusion meter — interrupts, exceptions, IPIs, timer
///   interrupts, system calls, user and kernel time — per online CPU;
/// - `swiglet_channel_*` {channel}: requests, completions, errors, stream bytes per channel.
enum MetricsEndpoint {
    nonisolated(unsafe) private static var number = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)

    /// Writes every metric into `buffer`; nil when it does not fit.
    static func render(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = PrometheusWriter(buffer)
        renderStack(&writer)
        renderTCP(&writer)
        renderCPUs(&writer)
        renderChannels(&writer)
        switch writer.finish() {
        case .success(let text): return text.count
        case .failure: return nil
        }
    }

    /// `value` summed over the contexts.
    private static func sum(_ value: (KernelNetworkContext) -> UInt64) -> UInt64 {
        var total: UInt64 = 0
        for context in NetworkCore.contexts { total &+= value(context) }
        return total
    }

    private static func renderStack(_ writer: inout PrometheusWriter) {
        guard !NetworkCore.contexts.isEmpty else { return }
        var counters = NetworkCore.contexts[0].networkCounters
        for context in NetworkCore.contexts.dropFirst() { counters.add(context.networkCounters) }
        writer.family("swiglet_frames_total", type: .counter, help: "Frames (Ethernet) or packets (other layers) through the network core's stack.")
        layerSamples(&writer, "swiglet_frames_total", counters, bytes: false)
        writer.family("swiglet_bytes_total", type: .counter, help: "Bytes through the network core's stack, per layer.")
        layerSamples(&writer, "swiglet_bytes_total", counters, bytes: true)
        writer.family("swiglet_drops_total", type: .counter, help: "Frames and packets the stack dropped, by reason.")
        var raw: UInt8 = 0
        while let reason = DropReason(rawValue: raw) {
            writer.sample("swiglet_drops_total", label: "reason", reason.name, value: counters[drop: reason])
            raw += 1
        }
    }

    private static func layerSamples(_ writer: inout PrometheusWriter, _ name: StaticString, _ counters: NetworkCounters, bytes: Bool) {
        func pair(_ layer: StaticString, _ counts: LayerCounters) {
            for inbound in [true, false] {
                writer.beginSample(name)
                writer.label("layer", layer)
                writer.label("direction", inbound ? "in" : "out")
                writer.endSample(value: bytes ? (inbound ? counts.bytesIn : counts.bytesOut)
                                              : (inbound ? counts.framesIn : counts.framesOut))
            }
        }
        pair("ethernet", counters.ethernet)
        pair("arp", counters.arp)
        pair("ipv4", counters.ipv4)
        pair("icmp", counters.icmp)
        pair("udp", counters.udp)
        pair("tcp", counters.tcp)
    }

    private static func renderTCP(_ writer: inout PrometheusWriter) {
        guard !NetworkCore.contexts.isEmpty else { return }
        var counters = NetworkCore.contexts[0].tcpCounters
        for context in NetworkCore.contexts.dropFirst() { counters.add(context.tcpCounters) }
        writer.family("swiglet_tcp_segments_total", type: .counter, help: "TCP segments taken and sent by the connection table.")
        writer.sample("swiglet_tcp_segments_total", label: "direction", "in", value: counters.segmentsReceived)
        writer.sample("swiglet_tcp_segments_total", label: "direction", "out", value: counters.segmentsSent)
        writer.family("swiglet_tcp_drops_total", type: .counter, help: "TCP segments dropped by the connection table, by reason.")
        let reasons: [(StaticString, TCPDropReason)] = [
            ("malformed", .malformed), ("badChecksum", .badChecksum), ("notForUs", .notForUs),
            ("invalidSource", .invalidSource), ("noListener", .noListener),
            ("resetWithoutConnection", .resetWithoutConnection), ("notSynchronize", .notSynchronize),
            ("tableFull", .tableFull), ("backlogFull", .backlogFull), ("cookieRejected", .cookieRejected)]
        for (name, reason) in reasons {
            writer.sample("swiglet_tcp_drops_total", label: "reason", name, value: counters.drops[reason])
        }
        writer.family("swiglet_tcp_connections", type: .gauge, help: "TCP connections in the table, by state.")
        let states: [(StaticString, TCPState)] = [
            ("SYN-SENT", .synchronizeSent), ("SYN-RECEIVED", .synchronizeReceived), ("ESTABLISHED", .established),
            ("FIN-WAIT-1", .finishWait1), ("FIN-WAIT-2", .finishWait2), ("CLOSE-WAIT", .closeWait),
            ("CLOSING", .closing), ("LAST-ACK", .lastAcknowledgment), ("TIME-WAIT", .timeWait), ("CLOSED", .closed)]
        for (name, state) in states {
            writer.sample("swiglet_tcp_connections", label: "state", name, value: sum { UInt64($0.tcpConnectionCounts()[state]) })
        }
        writer.family("swiglet_tcp_retransmissions_total", type: .counter, help: "Segments sent again, by trigger.")
        writer.sample("swiglet_tcp_retransmissions_total", label: "trigger", "timeout", value: counters.connections.timeoutRetransmissions)
        writer.sample("swiglet_tcp_retransmissions_total", label: "trigger", "fast", value: counters.connections.fastRetransmissions)
        writer.family("swiglet_tcp_opens_total", type: .counter, help: "Connections opened.")
        writer.sample("swiglet_tcp_opens_total", label: "kind", "passive", value: counters.passiveOpens)
        writer.sample("swiglet_tcp_opens_total", label: "kind", "active", value: counters.activeOpens)
        writer.family("swiglet_tcp_syn_cookies_total", type: .counter, help: "SYN cookies sent (listen backlog full) and accepted.")
        writer.sample("swiglet_tcp_syn_cookies_total", label: "event", "sent", value: counters.synCookiesSent)
        writer.sample("swiglet_tcp_syn_cookies_total", label: "event", "accepted", value: counters.synCookiesAccepted)
        writer.family("swiglet_tcp_resets_total", type: .counter, help: "RST segments sent and received.")
        writer.sample("swiglet_tcp_resets_total", label: "direction", "out", value: counters.resetsSent)
        writer.sample("swiglet_tcp_resets_total", label: "direction", "in", value: counters.resetsReceived)
        writer.family("swiglet_tcp_events_total", type: .counter, help: "Protocol events counted by the connections.")
        let statistics = counters.connections
        writer.sample("swiglet_tcp_events_total", label: "event", "duplicate_ack", value: statistics.duplicateAcknowledgments)
        writer.sample("swiglet_tcp_events_total", label: "event", "out_of_order", value: statistics.outOfOrderSegments)
        writer.sample("swiglet_tcp_events_total", label: "event", "zero_window_probe", value: statistics.zeroWindowProbes)
        writer.sample("swiglet_tcp_events_total", label: "event", "challenge_ack", value: statistics.challengeAcknowledgments)
        writer.sample("swiglet_tcp_events_total", label: "event", "unacceptable_segment", value: statistics.unacceptableSegments)
        writer.sample("swiglet_tcp_events_total", label: "event", "time_wait_reclaimed", value: counters.timeWaitReclaimed)
        writer.family("swiglet_metrics_requests_total", type: .counter, help: "Requests this endpoint answered, and connections it refused (all sessions busy).")
        writer.sample("swiglet_metrics_requests_total", label: "outcome", "served", value: sum { $0.metricsServed })
        writer.sample("swiglet_metrics_requests_total", label: "outcome", "refused", value: sum { $0.metricsRefused })
    }

    private static func renderCPUs(_ writer: inout PrometheusWriter) {
        let families: [(StaticString, StaticString)] = [
            ("swiglet_cpu_interrupts_total", "Interrupts taken (all vectors) per CPU: the OS intrusion the network core keeps off application CPUs."),
            ("swiglet_cpu_exceptions_total", "Exceptions taken per CPU."),
            ("swiglet_cpu_ipis_total", "Inter-processor interrupts taken per CPU (doorbells, stop requests)."),
            ("swiglet_cpu_timer_interrupts_total", "Local APIC timer interrupts taken per CPU."),
            ("swiglet_cpu_system_calls_total", "System calls made on each CPU."),
            ("swiglet_cpu_user_nanoseconds_total", "Time spent in ring 3 per CPU."),
            ("swiglet_cpu_kernel_nanoseconds_total", "Time in the kernel while a program ran, per CPU."),
            ("swiglet_cpu_network_nanoseconds_total", "Time each CPU spent running the network stack in the kernel (symmetric mode).")]
        for (which, family) in families.enumerated() {
            writer.family(family.0, type: .counter, help: family.1)
            for index in 0..<Kernel.onlineCPUs {
                let block = CPU.blockPointer(index)
                // Relaxed loads: statistics, read while their CPUs keep counting.
                let value: UInt64 = switch which {
                case 0: block.pointee.interruptCount.load(ordering: .relaxed)
                case 1: block.pointee.exceptionCount.load(ordering: .relaxed)
                case 2: block.pointee.interprocessorInterruptCount.load(ordering: .relaxed)
                case 3: block.pointee.timerInterruptCount.load(ordering: .relaxed)
                case 4: block.pointee.systemCallCount.load(ordering: .relaxed)
                case 5: block.pointee.userNanoseconds.load(ordering: .relaxed)
                case 6: block.pointee.kernelNanoseconds.load(ordering: .relaxed)
                default: block.pointee.networkNanoseconds.load(ordering: .relaxed)
                }
                writer.beginSample(family.0)
                writer.label("cpu", value: decimal(index))
                writer.label("role", NetworkCore.isNetworkCPU(index) ? "network"
                                     : Programs.name(onCPU: index) != nil ? "program" : "idle")
                writer.endSample(value: value)
            }
        }
    }

    private static func renderChannels(_ writer: inout PrometheusWriter) {
        let families: [(StaticString, StaticString)] = [
            ("swiglet_channel_requests_total", "Requests taken from each program channel."),
            ("swiglet_channel_completions_total", "Completions pushed to each program channel."),
            ("swiglet_channel_errors_total", "Requests refused with an error, per channel."),
            ("swiglet_channel_stream_bytes_total", "TCP bytes moved through each channel (direction: out = program to network).")]
        for (which, family) in families.enumerated() {
            writer.family(family.0, type: .counter, help: family.1)
            // Channels are numbered across the contexts, in context order.
            var channel = 0
            for context in NetworkCore.contexts {
                for local in 0..<context.channelCount {
                    let counters = context.channelCounters(local)
                    if which == 3 {
                        for outbound in [true, false] {
                            writer.beginSample(family.0)
                            writer.label("channel", value: decimal(channel))
                            writer.label("direction", outbound ? "out" : "in")
                            writer.endSample(value: outbound ? counters.streamBytesSent : counters.streamBytesReceived)
                        }
                    } else {
                        writer.beginSample(family.0)
                        writer.label("channel", value: decimal(channel))
                        writer.endSample(value: which == 0 ? counters.requests : which == 1 ? counters.completions : counters.totalErrors)
                    }
                    channel += 1
                }
            }
        }
    }

    /// `value` in decimal, in a scratch buffer valid until the next call.
    private static func decimal(_ value: Int) -> UnsafeRawBufferPointer {
        var digits = 0
        var rest = max(value, 0)
        repeat { digits += 1; rest /= 10 } while rest > 0
        rest = max(value, 0)
        var position = digits
        repeat {
            position -= 1
            number.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: position, as: UInt8.self)
            rest /= 10
        } while rest > 0
        return UnsafeRawBufferPointer(start: number, count: digits)
    }
}
