// TCP echo (RFC 862) and the static HTTP/1.1 server: one epoll loop per thread, each with its own SO_REUSEPORT listeners.
//
// Design (the Linux side of a throughput comparison, so it must not be slow): every worker
// thread owns an epoll instance and its own listening sockets for each port, bound with
// SO_REUSEPORT, so the kernel spreads new connections across the threads by hash and no lock
// or shared accept queue is contended; a connection stays on the thread that accepted it.
// Sockets are non-blocking, epoll is level-triggered, accept4 makes accepted sockets
// non-blocking in the same call, and TCP_NODELAY is set so responses leave at once (HTTP
// clients wait for each response). Echo reads up to 64 KiB per call into the thread's
// buffer and writes it straight back; what the socket does not take is kept, and the
// connection waits for EPOLLOUT (and stops reading) until it is out, so a slow reader is
// flow-controlled, not buffered without bound. HTTP responses are prebuilt per file (head
// and body in one buffer, see Site.swift); a request costs one parse, one table lookup and
// one copy into the connection's output, and pipelined requests read in one recv are
// answered with one send.

#if canImport(Glibc)
import Glibc
#endif

/// What a listening port serves.
enum Service {
    case echo, http
}

/// One accepted connection, owned by one worker.
final class Connection {
    let descriptor: Int32
    let service: Service
    /// HTTP: bytes received and not yet parsed, at `input[inputStart..<inputEnd]`.
    var input: UnsafeMutableRawPointer?
    var inputStart = 0
    var inputEnd = 0
    /// Bytes to send, at `output[outputStart..<outputEnd]`.
    var output: UnsafeMutableRawPointer?
    var outputCapacity = 0
    var outputStart = 0
    var outputEnd = 0
    /// HTTP: request body bytes still to skip.
    var bodyToSkip = 0
    /// Close once the output is sent (HTTP/1.0, Connection: close, or an error response).
    var closeWhenSent = false
    /// Whether epoll waits for writability (and not readability).
    var waitingToWrite = false

    static let inputCapacity = 16384

    init(descriptor: Int32, service: Service) {
        self.descriptor = descriptor
        self.service = service
        if service == .http { input = UnsafeMutableRawPointer.allocate(byteCount: Connection.inputCapacity, alignment: 16) }
    }

    deinit {
        input?.deallocate()
        output?.deallocate()
    }

    var pendingOutput: Int { outputEnd - outputStart }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if outputEnd + bytes.count > outputCapacity {
            let pending = pendingOutput
            var capacity = max(outputCapacity, 4096)
            while pending + bytes.count > capacity { capacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            if let output, pending > 0 { grown.copyMemory(from: output + outputStart, byteCount: pending) }
            output?.deallocate()
            output = grown
            outputCapacity = capacity
            outputStart = 0
            outputEnd = pending
        }
        (output! + outputEnd).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        outputEnd += bytes.count
    }
}

/// One thread's event loop.
final class Worker {
    let index: Int
    let ports: [(port: UInt16, service: Service)]
    let site: Site
    private var epoll: Int32 = -1
    private var listeners: [(descriptor: Int32, service: Service)] = []
    /// Connections by descriptor (descriptors are small integers, reused after close).
    private var connections: [Connection?] = []
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
    /// The most output a connection may queue before it stops reading requests.
    static let outputLimit = 256 * 1024

    init(index: Int, ports: [(port: UInt16, service: Service)], site: Site) {
        self.index = index
        self.ports = ports
        self.site = site
    }

    /// Creates the epoll instance and the listeners (on the calling thread, so that a bind
    /// error is reported before the ready line).
    func listen() {
        epoll = epoll_create1(Epoll.closeOnExec)
        if epoll < 0 { fail("epoll_create1") }
        for (port, service) in ports {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { fail("TCP socket") }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 { fail("SO_REUSEPORT") }
            if !bindAny(fd, port: port) { fail("bind to TCP port \(port)") }
            if Glibc.listen(fd, 1024) != 0 { fail("listen on TCP port \(port)") }
            Epoll.control(epoll, Epoll.add, fd, events: Epoll.readable)
            listeners.append((fd, service))
        }
    }

    /// Runs the loop on a new thread. (Defined here, not in main.swift, whose top-level
    /// closures would be main-actor isolated and trap on another thread.)
    func start() {
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            Unmanaged<Worker>.fromOpaque(context!).takeRetainedValue().run()
        }, Unmanaged.passRetained(self).toOpaque())
        if created != 0 { errno = created; fail("pthread_create") }
    }

    /// The loop; never returns.
    func run() -> Never {
        let capacity = 256
        let events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Epoll.eventSize, alignment: 16)
        while true {
            let count = epoll_wait(epoll, events, Int32(capacity), -1)
            if count < 0 {
                if errno == EINTR { continue }
                fail("epoll_wait")
            }
            for item in 0..<Int(count) {
                let flags = events.loadUnaligned(fromByteOffset: item * Epoll.eventSize, as: UInt32.self)
                let fd = Int32(truncatingIfNeeded: events.loadUnaligned(fromByteOffset: item * Epoll.eventSize + 4, as: UInt64.self))
                if let listener = listeners.first(where: { $0.descriptor == fd }) {
                    acceptAll(fd, service: listener.service)
                } else if Int(fd) < connections.count, let connection = connections[Int(fd)] {
                    handle(connection, flags: flags)
                }
            }
        }
    }

    private func acceptAll(_ listener: Int32, service: Service) {
        while true {
            let fd = accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue))
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN: no more (EMFILE etc.: try again on the next event)
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            while connections.count <= Int(fd) { connections.append(nil) }
            connections[Int(fd)] = Connection(descriptor: fd, service: service)
            Epoll.control(epoll, Epoll.add, fd, events: Epoll.readable)
        }
    }

    private func close(_ connection: Connection) {
        _ = epoll_ctl(epoll, Epoll.delete, connection.descriptor, nil)
        connections[Int(connection.descriptor)] = nil
        _ = Glibc.close(connection.descriptor)
    }

    private func handle(_ connection: Connection, flags: UInt32) {
        if flags & Epoll.writable != 0 || (connection.waitingToWrite && flags & (Epoll.error | Epoll.hangUp) != 0) {
            guard flush(connection) else { return close(connection) }
            if connection.pendingOutput > 0 { return }
            if connection.closeWhenSent { return close(connection) }
            connection.waitingToWrite = false
            Epoll.control(epoll, Epoll.modify, connection.descriptor, events: Epoll.readable)
            // Requests that arrived while the output was full are still in the input.
            if connection.service == .http && connection.inputEnd > connection.inputStart {
                answerRequests(connection)
                guard finishWrite(connection) else { return }
            }
        }
        guard !connection.waitingToWrite, flags & (Epoll.readable | Epoll.error | Epoll.hangUp) != 0 else { return }
        switch connection.service {
        case .echo: echo(connection)
        case .http: serveHTTP(connection)
        }
    }

    /// Sends pending output; false when the connection failed.
    private func flush(_ connection: Connection) -> Bool {
        while connection.pendingOutput > 0 {
            let sent = send(connection.descriptor, connection.output! + connection.outputStart, connection.pendingOutput,
                            Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
            connection.outputStart += sent
        }
        connection.outputStart = 0
        connection.outputEnd = 0
        return true
    }

    /// After adding output: send it; wait for EPOLLOUT if the socket did not take all of it.
    /// False when the connection was closed.
    private func finishWrite(_ connection: Connection) -> Bool {
        guard flush(connection) else { close(connection); return false }
        if connection.pendingOutput > 0 {
            if !connection.waitingToWrite {
                connection.waitingToWrite = true
                Epoll.control(epoll, Epoll.modify, connection.descriptor, events: Epoll.writable)
            }
            return true
        }
        if connection.closeWhenSent { close(connection); return false }
        return true
    }

    private func echo(_ connection: Connection) {
        for _ in 0..<16 {
            let received = recv(connection.descriptor, scratch, 65536, 0)
            if received == 0 { return close(connection) }
            if received < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                return close(connection)
            }
            var sent = send(connection.descriptor, scratch, received, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK else { return close(connection) }
                sent = 0
            }
            if sent < received {
                connection.append(UnsafeRawBufferPointer(start: scratch + sent, count: received - sent))
                _ = finishWrite(connection)
                return
            }
            if received < 65536 { return }
        }
    }

    private func serveHTTP(_ connection: Connection) {
        let input = connection.input!
        if connection.inputStart > 0 {
            let kept = connection.inputEnd - connection.inputStart
            if kept > 0 { input.copyMemory(from: input + connection.inputStart, byteCount: kept) }
            connection.inputStart = 0
            connection.inputEnd = kept
        }
        let received = recv(connection.descriptor, input + connection.inputEnd, Connection.inputCapacity - connection.inputEnd, 0)
        if received == 0 { return close(connection) }
        if received < 0 {
            if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { return }
            return close(connection)
        }
        connection.inputEnd += received
        answerRequests(connection)
        _ = finishWrite(connection)
    }

    /// Parses every complete request in the input and appends its response.
    private func answerRequests(_ connection: Connection) {
        let input = connection.input!
        while !connection.closeWhenSent && connection.pendingOutput < Worker.outputLimit {
            if connection.bodyToSkip > 0 {
                let skipped = min(connection.bodyToSkip, connection.inputEnd - connection.inputStart)
                connection.bodyToSkip -= skipped
                connection.inputStart += skipped
                if connection.bodyToSkip > 0 { return }
            }
            let available = UnsafeRawBufferPointer(start: input + connection.inputStart,
                                                   count: connection.inputEnd - connection.inputStart)
            guard let headEnd = HTTPRequestHead.end(of: available) else {
                if available.count >= HTTPRequestHead.maximumLength {
                    respond(connection, site.tooLarge, method: .get, close: true)
                }
                return
            }
            let head = UnsafeRawBufferPointer(rebasing: available[..<headEnd])
            connection.inputStart += headEnd
            guard let request = HTTPRequestHead(head) else {
                respond(connection, site.badRequest, method: .get, close: true)
                return
            }
            connection.bodyToSkip = request.contentLength
            switch request.method {
            case .other:
                respond(connection, site.methodNotAllowed, method: .get, close: !request.keepAlive)
            case .get, .head:
                let file = request.path.withUnsafeBytes { site.lookup($0) } ?? site.notFound
                respond(connection, file, method: request.method, close: !request.keepAlive)
            }
        }
    }

    private func respond(_ connection: Connection, _ file: SiteFile, method: HTTPRequestHead.Method, close: Bool) {
        let response = file.response
        // The prebuilt head carries no Connection field (HTTP/1.1's default, keep-alive);
        // error responses that always close already say so.
        let saysClose = file.headLength >= 21 && memcmp(response.baseAddress! + file.headLength - 21, "Connection: close\r\n\r\n", 21) == 0
        if close && !saysClose {
            connection.append(UnsafeRawBufferPointer(rebasing: response[..<(file.headLength - 2)]))
            "Connection: close\r\n\r\n".utf8CString.withUnsafeBytes { connection.append(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        } else {
            connection.append(UnsafeRawBufferPointer(rebasing: response[..<file.headLength]))
        }
        if method != .head { connection.append(UnsafeRawBufferPointer(rebasing: response[file.headLength...])) }
        if close || saysClose { connection.closeWhenSent = true }
    }
}

/// The parts of an HTTP/1.1 request head (RFC 9112 §3, §5) this server uses.
struct HTTPRequestHead {
    enum Method { case get, head, other }
    static let maximumLength = 8192

    var method: Method
    /// The decoded path, without query.
    var path: [UInt8]
    var keepAlive: Bool
    var contentLength: Int

    /// The length of the head including its empty line, or nil when it is not complete.
    static func end(of bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 2, var index = bytes.firstIndex(of: 10) else { return nil }
        // Skip empty lines before the request line (RFC 9112 §2.2): they end nothing.
        var lineStart = 0
        while index < bytes.count {
            if bytes[index] == 10 {
                let lineLength = index - lineStart - (index > lineStart && bytes[index - 1] == 13 ? 1 : 0)
                if lineLength == 0 && hasContent(bytes, before: lineStart) { return index + 1 }
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    /// Whether any byte before `end` is not a line end (the request line has started).
    private static func hasContent(_ bytes: UnsafeRawBufferPointer, before end: Int) -> Bool {
        bytes[..<end].contains { $0 != 10 && $0 != 13 }
    }

    /// Parses a complete head; nil when it is malformed (answered with 400).
    init?(_ head: UnsafeRawBufferPointer) {
        var lines: [Range<Int>] = []
        var start = 0
        for index in 0..<head.count where head[index] == 10 {
            var end = index
            if end > start && head[end - 1] == 13 { end -= 1 }
            lines.append(start..<end)
            start = index + 1
        }
        // Empty lines before the request line are ignored (RFC 9112 §2.2).
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let requestLine = lines.first else { return nil }
        let line = UnsafeRawBufferPointer(rebasing: head[requestLine])
        guard let firstSpace = line.firstIndex(of: 32) else { return nil }
        let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
        guard let secondSpace = rest.firstIndex(of: 32) else { return nil }
        let method = UnsafeRawBufferPointer(rebasing: line[..<firstSpace])
        let target = UnsafeRawBufferPointer(rebasing: rest[..<secondSpace])
        let version = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
        guard !method.isEmpty, !target.isEmpty else { return nil }
        if HTTPRequestHead.equal(method, "GET") { self.method = .get }
        else if HTTPRequestHead.equal(method, "HEAD") { self.method = .head }
        else { self.method = .other }
        if HTTPRequestHead.equal(version, "HTTP/1.1") { keepAlive = true }
        else if HTTPRequestHead.equal(version, "HTTP/1.0") { keepAlive = false }
        else { return nil }
        contentLength = 0
        for range in lines.dropFirst() where !range.isEmpty {
            let field = UnsafeRawBufferPointer(rebasing: head[range])
            guard let colon = field.firstIndex(of: 58) else { return nil }
            let name = UnsafeRawBufferPointer(rebasing: field[..<colon])
            var value = UnsafeRawBufferPointer(rebasing: field[(colon + 1)...])
            while let first = value.first, first == 32 || first == 9 { value = UnsafeRawBufferPointer(rebasing: value[1...]) }
            while let last = value.last, last == 32 || last == 9 { value = UnsafeRawBufferPointer(rebasing: value[..<(value.count - 1)]) }
            if HTTPRequestHead.equalIgnoringCase(name, "connection") {
                if HTTPRequestHead.contains(value, "close") { keepAlive = false }
                else if HTTPRequestHead.contains(value, "keep-alive") { keepAlive = true }
            } else if HTTPRequestHead.equalIgnoringCase(name, "content-length") {
                guard !value.isEmpty, value.count <= 9, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                contentLength = value.reduce(0) { $0 * 10 + Int($1 - 48) }
            } else if HTTPRequestHead.equalIgnoringCase(name, "transfer-encoding") {
                return nil  // a chunked body is not expected on GET/HEAD: refuse rather than misparse
            }
        }
        // The path: origin-form "/p?q", or absolute-form "http://host/p?q" (RFC 9112 §3.2).
        var pathStart = 0
        if target[0] != 47 {
            guard let scheme = HTTPRequestHead.find(target, "://") else { return nil }
            let afterHost = UnsafeRawBufferPointer(rebasing: target[(scheme + 3)...])
            pathStart = afterHost.firstIndex(of: 47).map { scheme + 3 + $0 } ?? target.count
        }
        var path: [UInt8] = []
        path.reserveCapacity(target.count - pathStart + 1)
        var index = pathStart
        while index < target.count && target[index] != 63 && target[index] != 35 {
            if target[index] == 37, index + 2 < target.count,
               let high = HTTPRequestHead.hexDigit(target[index + 1]), let low = HTTPRequestHead.hexDigit(target[index + 2]) {
                path.append(high << 4 | low)
                index += 3
            } else {
                path.append(target[index])
                index += 1
            }
        }
        if path.isEmpty { path = [47] }
        self.path = path
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && (bytes.isEmpty || memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0)
    }

    static func equalIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        for index in 0..<bytes.count where bytes[index] | 0x20 != lowercase.utf8Start[index] { return false }
        return true
    }

    /// Whether the comma-separated list `bytes` names `lowercase` (case-insensitive, as a substring).
    static func contains(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let length = lowercase.utf8CodeUnitCount
        guard bytes.count >= length else { return false }
        for start in 0...(bytes.count - length) {
            if HTTPRequestHead.equalIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]), lowercase) { return true }
        }
        return false
    }

    static func find(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Int? {
        let length = text.utf8CodeUnitCount
        guard bytes.count >= length else { return nil }
        for start in 0...(bytes.count - length) where memcmp(bytes.baseAddress! + start, text.utf8Start, length) == 0 {
            return start
        }
        return nil
    }
}
