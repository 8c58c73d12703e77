/// The network core's own HTTP endpoint: its counters in Prometheus text format on TCP port 9090.
import Channels
import HTTP
import Network
import RawBytes
import Synchronization
import TCP

/// The content of the metrics endpoint: `/metrics` is rendered fresh for every request.
struct MetricsSource: HTTPContentSource {
    mutating func content(for path: ByteReader) -> HTTPContentLookup {
        guard path.equals("/metrics") || path.equals("/") else { return .notFound }
        switch MetricsEndpoint.render() {
        case .success(let text): return .found(body: text, type: .prometheusText)
        case .failure: return .failed
        }
    }
}

/// Serves `GET /metrics` from the network core itself, so monitoring needs no program and works
/// while programs misbehave. The connections are ordinary table connections owned by
/// `TCPService.metricsOwner`; a few may be open at once (more are closed at once, counted).
/// Everything is allocated at start; the text is rendered into one buffer per request.
///
/// What it exports (Prometheus exposition format 0.0.4):
/// - `swiglet_frames_total`, `swiglet_bytes_total` {layer, direction}: the stack per protocol;
/// - `swiglet_drops_total` {reason}: the stack's drops by reason;
/// - `swiglet_tcp_*`: segments, drops by reason, connections by state, retransmissions (timeout,
///   fast), opens, SYN cookies, resets, and connection events (duplicate ACKs, out-of-order
///   segments, zero-window probes, challenge ACKs);
/// - `swiglet_cpu_*` {cpu, role}: the intrusion meter — interrupts, exceptions, IPIs, timer
///   interrupts, system calls, user and kernel time — per online CPU;
/// - `swiglet_channel_*` {channel}: requests, completions, errors, stream bytes per channel.
enum MetricsEndpoint {
    /// The TCP port (Prometheus' own default is 9090 too).
    static let port: UInt16 = 9090
    /// Sessions at once.
    static let sessionCapacity = 4
    nonisolated(unsafe) private static var sessions: UnsafeMutablePointer<HTTPServerSession<MetricsSource>>? = nil
    nonisolated(unsafe) private static var sessionConnections = InlineArray<4, Int>(repeating: -1)
    /// Connections refused because every session was busy.
    nonisolated(unsafe) private(set) static var refused: UInt64 = 0
    /// Requests answered.
    nonisolated(unsafe) private(set) static var served: UInt64 = 0
    static let textCapacity = 64 * 1024
    nonisolated(unsafe) private static var text: UnsafeMutableRawPointer? = nil
    nonisolated(unsafe) private static var head: UnsafeMutableRawPointer? = nil
    nonisolated(unsafe) private static var input: UnsafeMutableRawPointer? = nil
    static let inputCapacity = 2048
    nonisolated(unsafe) private static var number: UnsafeMutableRawPointer? = nil

    private static func prepare() {
        guard sessions == nil else { return }
        sessions = UnsafeMutablePointer<HTTPServerSession<MetricsSource>>.allocate(capacity: sessionCapacity)
        sessions!.initialize(repeating: HTTPServerSession(source: MetricsSource()), count: sessionCapacity)
        text = UnsafeMutableRawPointer.allocate(byteCount: textCapacity, alignment: 16)
        head = UnsafeMutableRawPointer.allocate(byteCount: HTTPResponseHead.maximumLength, alignment: 16)
        input = UnsafeMutableRawPointer.allocate(byteCount: inputCapacity, alignment: 16)
        number = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
    }

    /// Handles what happened on metrics connection `id`.
    static func serve(_ id: TCPConnectionID, events: TCPConnectionEvents, now: UInt64) {
        prepare()
        var output = StackSegmentTransmitter(now: now)
        var slot = sessionSlot(of: id)
        if slot == nil {
            guard events.contains(.accepted), let free = sessionSlot(of: nil) else {
                refused &+= 1
                TCPService.release(id, now: now)
                return
            }
            sessionConnections[free] = Int(id)
            sessions![free] = HTTPServerSession(source: MetricsSource())
            slot = free
        }
        let session = slot!
        while TCPService.table!.pointee.readableCount(of: id) > 0 && !sessions![session].isFinished {
            let count = TCPService.table!.pointee.read(from: id, into: UnsafeMutableRawBufferPointer(start: input!, count: inputCapacity),
                                               now: now, output: &output)
            var offset = 0
            while offset < count && !sessions![session].isFinished {
                let (consumed, response) = sessions![session].receive(
                    UnsafeRawBufferPointer(start: input! + offset, count: count - offset),
                    headBuffer: UnsafeMutableRawBufferPointer(start: head!, count: HTTPResponseHead.maximumLength))
                offset += consumed
                if let response {
                    served &+= 1
                    _ = TCPService.table!.pointee.send(ByteReader(response.head), on: id, now: now, output: &output)
                    _ = TCPService.table!.pointee.send(ByteReader(response.body), on: id, now: now, output: &output)
                }
                if consumed == 0 && response == nil { break }
            }
        }
        if sessions![session].isFinished || events.contains(.peerFinished) || events.contains(.closed) {
            // Our answer is queued: close after it (a FIN; the table keeps the connection until done).
            sessionConnections[session] = -1
            TCPService.release(id, now: now)
        }
    }

    private static func sessionSlot(of id: TCPConnectionID?) -> Int? {
        let wanted = id.map { Int($0) } ?? -1
        for slot in 0..<sessionCapacity where sessionConnections[slot] == wanted { return slot }
        return nil
    }

    // MARK: Rendering

    /// Writes every metric into the text buffer.
    static func render() -> Result<UnsafeRawBufferPointer, PrometheusError> {
        prepare()
        var writer = PrometheusWriter(UnsafeMutableRawBufferPointer(start: text!, count: textCapacity))
        renderStack(&writer)
        renderTCP(&writer)
        renderCPUs(&writer)
        renderChannels(&writer)
        return writer.finish()
    }

    private static func renderStack(_ writer: inout PrometheusWriter) {
        guard let counters = NetworkCore.stack?.counters else { return }
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
        guard let table = TCPService.table?.pointee else { return }   // a copy: metrics are a slow path
        let counters = table.counters
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
        let counts = table.connectionCounts()
        let states: [(StaticString, TCPState)] = [
            ("SYN-SENT", .synchronizeSent), ("SYN-RECEIVED", .synchronizeReceived), ("ESTABLISHED", .established),
            ("FIN-WAIT-1", .finishWait1), ("FIN-WAIT-2", .finishWait2), ("CLOSE-WAIT", .closeWait),
            ("CLOSING", .closing), ("LAST-ACK", .lastAcknowledgment), ("TIME-WAIT", .timeWait), ("CLOSED", .closed)]
        for (name, state) in states {
            writer.sample("swiglet_tcp_connections", label: "state", name, value: UInt64(counts[state]))
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
        writer.sample("swiglet_metrics_requests_total", label: "outcome", "served", value: served)
        writer.sample("swiglet_metrics_requests_total", label: "outcome", "refused", value: refused)
    }

    private static func renderCPUs(_ writer: inout PrometheusWriter) {
        let families: [(StaticString, StaticString)] = [
            ("swiglet_cpu_interrupts_total", "Interrupts taken (all vectors) per CPU: the OS intrusion the network core keeps off application CPUs."),
            ("swiglet_cpu_exceptions_total", "Exceptions taken per CPU."),
            ("swiglet_cpu_ipis_total", "Inter-processor interrupts taken per CPU (doorbells, stop requests)."),
            ("swiglet_cpu_timer_interrupts_total", "Local APIC timer interrupts taken per CPU."),
            ("swiglet_cpu_system_calls_total", "System calls made on each CPU."),
            ("swiglet_cpu_user_nanoseconds_total", "Time spent in ring 3 per CPU."),
            ("swiglet_cpu_kernel_nanoseconds_total", "Time in the kernel while a program ran, per CPU.")]
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
                default: block.pointee.kernelNanoseconds.load(ordering: .relaxed)
                }
                writer.beginSample(family.0)
                writer.label("cpu", value: decimal(index))
                writer.label("role", index == NetworkCore.cpu.load(ordering: .relaxed) ? "network"
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
            for channel in 0..<ProgramChannels.count {
                let counters = ProgramChannels.counters(channel: channel)
                if which == 3 {
                    for outbound in [true, false] {
                        writer.beginSample(family.0)
                        writer.label("channel", value: decimal(channel))
                        writer.label("direction", outbound ? "out" : "in")
                        writer.endSample(value: outbound ? counters.streamBytesSent : counters.streamBytesReceived)
                    }
                    continue
                }
                writer.beginSample(family.0)
                writer.label("channel", value: decimal(channel))
                writer.endSample(value: which == 0 ? counters.requests : which == 1 ? counters.completions : counters.totalErrors)
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
            number!.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: position, as: UInt8.self)
            rest /= 10
        } while rest > 0
        return UnsafeRawBufferPointer(start: number!, count: digits)
    }
}
