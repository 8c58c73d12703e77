/// The metrics endpoint's content: every counter of the kernel in Prometheus text format (served on TCP port 9090 by the network contexts).
import Channels
import HTTP
import Network
import NetworkContext
import NetworkRecording
import RawBytes
import Scheduling
import Synchronization
import TCP
import Virtio

/// Renders `/metrics`; the contexts serve it (`NetworkContext`'s metrics sessions), so
/// monitoring needs no program and works while programs misbehave. A slow path: it reads every
/// context's counters while their CPUs keep counting (aligned 64-bit loads, never torn on x86;
/// a sample may be a pass behind).
///
/// What it exports (Prometheus exposition format 0.0.4). Every network counter comes twice: the
/// sum over the network contexts (the series without a `context` label, as with one context),
/// and each context's own (`context="N"`). So sum over `{context!=""}`, or take the unlabelled
/// series; never sum over both.
/// - `swiglet_network_context_info` {context, mode, cpu, queue_pair}: the placement;
/// - `swiglet_network_handoffs_total` {event}: frames handed between contexts;
/// - `swiglet_nic_checksum_offloads_total` {direction}: frames whose TCP or UDP checksum the
///   device finished (transmit) or vouched for (receive), with `offload=` csum and guest-csum;
/// - `swiglet_nic_tso_frames_total`, `swiglet_nic_tso_segments_total`: TCP frames handed to the
///   device to cut (`offload=` tso4) and the segments it made of them;
/// - `swiglet_nic_merged_frames_total` {result}: received frames the device merged from TCP
///   segments (`offload=` guest-tso4), and merged packets dropped as malformed;
/// - `swiglet_nic_notifications_total` {queue}: doorbell writes to the device's transmit and
///   receive queues (what `offload=` event-idx saves);
/// - `swiglet_nic_link_up`, `swiglet_nic_link_changes_total` {direction}, `swiglet_nic_resets_total`
///   {event}: the NIC's link (QEMU's `set_link`) and DEVICE_NEEDS_RESET, read every 10 ms;
/// - `swiglet_record_*`: with `record=on`, the recording's events, bytes, capacity, and whether it filled;
/// - `swiglet_frames_total`, `swiglet_bytes_total` {layer, direction}: the stack per protocol;
/// - `swiglet_drops_total` {reason}: the stack's drops by reason;
/// - `swiglet_tcp_*`: segments, drops by reason, connections by state, retransmissions (timeout,
///   fast), opens, SYN cookies, resets, and connection events (duplicate ACKs, out-of-order
///   segments, zero-window probes, challenge ACKs);
/// - `swiglet_cpu_*` {cpu, role}: the intrusion meter — interrupts, exceptions, IPIs, timer
///   interrupts, system calls, and user, kernel, network and idle time in seconds — per online
///   CPU, and the NIC's receive-queue interrupts each CPU took;
/// - `swiglet_channel_*` {channel}: requests, completions, errors, stream bytes per channel, and
///   datagrams dropped at the channel by reason (`swiglet_channel_drops_total`);
/// - `swiglet_memory_*`: the kernel's free 4 KiB frames and usable bytes.
enum MetricsEndpoint {
    nonisolated(unsafe) private static var number = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)

    /// Writes every metric into `buffer`; nil when it does not fit.
    static func render(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = PrometheusWriter(buffer)
        renderPlacement(&writer)
        renderNICHealth(&writer)
        renderRecording(&writer)
        renderStack(&writer)
        renderTCP(&writer)
        renderCPUs(&writer)
        renderPrograms(&writer)
        renderChannels(&writer)
        renderMemory(&writer)
        switch writer.finish() {
        case .success(let text): return text.count
        case .failure: return nil
        }
    }

    /// The scopes every network counter is rendered in: nil is the sum over the contexts (the
    /// series without a `context` label), then each context by number.
    private static var scopes: Range<Int> { -1..<NetworkCore.contexts.count }

    /// The stack's counters of `scope` (-1: the sum).
    private static func networkCounters(_ scope: Int) -> NetworkCounters {
        if scope >= 0 { return NetworkCore.contexts[scope].networkCounters }
        var counters = NetworkCore.contexts[0].networkCounters
        for context in NetworkCore.contexts.dropFirst() { counters.add(context.networkCounters) }
        return counters
    }

    /// The TCP table's counters of `scope` (-1: the sum).
    private static func tcpCounters(_ scope: Int) -> TCPCounters {
        if scope >= 0 { return NetworkCore.contexts[scope].tcpCounters }
        var counters = NetworkCore.contexts[0].tcpCounters
        for context in NetworkCore.contexts.dropFirst() { counters.add(context.tcpCounters) }
        return counters
    }

    /// `value` of `scope`: one context's, or summed over them (-1).
    private static func scoped(_ scope: Int, _ value: (KernelNetworkContext) -> UInt64) -> UInt64 {
        if scope >= 0 { return value(NetworkCore.contexts[scope]) }
        var total: UInt64 = 0
        for context in NetworkCore.contexts { total &+= value(context) }
        return total
    }

    /// A counter family whose only label is `context`: the sum, then each context's value.
    private static func contextCounter(_ writer: inout PrometheusWriter, _ name: StaticString, help: StaticString,
                                       _ value: (KernelNetworkContext) -> UInt64) {
        contextFamily(&writer, name, type: .counter, help: help, value)
    }

    /// A family of `type` whose only label is `context`: the sum, then each context's value.
    private static func contextFamily(_ writer: inout PrometheusWriter, _ name: StaticString, type: MetricType,
                                      help: StaticString, _ value: (KernelNetworkContext) -> UInt64) {
        writer.family(name, type: type, help: help)
        for scope in scopes {
            writer.beginSample(name)
            if scope >= 0 { writer.label("context", value: decimal(scope)) }
            writer.endSample(value: scoped(scope, value))
        }
    }

    /// A counter family with one label of two values, each a per-context counter: the sum,
    /// then each context, for both values.
    private static func pairCounter(_ writer: inout PrometheusWriter, _ name: StaticString, help: StaticString,
                                    label: StaticString,
                                    _ first: (StaticString, (KernelNetworkContext) -> UInt64),
                                    _ second: (StaticString, (KernelNetworkContext) -> UInt64)) {
        writer.family(name, type: .counter, help: help)
        for scope in scopes {
            sample(&writer, name, label: label, first.0, scope: scope, value: scoped(scope, first.1))
            sample(&writer, name, label: label, second.0, scope: scope, value: scoped(scope, second.1))
        }
    }

    /// One sample with one label, and the `context` label unless `scope` is the sum.
    private static func sample(_ writer: inout PrometheusWriter, _ name: StaticString, label: StaticString,
                               _ labelValue: StaticString, scope: Int, value: UInt64) {
        writer.beginSample(name)
        writer.label(label, labelValue)
        if scope >= 0 { writer.label("context", value: decimal(scope)) }
        writer.endSample(value: value)
    }

    /// A gauge family of one unlabelled sample.
    private static func gauge(_ writer: inout PrometheusWriter, _ name: StaticString, help: StaticString, _ value: UInt64) {
        writer.family(name, type: .gauge, help: help)
        writer.beginSample(name)
        writer.endSample(value: value)
    }

    /// Every program channel with its counters, numbered across the contexts in context order
    /// (the `channel` label of every channel family).
    private static func forEachChannel(_ body: (Int, ChannelCounters) -> Void) {
        var channel = 0
        for context in NetworkCore.contexts {
            for local in 0..<context.channelCount {
                body(channel, context.channelCounters(local))
                channel += 1
            }
        }
    }

    /// The network's shape: mode, contexts, their CPUs and queue pairs (a constant 1, in labels).
    private static func renderPlacement(_ writer: inout PrometheusWriter) {
        guard !NetworkCore.contexts.isEmpty else { return }
        writer.family("swiglet_network_context_info", type: .gauge,
                      help: "One series per network context: the placement mode, the CPU that runs it (dedicated) or takes its queue's interrupt (symmetric), and its queue pair.")
        for index in 0..<NetworkCore.contexts.count {
            writer.beginSample("swiglet_network_context_info")
            writer.label("context", value: decimal(index))
            writer.label("mode", NetworkCore.isSymmetric ? "symmetric" : "dedicated")
            writer.label("cpu", value: decimal(NetworkCore.contextCPU(index)))
            writer.label("queue_pair", value: decimal(index))
            writer.endSample(value: UInt64(1))
        }
        writer.family("swiglet_network_handoffs_total", type: .counter,
                      help: "Frames a context received from its NIC queue and handed to the context that serves their port (out), took from other contexts (in), could not hand off because the ring was full (dropped), and ARP packets it shared with every other context (arp).")
        for scope in scopes {
            let counters = handOffCounters(scope)
            sample(&writer, "swiglet_network_handoffs_total", label: "event", "out", scope: scope, value: counters.handedOut)
            sample(&writer, "swiglet_network_handoffs_total", label: "event", "in", scope: scope, value: counters.handedIn)
            sample(&writer, "swiglet_network_handoffs_total", label: "event", "dropped", scope: scope, value: counters.dropped)
            sample(&writer, "swiglet_network_handoffs_total", label: "event", "arp", scope: scope, value: counters.arpShared)
        }
        pairCounter(&writer, "swiglet_nic_checksum_offloads_total",
                    help: "Frames whose TCP or UDP checksum the NIC finished (transmit, VIRTIO_NET_F_CSUM) or vouched for so the stack did not sum it (receive, VIRTIO_NET_F_GUEST_CSUM).",
                    label: "direction", ("transmit", { $0.transmitter.inner.checksumsOffloaded }),
                    ("receive", { $0.frameReceiver.inner.checksumsTrusted }))
        pairCounter(&writer, "swiglet_nic_merged_frames_total",
                    help: "Received frames the NIC merged from several TCP segments (VIRTIO_NET_F_GUEST_TSO4; taken), and packets spread over receive buffers that were dropped because their buffer count or size was wrong (dropped).",
                    label: "result", ("taken", { $0.frameReceiver.inner.coalescedFrames }),
                    ("dropped", { $0.frameReceiver.inner.badMergedFrames }))
        pairCounter(&writer, "swiglet_nic_notifications_total",
                    help: "Notifications (doorbell writes) the driver sent the NIC: after queuing frames (transmit) and after giving back receive buffers (receive), each only when the device asked for it (VIRTIO_F_EVENT_IDX: avail_event; otherwise VIRTQ_USED_F_NO_NOTIFY clear).",
                    label: "queue", ("transmit", { $0.transmitter.inner.notifications }),
                    ("receive", { $0.frameReceiver.inner.notifications }))
        contextCounter(&writer, "swiglet_nic_tso_frames_total",
                       help: "TCP frames longer than one MTU handed to the NIC to cut into MSS-sized segments (VIRTIO_NET_F_HOST_TSO4).") {
            $0.transmitter.inner.segmentedFrames
        }
        contextCounter(&writer, "swiglet_nic_tso_segments_total",
                       help: "The MSS-sized segments the NIC made of the frames in swiglet_nic_tso_frames_total.") {
            $0.transmitter.inner.segmentedPieces
        }
    }

    private static func handOffCounters(_ scope: Int) -> HandOffCounters {
        if scope >= 0 { return NetworkCore.contexts[scope].handOffCounters }
        var counters = HandOffCounters()
        for context in NetworkCore.contexts { counters.add(context.handOffCounters) }
        return counters
    }

    /// `record=on`: how far the recording has got, and whether its ring filled.
    private static func renderRecording(_ writer: inout PrometheusWriter) {
        guard let recorder = NetworkCore.recorder else { return }
        gauge(&writer, "swiglet_record_events", help: "Events in the network context's recording (record=on).",
              UInt64(recorder.pointee.events))
        gauge(&writer, "swiglet_record_bytes", help: "Bytes of events in the recording, of its ring's swiglet_record_capacity_bytes.",
              UInt64(recorder.pointee.used))
        gauge(&writer, "swiglet_record_capacity_bytes", help: "The recording ring's size; once full, recording stops (swiglet_record_full 1).",
              UInt64(NetworkCore.recordingBytes))
        gauge(&writer, "swiglet_record_full", help: "1 when the recording's ring filled up and recording stopped.",
              recorder.pointee.isFull ? 1 : 0)
    }

    /// The NIC's link state and its changes, and resets it asked for (`NICWatch`).
    private static func renderNICHealth(_ writer: inout PrometheusWriter) {
        guard let health = NetworkCore.nicWatch?.health else { return }
        gauge(&writer, "swiglet_nic_link_up", help: "1 while the NIC's link is up (virtio-net status, read every 10 ms).",
              health.linkUp ? 1 : 0)
        writer.family("swiglet_nic_link_changes_total", type: .counter, help: "Times the NIC's link went down and came back up.")
        sample(&writer, "swiglet_nic_link_changes_total", label: "direction", "down", scope: -1, value: health.linkDowns)
        sample(&writer, "swiglet_nic_link_changes_total", label: "direction", "up", scope: -1, value: health.linkUps)
        writer.family("swiglet_nic_resets_total", type: .counter, help: "Times the NIC set DEVICE_NEEDS_RESET (needed), and resets done.")
        sample(&writer, "swiglet_nic_resets_total", label: "event", "needed", scope: -1, value: health.resetsNeeded)
        sample(&writer, "swiglet_nic_resets_total", label: "event", "done", scope: -1, value: health.resetsDone)
    }

    private static func renderStack(_ writer: inout PrometheusWriter) {
        guard !NetworkCore.contexts.isEmpty else { return }
        writer.family("swiglet_frames_total", type: .counter, help: "Frames (Ethernet) or packets (other layers) through the network contexts' stacks.")
        for scope in scopes { layerSamples(&writer, "swiglet_frames_total", networkCounters(scope), bytes: false, scope: scope) }
        writer.family("swiglet_bytes_total", type: .counter, help: "Bytes through the network contexts' stacks, per layer.")
        for scope in scopes { layerSamples(&writer, "swiglet_bytes_total", networkCounters(scope), bytes: true, scope: scope) }
        writer.family("swiglet_drops_total", type: .counter, help: "Frames and packets the stack dropped, by reason.")
        for scope in scopes {
            let counters = networkCounters(scope)
            var raw: UInt8 = 0
            while let reason = DropReason(rawValue: raw) {
                sample(&writer, "swiglet_drops_total", label: "reason", reason.name, scope: scope, value: counters[drop: reason])
                raw += 1
            }
        }
    }

    private static func layerSamples(_ writer: inout PrometheusWriter, _ name: StaticString, _ counters: NetworkCounters,
                                     bytes: Bool, scope: Int) {
        func pair(_ layer: StaticString, _ counts: LayerCounters) {
            for inbound in [true, false] {
                writer.beginSample(name)
                writer.label("layer", layer)
                writer.label("direction", inbound ? "in" : "out")
                if scope >= 0 { writer.label("context", value: decimal(scope)) }
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
        writer.family("swiglet_tcp_segments_total", type: .counter, help: "TCP segments taken and sent by the connection tables.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_segments_total", label: "direction", "in", scope: scope, value: counters.segmentsReceived)
            sample(&writer, "swiglet_tcp_segments_total", label: "direction", "out", scope: scope, value: counters.segmentsSent)
        }
        writer.family("swiglet_tcp_drops_total", type: .counter, help: "TCP segments dropped by the connection tables, by reason.")
        let reasons: [(StaticString, TCPDropReason)] = [
            ("malformed", .malformed), ("badChecksum", .badChecksum), ("notForUs", .notForUs),
            ("invalidSource", .invalidSource), ("noListener", .noListener),
            ("resetWithoutConnection", .resetWithoutConnection), ("notSynchronize", .notSynchronize),
            ("tableFull", .tableFull), ("backlogFull", .backlogFull), ("cookieRejected", .cookieRejected)]
        for scope in scopes {
            let counters = tcpCounters(scope)
            for (name, reason) in reasons {
                sample(&writer, "swiglet_tcp_drops_total", label: "reason", name, scope: scope, value: counters.drops[reason])
            }
        }
        writer.family("swiglet_tcp_connections", type: .gauge, help: "TCP connections in the tables, by state.")
        let states: [(StaticString, TCPState)] = [
            ("SYN-SENT", .synchronizeSent), ("SYN-RECEIVED", .synchronizeReceived), ("ESTABLISHED", .established),
            ("FIN-WAIT-1", .finishWait1), ("FIN-WAIT-2", .finishWait2), ("CLOSE-WAIT", .closeWait),
            ("CLOSING", .closing), ("LAST-ACK", .lastAcknowledgment), ("TIME-WAIT", .timeWait), ("CLOSED", .closed)]
        for scope in scopes {
            for (name, state) in states {
                sample(&writer, "swiglet_tcp_connections", label: "state", name, scope: scope,
                       value: scoped(scope) { UInt64($0.tcpConnectionCounts()[state]) })
            }
        }
        writer.family("swiglet_tcp_retransmissions_total", type: .counter, help: "Segments sent again, by trigger.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_retransmissions_total", label: "trigger", "timeout", scope: scope, value: counters.connections.timeoutRetransmissions)
            sample(&writer, "swiglet_tcp_retransmissions_total", label: "trigger", "fast", scope: scope, value: counters.connections.fastRetransmissions)
        }
        writer.family("swiglet_tcp_opens_total", type: .counter, help: "Connections opened.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_opens_total", label: "kind", "passive", scope: scope, value: counters.passiveOpens)
            sample(&writer, "swiglet_tcp_opens_total", label: "kind", "active", scope: scope, value: counters.activeOpens)
        }
        writer.family("swiglet_tcp_syn_cookies_total", type: .counter, help: "SYN cookies sent (listen backlog full) and accepted.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_syn_cookies_total", label: "event", "sent", scope: scope, value: counters.synCookiesSent)
            sample(&writer, "swiglet_tcp_syn_cookies_total", label: "event", "accepted", scope: scope, value: counters.synCookiesAccepted)
        }
        writer.family("swiglet_tcp_timer_visits_total", type: .counter,
                      help: "Connections the 1 ms timer polls looked at (the timing wheel's due slots, not every connection), and due timers the once-a-second safety sweep found that the wheel missed (should stay 0).")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_timer_visits_total", label: "source", "wheel", scope: scope, value: counters.timerVisits)
            sample(&writer, "swiglet_tcp_timer_visits_total", label: "source", "sweep", scope: scope, value: counters.timerSweepCatches)
        }
        contextCounter(&writer, "swiglet_tcp_notice_visits_total",
                       help: "Connections the network core visited to pass TCP events on to their programs: follows the events and the room the programs' channels have, not the number of connections.") {
            $0.tcpNoticeVisits
        }
        contextFamily(&writer, "swiglet_tcp_connections_waiting", type: .gauge,
                      help: "Connections whose events wait for room in their program's channel (a completion slot, a posted receive buffer).") {
            UInt64($0.tcpConnectionsWaitingForPrograms)
        }
        contextCounter(&writer, "swiglet_tcp_transmit_refusals_total",
                       help: "TCP segments the NIC refused because its transmit queue was full; connections send what was refused on a later pass.") {
            $0.tcpCounters.transmitRefusals
        }
        writer.family("swiglet_tcp_resets_total", type: .counter, help: "RST segments sent and received.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            sample(&writer, "swiglet_tcp_resets_total", label: "direction", "out", scope: scope, value: counters.resetsSent)
            sample(&writer, "swiglet_tcp_resets_total", label: "direction", "in", scope: scope, value: counters.resetsReceived)
        }
        writer.family("swiglet_tcp_events_total", type: .counter, help: "Protocol events counted by the connections.")
        for scope in scopes {
            let counters = tcpCounters(scope)
            let statistics = counters.connections
            sample(&writer, "swiglet_tcp_events_total", label: "event", "duplicate_ack", scope: scope, value: statistics.duplicateAcknowledgments)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "out_of_order", scope: scope, value: statistics.outOfOrderSegments)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "zero_window_probe", scope: scope, value: statistics.zeroWindowProbes)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "challenge_ack", scope: scope, value: statistics.challengeAcknowledgments)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "unacceptable_segment", scope: scope, value: statistics.unacceptableSegments)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "time_wait_reclaimed", scope: scope, value: counters.timeWaitReclaimed)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "time_wait_reopened", scope: scope, value: counters.timeWaitReopened)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "buffer_refused", scope: scope, value: statistics.bufferRefusals)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "buffer_grown", scope: scope, value: statistics.bufferGrowths)
            sample(&writer, "swiglet_tcp_events_total", label: "event", "out_of_window_ack_suppressed", scope: scope,
                   value: statistics.outOfWindowRepliesSuppressed)
        }
        contextCounter(&writer, "swiglet_tcp_direct_bytes_total",
                       help: "Received bytes copied once, from the NIC's buffer straight into a program's channel buffer, never held by TCP.") {
            $0.tcpCounters.connections.directlyDelivered
        }
        contextCounter(&writer, "swiglet_tcp_lent_bytes_total",
                       help: "Sent bytes lent by programs (tcp-send=lend): read from their channel buffers until acknowledged, never copied into a TCP buffer.") {
            $0.tcpCounters.connections.bytesLent
        }
        writer.family("swiglet_tcp_buffer_bytes", type: .gauge,
                      help: "The TCP buffer pool: bytes held by connections' send and receive buffers, free, and the most ever held.")
        for scope in scopes {
            sample(&writer, "swiglet_tcp_buffer_bytes", label: "state", "used", scope: scope, value: scoped(scope) { UInt64($0.tcpBufferPool.bytesInUse) })
            sample(&writer, "swiglet_tcp_buffer_bytes", label: "state", "free", scope: scope, value: scoped(scope) { UInt64($0.tcpBufferPool.bytesFree) })
            sample(&writer, "swiglet_tcp_buffer_bytes", label: "state", "peak", scope: scope, value: scoped(scope) { UInt64($0.tcpBufferPool.peakBytesInUse) })
        }
        writer.family("swiglet_tcp_capacity", type: .gauge, help: "Connection slots in the TCP tables (sized from memory at boot).")
        for scope in scopes {
            sample(&writer, "swiglet_tcp_capacity", label: "kind", "slots", scope: scope, value: scoped(scope) { UInt64($0.tcpCapacity) })
        }
        writer.family("swiglet_metrics_requests_total", type: .counter, help: "Requests this endpoint answered, connections it refused (all sessions busy), and sessions it closed after 30 s idle.")
        for scope in scopes {
            sample(&writer, "swiglet_metrics_requests_total", label: "outcome", "served", scope: scope, value: scoped(scope) { $0.metricsServed })
            sample(&writer, "swiglet_metrics_requests_total", label: "outcome", "refused", scope: scope, value: scoped(scope) { $0.metricsRefused })
            sample(&writer, "swiglet_metrics_requests_total", label: "outcome", "expired", scope: scope, value: scoped(scope) { $0.metricsExpired })
        }
    }

    /// Physical memory: the frames the kernel has free (what an ended program gives back
    /// returns here) and how much there is in all.
    private static func renderMemory(_ writer: inout PrometheusWriter) {
        gauge(&writer, "swiglet_memory_free_frames", help: "4 KiB physical frames the kernel's frame allocator has free.",
              UInt64(PhysicalMemory.freeFrameCount))
        gauge(&writer, "swiglet_memory_usable_bytes", help: "Physical memory the kernel may use, from the firmware's memory map.",
              PhysicalMemory.usableBytes)
    }

    private static func renderCPUs(_ writer: inout PrometheusWriter) {
        for family in CPUFamily.allCases {
            let (name, help, isTime) = family.description
            writer.family(name, type: .counter, help: help)
            for index in 0..<Kernel.onlineCPUs {
                let value = family.value(of: CPU.blockPointer(index))
                writer.beginSample(name)
                writer.label("cpu", value: decimal(index))
                writer.label("role", NetworkCore.isNetworkCPU(index) ? "network"
                                     : Programs.names(onCPU: index) != nil ? "program" : "idle")
                if isTime { writer.endSample(nanosecondsAsSeconds: value) } else { writer.endSample(value: value) }
            }
        }
    }

    /// The per-CPU counter families, in the order `/metrics` shows them, each read from the
    /// CPU's `CPUBlock`.
    private enum CPUFamily: CaseIterable {
        case interrupts, exceptions, ipisTaken, timerInterrupts, systemCalls
        case user, kernel, network, idle
        case ipisSent, ipiSend, deviceNotify, apicWrite, apicWrites, nicInterrupts, networkKicks

        /// The family's name and help text, and whether it is a time (kept in nanoseconds,
        /// shown in seconds, Prometheus' base unit) or a count: one line per family.
        var description: (name: StaticString, help: StaticString, isTime: Bool) {
            switch self {
            case .interrupts: ("swiglet_cpu_interrupts_total", "Interrupts taken (all vectors) per CPU: the OS intrusion the network core keeps off application CPUs.", false)
            case .exceptions: ("swiglet_cpu_exceptions_total", "Exceptions taken per CPU.", false)
            case .ipisTaken: ("swiglet_cpu_ipis_total", "Inter-processor interrupts taken per CPU (doorbells, stop requests).", false)
            case .timerInterrupts: ("swiglet_cpu_timer_interrupts_total", "Local APIC timer interrupts taken per CPU.", false)
            case .systemCalls: ("swiglet_cpu_system_calls_total", "System calls made on each CPU.", false)
            case .user: ("swiglet_cpu_user_seconds_total", "Time spent in ring 3 per CPU.", true)
            case .kernel: ("swiglet_cpu_kernel_seconds_total", "Time in the kernel while a program ran, per CPU (sleep in wait included: see swiglet_cpu_idle_seconds_total).", true)
            case .network: ("swiglet_cpu_network_seconds_total", "Time each CPU spent running the network stack: a dedicated network core's passes that found work (not its empty polls), or the kernel's passes in symmetric mode.", true)
            case .idle: ("swiglet_cpu_idle_seconds_total", "Time each CPU's program slept in wait (part of the kernel time, but no work).", true)
            case .ipisSent: ("swiglet_cpu_ipis_sent_total", "Inter-processor interrupts sent by each CPU (a network core's doorbells).", false)
            case .ipiSend: ("swiglet_cpu_ipi_send_seconds_total", "Time each CPU spent sending IPIs (under QEMU, waiting for its global lock included).", true)
            case .deviceNotify: ("swiglet_cpu_device_notify_seconds_total", "Time each CPU spent writing virtio's notify register (under QEMU, waiting for its global lock included).", true)
            case .apicWrite: ("swiglet_cpu_apic_write_seconds_total", "Time each CPU spent writing its APIC's timer and end-of-interrupt registers (under QEMU, waiting for its global lock included).", true)
            case .apicWrites: ("swiglet_cpu_apic_writes_total", "APIC timer and end-of-interrupt writes per CPU (those swiglet_cpu_apic_write_seconds_total times).", false)
            case .nicInterrupts: ("swiglet_cpu_nic_interrupts_total", "NIC receive-queue interrupts taken per CPU: symmetric mode's network work, or with net-idle=interrupt the arrivals that woke a halted network core.", false)
            case .networkKicks: ("swiglet_cpu_network_kicks_total", "Kick system calls made on each CPU that woke a halted network core (net-idle=halt or interrupt): its programs' requests that found it asleep.", false)
            }
        }

        /// The value in `block`. Relaxed loads: statistics, read while their CPUs keep counting.
        func value(of block: UnsafeMutablePointer<CPUBlock>) -> UInt64 {
            switch self {
            case .interrupts: block.pointee.interruptCount.load(ordering: .relaxed)
            case .exceptions: block.pointee.exceptionCount.load(ordering: .relaxed)
            case .ipisTaken: block.pointee.interprocessorInterruptCount.load(ordering: .relaxed)
            case .timerInterrupts: block.pointee.timerInterruptCount.load(ordering: .relaxed)
            case .systemCalls: block.pointee.systemCallCount.load(ordering: .relaxed)
            case .user: block.pointee.userNanoseconds.load(ordering: .relaxed)
            case .kernel: block.pointee.kernelNanoseconds.load(ordering: .relaxed)
            case .network: block.pointee.networkNanoseconds.load(ordering: .relaxed)
            case .idle: block.pointee.idleNanoseconds.load(ordering: .relaxed)
            case .ipisSent: block.pointee.interprocessorInterruptsSent.load(ordering: .relaxed)
            case .ipiSend: block.pointee.interprocessorInterruptSendNanoseconds.load(ordering: .relaxed)
            case .deviceNotify: block.pointee.deviceNotifyNanoseconds.load(ordering: .relaxed)
            case .apicWrite: block.pointee.apicWriteNanoseconds.load(ordering: .relaxed)
            case .apicWrites: block.pointee.apicWrites.load(ordering: .relaxed)
            case .nicInterrupts: NetworkInterrupts.count(cpu: block.pointee.index)
            case .networkKicks: block.pointee.networkKicks.load(ordering: .relaxed)
            }
        }
    }

    /// Each running program's account on its CPU (`CPUScheduler`): CPU time, times put on
    /// the CPU, preempted, and woken from `wait`.
    private static func renderPrograms(_ writer: inout PrometheusWriter) {
        let families: [(StaticString, StaticString)] = [
            ("swiglet_program_cpu_seconds_total", "Time each program had its CPU (ring 3 and its system calls and interrupts)."),
            ("swiglet_program_switches_total", "Times each program was put on its CPU."),
            ("swiglet_program_preemptions_total", "Times each program's time slice ran out while another program of its CPU was ready."),
            ("swiglet_program_wakeups_total", "Times each program was woken from a blocking wait."),
            ("swiglet_program_wait_timeouts_total", "Times each program's wait system call ended by its timeout rather than by its word changing (under steady load: a lost wake-up).")]
        for (which, family) in families.enumerated() {
            writer.family(family.0, type: .counter, help: family.1)
            Programs.forEachLive { slot, name, cpu in
                guard let account = ProgramTasks.account(slot: slot) else { return }
                writer.beginSample(family.0)
                name.withBytes { writer.label("program", value: $0) }
                writer.label("id", value: decimal(slot))
                writer.label("cpu", value: decimal(cpu))
                switch which {
                case 0: writer.endSample(nanosecondsAsSeconds: account.cpuNanoseconds)
                case 1: writer.endSample(value: account.switchesIn)
                case 2: writer.endSample(value: account.preemptions)
                case 3: writer.endSample(value: account.wakeups)
                default: writer.endSample(value: account.waitTimeouts)
                }
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
            forEachChannel { channel, counters in
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
            }
        }
        // Datagrams a channel could not take: the load shed at the program's door, by reason.
        writer.family("swiglet_channel_drops_total", type: .counter,
                      help: "Datagrams for a channel dropped, by reason (no posted buffer, completion ring full, too large, not deliverable).")
        forEachChannel { channel, counters in
            let reasons: [(StaticString, UInt64)] = [
                ("no_buffer", counters.droppedNoReceiveBuffer), ("ring_full", counters.droppedCompletionRingFull),
                ("too_large", counters.droppedTooLarge), ("not_deliverable", counters.droppedNotDeliverable)]
            for (reason, value) in reasons {
                writer.beginSample("swiglet_channel_drops_total")
                writer.label("channel", value: decimal(channel))
                writer.label("reason", reason)
                writer.endSample(value: value)
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
