// The TCP load generators over ordinary sockets: one-connection echo throughput, and connections per second.

import Glibc

/// A sockaddr_in for an endpoint.
func socketAddress(_ endpoint: Endpoint) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = endpoint.port.bigEndian
    address.sin_addr = endpoint.address
    return address
}

func errorText() -> String { String(cString: strerror(errno)) }

/// Linux's IP_BIND_ADDRESS_NO_PORT (linux/in.h): bind only the address, and choose the port
/// at connect time, per destination, instead of one unused on every destination.
let bindAddressNoPort: Int32 = 24

/// Connects a new TCP socket to `endpoint` within `timeoutMilliseconds`, from local address
/// `source` (host order) when given; returns the (blocking) descriptor or an error text.
func connectTCP(_ endpoint: Endpoint, timeoutMilliseconds: Int32, source: UInt32? = nil) -> Result<Int32, ClientError> {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { return .failure(ClientError(message: "socket: \(errorText())")) }
    if let source {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_IP), bindAddressNoPort, &one, socklen_t(MemoryLayout<Int32>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = source.bigEndian
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = errorText(); close(fd)
            return .failure(ClientError(message: "bind to a --sources address: \(reason)"))
        }
    }
    var address = socketAddress(endpoint)
    let started = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if started != 0 {
        guard errno == EINPROGRESS else {
            let reason = errorText(); close(fd)
            return .failure(ClientError(message: "connect to \(endpoint): \(reason)"))
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else {
            close(fd)
            return .failure(ClientError(message: "connect to \(endpoint): no answer within \(timeoutMilliseconds) ms"))
        }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else {
            close(fd)
            return .failure(ClientError(message: "connect to \(endpoint): \(String(cString: strerror(failure)))"))
        }
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return .success(fd)
}

/// FNV-1a, 64 bits, over a stream fed in pieces.
struct StreamHash {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        value = hash
    }
}

enum TCPEchoThroughput {
    /// The pattern streamed: 1 MiB of xorshift bytes, repeated; its length is not a multiple
    /// of any chunk size used, so a misplaced chunk shows.
    static let patternSize = 1_048_573

    static func run(_ options: TCPModeOptions) -> Int32 {
        // With --duration the total is open until the time is up; then it is what was sent.
        var total = options.streamSeconds > 0 ? Int.max : options.mebibytes << 20
        let pattern = UnsafeMutableRawBufferPointer.allocate(byteCount: patternSize + options.chunk, alignment: 16)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in 0..<pattern.count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            pattern[index] = UInt8(truncatingIfNeeded: state)
        }
        // The tail repeats the head so a chunk starting near the end is contiguous.
        for index in 0..<options.chunk { pattern[patternSize + index] = pattern[index % patternSize] }
        let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

        let started = monotonicNanoseconds()
        let fd: Int32
        switch connectTCP(options.target, timeoutMilliseconds: 3000) {
        case .success(let descriptor): fd = descriptor
        case .failure(let error): printError(error.message); return 1
        }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var sent = 0, received = 0
        var sentHash = StreamHash(), receivedHash = StreamHash()
        var lastProgress = monotonicNanoseconds()
        let stall = UInt64(options.stallSeconds * 1e9)
        let sendingEnds = options.streamSeconds > 0 ? started + UInt64(options.streamSeconds * 1e9) : UInt64.max
        while received < total {
            if total == Int.max && monotonicNanoseconds() >= sendingEnds { total = sent }
            var pollers = pollfd(fd: fd, events: Int16(POLLIN) | (sent < total ? Int16(POLLOUT) : 0), revents: 0)
            let ready = poll(&pollers, 1, 100)
            if ready < 0 && errno != EINTR { printError("poll: \(errorText())"); return 1 }
            if pollers.revents & Int16(POLLOUT) != 0 && sent < total {
                let offset = sent % patternSize
                let length = min(options.chunk, total - sent)
                let count = send(fd, pattern.baseAddress! + offset, length, Int32(MSG_NOSIGNAL))
                if count > 0 {
                    sentHash.add(UnsafeRawBufferPointer(start: pattern.baseAddress! + offset, count: count))
                    sent += count
                    lastProgress = monotonicNanoseconds()
                } else if count < 0 && errno != EAGAIN && errno != EINTR {
                    printError("send after \(sent) bytes: \(errorText())"); return 1
                }
            }
            if pollers.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let count = recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, 0)
                if count == 0 {
                    printError("the server closed the connection after echoing \(received) of \(sent) bytes sent"); return 1
                }
                if count < 0 {
                    if errno != EAGAIN && errno != EINTR { printError("recv after \(received) bytes: \(errorText())"); return 1 }
                } else {
                    let chunk = UnsafeRawBufferPointer(start: receiveBuffer.baseAddress!, count: count)
                    if count > sent - received {
                        printError("received \(count) bytes at offset \(received) but only \(sent - received) were outstanding"); return 1
                    }
                    // Compare with the pattern at this stream offset (which may wrap).
                    var checked = 0
                    while checked < count {
                        let offset = (received + checked) % patternSize
                        let length = min(count - checked, patternSize - offset)
                        if memcmp(pattern.baseAddress! + offset, chunk.baseAddress! + checked, length) != 0 {
                            var first = 0
                            while pattern[offset + first] == chunk[checked + first] { first += 1 }
                            printError("echoed byte \(received + checked + first) differs from the byte sent"); return 1
                        }
                        checked += length
                    }
                    receivedHash.add(chunk)
                    received += count
                    lastProgress = monotonicNanoseconds()
                }
            }
            if monotonicNanoseconds() - lastProgress > stall {
                printError("no progress for \(Report.formatSeconds(options.stallSeconds)): sent \(sent), echoed \(received) bytes")
                return 1
            }
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        guard sentHash.value == receivedHash.value else {
            printError("hash of the echo 0x\(String(receivedHash.value, radix: 16)) differs from the hash sent 0x\(String(sentHash.value, radix: 16))")
            return 1
        }
        let rate = Double(total) / 1_048_576 / seconds
        print("tcp-echo: \(formatted(Double(total) / 1_048_576)) MiB echoed by \(options.target!) in \(Report.formatSeconds(seconds)): \(formatted(rate)) MiB/s (every byte verified)")
        print("result: mode=tcp-echo bytes=\(total) seconds=\(formatted(seconds, 3)) mib_per_s=\(formatted(rate)) hash=0x\(String(receivedHash.value, radix: 16))")
        return 0
    }
}

/// One fixed-point number for the output.
func formatted(_ value: Double, _ decimals: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if decimals == 0 { text = String(text[..<dot]) } else if have < decimals { text += String(repeating: "0", count: decimals - have) }
    }
    return text
}

/// What one connector thread did.
final class ConnectorResult {
    var completed = 0
    var failed = 0
    var failures: [String: Int] = [:]
    var latencies: [UInt64] = []
}

/// The arguments of one connector thread.
final class ConnectorJob {
    let options: TCPModeOptions
    /// Which connector this is (0...concurrency − 1).
    let index: Int
    let measureFrom: UInt64
    let measureUntil: UInt64
    let result = ConnectorResult()
    var thread = pthread_t()

    init(options: TCPModeOptions, index: Int, measureFrom: UInt64, measureUntil: UInt64) {
        self.options = options
        self.index = index
        self.measureFrom = measureFrom
        self.measureUntil = measureUntil
    }

    func run() {
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: max(options.requestBytes, 1), alignment: 16)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: max(options.requestBytes, 1), alignment: 16)
        for index in 0..<request.count { request[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        let sourceCount = UInt64(options.sources.upperBound - options.sources.lowerBound) + 1
        var attempt = UInt64(index)   // connectors start on different addresses
        while true {
            let start = monotonicNanoseconds()
            if start >= measureUntil { break }
            let measured = start >= measureFrom
            var failure: String?
            // With --sources, each connection comes from the next address in turn.
            let source = options.sourcesGiven ? options.sources.lowerBound + UInt32(attempt % sourceCount) : nil
            attempt &+= 1
            switch connectTCP(options.target, timeoutMilliseconds: Int32(options.connectTimeoutMilliseconds), source: source) {
            case .failure(let error):
                failure = error.message
            case .success(let fd):
                if options.requestBytes > 0 {
                    if send(fd, request.baseAddress, request.count, Int32(MSG_NOSIGNAL)) != request.count {
                        failure = "send: \(errorText())"
                    } else {
                        var got = 0
                        var timeout = timeval(tv_sec: Int(options.connectTimeoutMilliseconds / 1000),
                                              tv_usec: Int(options.connectTimeoutMilliseconds % 1000) * 1000)
                        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                        while got < request.count {
                            let count = recv(fd, reply.baseAddress! + got, request.count - got, 0)
                            if count <= 0 { failure = count == 0 ? "closed before the echo" : "recv: \(errorText())"; break }
                            got += count
                        }
                        if failure == nil && memcmp(request.baseAddress!, reply.baseAddress!, request.count) != 0 {
                            failure = "echo differs from the request"
                        }
                    }
                }
                close(fd)  // the client closes first: TIME-WAIT stays here
            }
            guard measured else { continue }
            if let failure {
                result.failed += 1
                // Group messages by their kind (without the address).
                let kind = failure.split(separator: ":").last.map { $0.trimmingCharacters() } ?? failure
                result.failures[kind, default: 0] += 1
            } else {
                result.completed += 1
                result.latencies.append(monotonicNanoseconds() - start)
            }
        }
        request.deallocate()
        reply.deallocate()
    }

    /// Starts `run` on a new thread (defined outside main.swift: its top-level closures would
    /// be main-actor isolated and trap on another thread).
    func start() -> Bool {
        pthread_create(&thread, nil, { context in
            Unmanaged<ConnectorJob>.fromOpaque(context!).takeUnretainedValue().run()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque()) == 0
    }

    func join() { pthread_join(thread, nil) }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

enum TCPConnectRate {
    static func run(_ options: TCPModeOptions) -> Int32 {
        // A first connection shows whether the target is there at all.
        switch connectTCP(options.target, timeoutMilliseconds: 3000) {
        case .success(let fd): close(fd)
        case .failure(let error): printError(error.message); return 1
        }
        let now = monotonicNanoseconds()
        let from = now + UInt64(options.warmup * 1e9)
        let until = from + UInt64(options.duration * 1e9)
        let jobs = (0..<options.concurrency).map { ConnectorJob(options: options, index: $0, measureFrom: from, measureUntil: until) }
        for job in jobs where !job.start() { printError("pthread_create failed"); return 1 }
        for job in jobs { job.join() }
        let completed = jobs.reduce(0) { $0 + $1.result.completed }
        let failed = jobs.reduce(0) { $0 + $1.result.failed }
        var latencies = jobs.flatMap { $0.result.latencies }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
        }
        var failures: [String: Int] = [:]
        for job in jobs { for (kind, count) in job.result.failures { failures[kind, default: 0] += count } }
        let rate = Double(completed) / options.duration
        print("tcp-connect: \(options.target!), \(options.concurrency) connectors, \(options.requestBytes) B echoed per connection: "
            + "\(formatted(rate)) connections/s over \(Report.formatSeconds(options.duration)), "
            + "connection time p50 \(formatted(percentile(0.5), 0)) µs, p99 \(formatted(percentile(0.99), 0)) µs, \(failed) failed")
        for (kind, count) in failures.sorted(by: { $0.value > $1.value }) { print("tcp-connect: failed \(count)×: \(kind)") }
        print("result: mode=tcp-connect conns_per_s=\(formatted(rate)) p50_us=\(formatted(percentile(0.5), 0)) "
            + "p99_us=\(formatted(percentile(0.99), 0)) completed=\(completed) failed=\(failed) concurrency=\(options.concurrency)")
        return completed > 0 ? 0 : 1
    }
}
