// swiglet-bench tcp-rr: request and answer over several TCP echo connections at once, a window of requests outstanding on each, optionally at an offered rate; every answer checked byte for byte.

import Glibc

/// One connection of tcp-rr: the requests it has outstanding (a ring of `window` slots, each
/// holding the bytes sent so the echo can be compared) and how far their bytes have been
/// written and echoed. TCP is a byte stream, so the answer to request k is simply the k-th
/// `size` bytes that come back.
final class RequestConnection {
    let index: Int
    let size: Int
    let window: Int
    var descriptor: Int32 = -1
    /// Not connected; try again at this time (monotonic nanoseconds).
    var retryAt: UInt64 = 0
    /// Sequence numbers: `oldest` is the first request not yet fully echoed, `next` the next to issue.
    var oldest: UInt64 = 0
    var next: UInt64 = 0
    /// Bytes of the outstanding requests written so far, counted from the start of `oldest`.
    var written = 0
    /// Bytes of `oldest`'s answer received and found equal.
    var echoed = 0
    /// When each outstanding request was due (its round trip counts from then), by slot.
    var dueAt: [UInt64]
    let bytes: UnsafeMutableRawBufferPointer

    init(index: Int, size: Int, window: Int) {
        self.index = index
        self.size = size
        self.window = window
        dueAt = [UInt64](repeating: 0, count: window)
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size * window, alignment: 16)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        bytes.deallocate()
    }

    var outstanding: Int { Int(next - oldest) }
    var connected: Bool { descriptor >= 0 }
    /// Bytes issued but not yet written.
    var unwritten: Int { outstanding * size - written }

    func slot(_ sequence: UInt64) -> Int { Int(sequence % UInt64(window)) }

    func request(_ sequence: UInt64) -> UnsafeMutableRawBufferPointer {
        let start = slot(sequence) * size
        return UnsafeMutableRawBufferPointer(rebasing: bytes[start ..< start + size])
    }

    /// Issues the next request, due at `due`: its bytes name this connection and its number.
    func issue(due: UInt64) {
        Datagram.fill(request(next), sequence: UInt64(index) << 40 | next, sentAt: due)
        dueAt[slot(next)] = due
        next += 1
    }

    /// Writes what it can of the issued requests; false when the connection failed.
    func flush() -> Bool {
        while unwritten > 0 {
            // The unwritten bytes start inside request `oldest + written / size`.
            let sequence = oldest + UInt64(written / size)
            let offset = written % size
            let piece = request(sequence)
            let sent = send(descriptor, piece.baseAddress! + offset, size - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if sent < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            written += sent
        }
        return true
    }

    /// Forgets every outstanding request and the socket; returns how many requests were lost.
    func reset(retryAt time: UInt64) -> Int {
        let lost = outstanding
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        oldest = next
        written = 0
        echoed = 0
        retryAt = time
        return lost
    }
}

/// What a tcp-rr measurement counted.
struct RequestTally {
    var completed = 0
    var issued = 0
    var mismatched = 0
    var timeouts = 0
    var closed = 0
    var connectFailed = 0
    var latencies: [UInt64] = []

    var failed: Int { mismatched + timeouts + closed + connectFailed }
}

enum TCPRequestAnswer {
    static func run(_ options: TCPModeOptions) -> Int32 {
        let target = options.target!
        let size = options.requestSize
        let window = options.window
        let rate = Double(options.rate)
        let timeout = UInt64(options.requestTimeoutMilliseconds) * 1_000_000
        var connections = (0..<options.connectionCount).map { RequestConnection(index: $0, size: size, window: window) }
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { receive.deallocate() }

        var tally = RequestTally()
        tally.latencies.reserveCapacity(1 << 20)
        let start = monotonicNanoseconds()
        let measureStart = start + UInt64(options.warmup * 1e9)
        let measureEnd = measureStart + UInt64(options.duration * 1e9)
        let drainEnd = measureEnd + timeout
        var cpuAtStart: UInt64 = 0
        var counting = false
        // The offered schedule: request number `scheduled` is due at `due(scheduled)`.
        let interval = rate > 0 ? 1e9 / rate : 0
        var scheduled: UInt64 = 0
        func due(_ number: UInt64) -> UInt64 { start + UInt64(Double(number) * interval) }
        var cursor = 0  // round robin over the connections for scheduled requests
        var connectFailureReported = false  // the first failed connect is printed, the rest counted

        /// Counts `count` failed requests of kind `kind` if they belong to the measurement.
        func fail(_ count: Int, _ kind: WritableKeyPath<RequestTally, Int>, dueAt: UInt64) {
            if dueAt >= measureStart && dueAt < measureEnd { tally[keyPath: kind] += count }
        }
        func connectAll(now: UInt64) {
            for connection in connections where !connection.connected && now >= connection.retryAt {
                switch connectTCP(target, timeoutMilliseconds: Int32(options.connectTimeoutMilliseconds)) {
                case .success(let descriptor):
                    var one: Int32 = 1
                    // Small requests go out at once, not held back by Nagle's algorithm.
                    _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                    connection.descriptor = descriptor
                case .failure(let error):
                    let at = monotonicNanoseconds()
                    if at >= measureStart && at < measureEnd { tally.connectFailed += 1 }
                    if !connectFailureReported {
                        connectFailureReported = true
                        printError("tcp-rr: \(error.message)")
                    }
                    connection.retryAt = at + 100_000_000
                }
            }
        }

        connectAll(now: start)
        var pollers = [pollfd](repeating: pollfd(), count: connections.count)
        while true {
            var now = monotonicNanoseconds()
            if !counting && now >= measureStart {
                counting = true
                cpuAtStart = processCPUNanoseconds()
            }
            let issuing = now < measureEnd
            let anyOutstanding = connections.contains { $0.outstanding > 0 }
            if now >= drainEnd || (!issuing && !anyOutstanding) { break }
            if issuing { connectAll(now: now) }

            // Issue: closed loop fills every window; an offered rate issues what is due, round robin.
            if issuing {
                if rate == 0 {
                    for connection in connections where connection.connected {
                        while connection.outstanding < window { connection.issue(due: now); tally.issued += counting ? 1 : 0 }
                    }
                } else {
                    while due(scheduled) <= now {
                        var chosen: RequestConnection?
                        for step in 0..<connections.count {
                            let candidate = connections[(cursor + step) % connections.count]
                            if candidate.connected && candidate.outstanding < window {
                                chosen = candidate
                                cursor = (cursor + step + 1) % connections.count
                                break
                            }
                        }
                        guard let chosen else { break }  // every window is full: the request waits, its clock running
                        chosen.issue(due: due(scheduled))
                        if due(scheduled) >= measureStart { tally.issued += 1 }
                        scheduled += 1
                    }
                }
            }
            for connection in connections where connection.connected && connection.unwritten > 0 {
                if !connection.flush() {
                    let dueAt = connection.dueAt[connection.slot(connection.oldest)]
                    fail(connection.reset(retryAt: now), \.closed, dueAt: dueAt)
                }
            }

            // Requests outstanding too long fail their connection: a byte stream cannot skip one.
            for connection in connections where connection.outstanding > 0 {
                let dueAt = connection.dueAt[connection.slot(connection.oldest)]
                if now >= dueAt + timeout { fail(connection.reset(retryAt: now), \.timeouts, dueAt: dueAt) }
            }

            // Wait for answers, at most until a timeout, the next due request or the phase's end.
            var wakeAt = now < measureStart ? measureStart : (now < measureEnd ? measureEnd : drainEnd)
            for connection in connections where connection.outstanding > 0 {
                wakeAt = min(wakeAt, connection.dueAt[connection.slot(connection.oldest)] + timeout)
            }
            if rate > 0 && issuing && connections.contains(where: { $0.connected && $0.outstanding < window }) {
                wakeAt = min(wakeAt, max(due(scheduled), now))
            }
            if connections.contains(where: { !$0.connected }) && issuing {
                wakeAt = min(wakeAt, max(now, connections.filter { !$0.connected }.map(\.retryAt).min()!))
            }
            for (i, connection) in connections.enumerated() {
                pollers[i] = pollfd(fd: connection.descriptor, events: Int16(POLLIN) | (connection.connected && connection.unwritten > 0 ? Int16(POLLOUT) : 0), revents: 0)
            }
            if pollPrecisely(&pollers, nanoseconds: min(wakeAt > now ? wakeAt - now : 0, 1_000_000_000)) == 0 { continue }

            // Take the answers: each byte must equal the byte sent at the same place in the stream.
            for (i, connection) in connections.enumerated() where connection.connected && pollers[i].revents != 0 {
                while connection.connected {
                    let received = recv(connection.descriptor, receive.baseAddress, receive.count, Int32(MSG_DONTWAIT))
                    if received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                    now = monotonicNanoseconds()
                    let dueAt = connection.dueAt[connection.slot(connection.oldest)]
                    if received <= 0 {
                        // Closed or reset by the server: its outstanding requests are lost.
                        fail(max(connection.reset(retryAt: now), 1), \.closed, dueAt: dueAt)
                        break
                    }
                    var offset = 0
                    while offset < received {
                        guard connection.outstanding > 0 else {
                            // Bytes nobody asked for.
                            fail(max(connection.reset(retryAt: now), 1), \.mismatched, dueAt: now)
                            break
                        }
                        let expected = connection.request(connection.oldest)
                        let count = min(received - offset, connection.size - connection.echoed)
                        guard memcmp(receive.baseAddress! + offset, expected.baseAddress! + connection.echoed, count) == 0 else {
                            let dueAt = connection.dueAt[connection.slot(connection.oldest)]
                            fail(connection.reset(retryAt: now), \.mismatched, dueAt: dueAt)
                            break
                        }
                        offset += count
                        connection.echoed += count
                        if connection.echoed == connection.size {
                            let dueAt = connection.dueAt[connection.slot(connection.oldest)]
                            if counting && now < measureEnd {
                                tally.completed += 1
                                tally.latencies.append(now - dueAt)
                            }
                            connection.oldest += 1
                            connection.echoed = 0
                            connection.written -= connection.size
                        }
                    }
                }
            }
        }
        // Whatever is still outstanding after the drain timed out.
        for connection in connections where connection.outstanding > 0 {
            let dueAt = connection.dueAt[connection.slot(connection.oldest)]
            fail(connection.reset(retryAt: 0), \.timeouts, dueAt: dueAt)
        }
        connections.removeAll()

        let seconds = Double(measureEnd - measureStart) / 1e9
        let cpuPercent = cpuAtStart > 0 ? Double(processCPUNanoseconds() - cpuAtStart) / 1e9 / seconds * 100 : 0
        tally.latencies.sort()
        let p50 = tally.latencies.isEmpty ? 0 : Double(percentile(tally.latencies, 0.50)) / 1000
        let p99 = tally.latencies.isEmpty ? 0 : Double(percentile(tally.latencies, 0.99)) / 1000
        let perSecond = Double(tally.completed) / seconds
        let offered = rate > 0 ? "\(Report.grouped(rate)) req/s offered" : "as fast as answers come"
        print("tcp-rr: \(options.connectionCount) connections to \(target), \(size) B, window \(window), \(offered): "
            + "\(Report.grouped(perSecond)) answers/s verified, p50 \(formatted(p50)) µs, p99 \(formatted(p99)) µs, "
            + "\(tally.failed) failed")
        print("result: mode=tcp-rr connections=\(options.connectionCount) size=\(size) window=\(window) "
            + "offered_rps=\(formatted(rate)) seconds=\(formatted(seconds, 3)) requests=\(tally.completed) "
            + "rps=\(formatted(perSecond)) p50_us=\(formatted(p50)) p99_us=\(formatted(p99)) issued=\(tally.issued) "
            + "mismatched=\(tally.mismatched) timeouts=\(tally.timeouts) closed=\(tally.closed) "
            + "connect_failed=\(tally.connectFailed) client_cpu_pct=\(formatted(cpuPercent))")
        return tally.completed > 0 && tally.failed == 0 ? 0 : 1
    }
}
