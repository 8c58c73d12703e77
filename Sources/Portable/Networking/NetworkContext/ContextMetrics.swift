/// A context's own HTTP endpoint: `GET /metrics` on its metrics port, rendered by the host, served over the context's TCP table.
import HTTP
import RawBytes
import TCP

/// `/metrics` rendered fresh by the host for every request, and `/`, the live meter page
/// that reads it (`MeterPage`).
struct HostMetricsSource<Host: NetworkContextHost>: HTTPContentSource {
    let host: Host
    let text: UnsafeMutableRawBufferPointer

    mutating func content(for path: ByteReader) -> HTTPContentLookup {
        if path.equals("/") || path.equals("/index.html") { return .found(body: MeterPage.bytes, type: .html) }
        guard path.equals("/metrics") else { return .notFound }
        guard let length = host.renderMetrics(into: text) else { return .failed }
        return .found(body: UnsafeRawBufferPointer(rebasing: text[..<length]), type: .prometheusText)
    }
}

/// One session's state beside its HTTP session: which connection, when it last did something,
/// what of its answer the TCP send buffer has not taken yet, and request bytes read from the
/// table but not yet parsed (the next pipelined request, held while an answer is pending).
struct MetricsSlot {
    /// The connection served, -1 when free.
    var connection = -1
    /// The last time a request arrived or answer bytes went out (for the idle timeout).
    var lastActivity: UInt64 = 0
    /// The unsent rest of the answer's head and body (in this slot's own buffers).
    var pendingHead = UnsafeRawBufferPointer(start: nil, count: 0)
    var pendingBody = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Bytes of `carry` (this slot's leftover input) still to parse.
    var carried = 0
    var hasPendingOutput: Bool { !pendingHead.isEmpty || !pendingBody.isEmpty }
}

/// The endpoint's sessions: a few connections at once (more are closed at once, counted), so
/// monitoring needs no program and works while programs misbehave. Each session has its own
/// text and head buffers, because an answer larger than the connection's send buffer goes out
/// over several passes while others are answered. A session idle for `idleTimeout` is closed,
/// so connections that never send a request cannot hold the endpoint. Everything is allocated
/// when the context is built (4 × 130 KiB: the text of 64 channels, many programs and every
/// counter fits).
struct MetricsSessions<Host: NetworkContextHost> {
    static var capacity: Int { 4 }
    static var textCapacity: Int { 128 * 1024 }
    static var inputCapacity: Int { 2048 }
    /// How long a session may do nothing: longer than Prometheus' default scrape interval
    /// (15 s), so a scraper's keep-alive connection usually survives between scrapes.
    static var idleTimeout: UInt64 { 30_000_000_000 }
    let sessions: UnsafeMutablePointer<HTTPServerSession<HostMetricsSource<Host>>>
    let sources: UnsafeMutablePointer<HostMetricsSource<Host>>
    var slots = InlineArray<4, MetricsSlot>(repeating: MetricsSlot())
    /// Per slot: the response head (`HTTPResponseHead.maximumLength`) and leftover input (`inputCapacity`).
    let heads: UnsafeMutableRawPointer
    let carries: UnsafeMutableRawPointer
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputCapacity, alignment: 16)
    /// Connections refused because every session was busy.
    var refused: UInt64 = 0
    /// Requests answered.
    var served: UInt64 = 0
    /// Sessions closed for being idle.
    var expired: UInt64 = 0

    init(host: Host) {
        sources = .allocate(capacity: Self.capacity)
        sessions = .allocate(capacity: Self.capacity)
        heads = .allocate(byteCount: Self.capacity * HTTPResponseHead.maximumLength, alignment: 16)
        carries = .allocate(byteCount: Self.capacity * Self.inputCapacity, alignment: 16)
        for slot in 0..<Self.capacity {
            let source = HostMetricsSource(host: host, text: .allocate(byteCount: Self.textCapacity, alignment: 16))
            (sources + slot).initialize(to: source)
            (sessions + slot).initialize(to: HTTPServerSession(source: source))
        }
    }

    func slot(of id: Int) -> Int? {
        for slot in 0..<Self.capacity where slots[slot].connection == id { return slot }
        return nil
    }

    func head(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: heads + slot * HTTPResponseHead.maximumLength, count: HTTPResponseHead.maximumLength)
    }

    func carry(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: carries + slot * Self.inputCapacity, count: Self.inputCapacity)
    }
}

extension NetworkContext {
    /// Handles what happened on metrics connection `id`: sends what is left of an answer, reads
    /// requests, queues answers, and closes after an answer that ends the connection, or when
    /// the peer is done (or at once when every session is busy). An answer goes out as the send
    /// buffer takes it (`.writable` brings the next part); the connection closes only after all of it.
    func serveMetrics(_ id: TCPConnectionID, events: TCPConnectionEvents, now: UInt64) {
        var session = metrics.pointee.slot(of: Int(id))
        if session == nil {
            guard events.contains(.accepted), let free = metrics.pointee.slot(of: -1) else {
                metrics.pointee.refused &+= 1
                release(id, now: now)
                return
            }
            metrics.pointee.slots[free] = MetricsSlot(connection: Int(id), lastActivity: now)
            metrics.pointee.sessions[free] = HTTPServerSession(source: metrics.pointee.sources[free])
            session = free
        }
        let slot = session!
        if events.contains(.closed) {   // reset or timed out: nothing more can be sent
            freeMetricsSession(slot, id, now: now)
            return
        }
        guard sendPendingMetrics(slot, id, now: now) else { return }
        let sessions = metrics.pointee.sessions
        let input = metrics.pointee.input
        while !sessions[slot].isFinished {
            // Leftover input first (a pipelined request held back by a pending answer), then the table.
            let count: Int
            if metrics.pointee.slots[slot].carried > 0 {
                count = metrics.pointee.slots[slot].carried
                input.copyMemory(from: UnsafeRawBufferPointer(rebasing: metrics.pointee.carry(slot)[..<count]))
                metrics.pointee.slots[slot].carried = 0
            } else {
                guard table.pointee.readableCount(of: id) > 0 else { break }
                var output = segmentOutput(now: now)
                count = table.pointee.read(from: id, into: input, now: now, output: &output)
                guard count > 0 else { break }
            }
            metrics.pointee.slots[slot].lastActivity = now
            var offset = 0
            while offset < count && !sessions[slot].isFinished {
                let (consumed, response) = sessions[slot].receive(
                    UnsafeRawBufferPointer(rebasing: input[offset..<count]), headBuffer: metrics.pointee.head(slot))
                offset += consumed
                if let response {
                    metrics.pointee.served &+= 1
                    metrics.pointee.slots[slot].pendingHead = response.head
                    metrics.pointee.slots[slot].pendingBody = response.body
                    if !sendPendingMetrics(slot, id, now: now) {
                        // The rest of the input waits for the answer to go out.
                        let rest = count - offset
                        metrics.pointee.carry(slot).copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<count]))
                        metrics.pointee.slots[slot].carried = rest
                        return
                    }
                }
                if consumed == 0 && response == nil { break }
            }
        }
        if sessions[slot].isFinished || events.contains(.peerFinished) {
            // Every answer is queued: close after it (a FIN; the table keeps the connection until done).
            freeMetricsSession(slot, id, now: now)
        }
    }

    /// Hands the table as much of slot `slot`'s pending answer as its send buffer takes;
    /// returns whether all of it is queued.
    private func sendPendingMetrics(_ slot: Int, _ id: TCPConnectionID, now: UInt64) -> Bool {
        guard metrics.pointee.slots[slot].hasPendingOutput else { return true }
        var output = segmentOutput(now: now)
        let head = metrics.pointee.slots[slot].pendingHead
        if !head.isEmpty {
            let taken = table.pointee.send(ByteReader(head), on: id, now: now, output: &output)
            metrics.pointee.slots[slot].pendingHead = UnsafeRawBufferPointer(rebasing: head[taken...])
            if taken > 0 { metrics.pointee.slots[slot].lastActivity = now }
            guard taken == head.count else { return false }
        }
        let body = metrics.pointee.slots[slot].pendingBody
        let taken = table.pointee.send(ByteReader(body), on: id, now: now, output: &output)
        metrics.pointee.slots[slot].pendingBody = UnsafeRawBufferPointer(rebasing: body[taken...])
        if taken > 0 { metrics.pointee.slots[slot].lastActivity = now }
        return taken == body.count
    }

    private func freeMetricsSession(_ slot: Int, _ id: TCPConnectionID, now: UInt64) {
        metrics.pointee.slots[slot] = MetricsSlot()
        release(id, now: now)
    }

    /// Closes metrics sessions that did nothing for `MetricsSessions.idleTimeout` (run with TCP's timers).
    func expireIdleMetricsSessions(now: UInt64) {
        for slot in 0..<MetricsSessions<Host>.capacity {
            let state = metrics.pointee.slots[slot]
            guard state.connection >= 0, now &- state.lastActivity > MetricsSessions<Host>.idleTimeout else { continue }
            metrics.pointee.expired &+= 1
            freeMetricsSession(slot, TCPConnectionID(state.connection), now: now)
        }
    }
}
