/// A context's own HTTP endpoint: `GET /metrics` on its metrics port, rendered by the host, served over the context's TCP table.
import HTTP
import RawBytes
import TCP

/// `/metrics` (or `/`) rendered fresh by the host for every request.
struct HostMetricsSource<Host: NetworkContextHost>: HTTPContentSource {
    let host: Host
    let text: UnsafeMutableRawBufferPointer

    mutating func content(for path: ByteReader) -> HTTPContentLookup {
        guard path.equals("/metrics") || path.equals("/") else { return .notFound }
        guard let length = host.renderMetrics(into: text) else { return .failed }
        return .found(body: UnsafeRawBufferPointer(rebasing: text[..<length]), type: .prometheusText)
    }
}

/// The endpoint's sessions: a few connections at once (more are closed at once, counted), so
/// monitoring needs no program and works while programs misbehave. Everything is allocated
/// when the context is built.
struct MetricsSessions<Host: NetworkContextHost> {
    static var capacity: Int { 4 }
    static var textCapacity: Int { 64 * 1024 }
    static var inputCapacity: Int { 2048 }
    let sessions: UnsafeMutablePointer<HTTPServerSession<HostMetricsSource<Host>>>
    /// The connection each session serves, -1 when free.
    var connections = InlineArray<4, Int>(repeating: -1)
    let source: HostMetricsSource<Host>
    let head = UnsafeMutableRawBufferPointer.allocate(byteCount: HTTPResponseHead.maximumLength, alignment: 16)
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputCapacity, alignment: 16)
    /// Connections refused because every session was busy.
    var refused: UInt64 = 0
    /// Requests answered.
    var served: UInt64 = 0

    init(host: Host) {
        source = HostMetricsSource(host: host, text: .allocate(byteCount: Self.textCapacity, alignment: 16))
        sessions = .allocate(capacity: Self.capacity)
        sessions.initialize(repeating: HTTPServerSession(source: source), count: Self.capacity)
    }

    func slot(of id: Int) -> Int? {
        for slot in 0..<Self.capacity where connections[slot] == id { return slot }
        return nil
    }
}

extension NetworkContext {
    /// Handles what happened on metrics connection `id`: reads requests, queues answers, and
    /// closes after the answer (or at once when every session is busy).
    func serveMetrics(_ id: TCPConnectionID, events: TCPConnectionEvents, now: UInt64) {
        var output = segmentOutput(now: now)
        var session = metrics.pointee.slot(of: Int(id))
        if session == nil {
            guard events.contains(.accepted), let free = metrics.pointee.slot(of: -1) else {
                metrics.pointee.refused &+= 1
                release(id, now: now)
                return
            }
            metrics.pointee.connections[free] = Int(id)
            metrics.pointee.sessions[free] = HTTPServerSession(source: metrics.pointee.source)
            session = free
        }
        let sessions = metrics.pointee.sessions
        let slot = session!
        let input = metrics.pointee.input
        while table.pointee.readableCount(of: id) > 0 && !sessions[slot].isFinished {
            let count = table.pointee.read(from: id, into: input, now: now, output: &output)
            var offset = 0
            while offset < count && !sessions[slot].isFinished {
                let (consumed, response) = sessions[slot].receive(
                    UnsafeRawBufferPointer(rebasing: input[offset..<count]), headBuffer: metrics.pointee.head)
                offset += consumed
                if let response {
                    metrics.pointee.served &+= 1
                    _ = table.pointee.send(ByteReader(response.head), on: id, now: now, output: &output)
                    _ = table.pointee.send(ByteReader(response.body), on: id, now: now, output: &output)
                }
                if consumed == 0 && response == nil { break }
            }
        }
        if sessions[slot].isFinished || events.contains(.peerFinished) || events.contains(.closed) {
            // Our answer is queued: close after it (a FIN; the table keeps the connection until done).
            metrics.pointee.connections[slot] = -1
            release(id, now: now)
        }
    }
}
