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
// flow-controlled, not buffered without bound. HTTP runs on the same code as Swiglet's web
// server — the HTTP module's `HTTPServerSession` over the same packed site archive
// (`StaticSite`) — so both sides parse the same way and send the same bytes; a request costs
// one parse, one lookup and one copy of head and body into the connection's output, and
// pipelined requests read in one recv are answered with one send.

#if canImport(Glibc)
import Glibc
#endif
import HTTP
import RawBytes

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
    /// HTTP: the request parser and response writer of this connection.
    var session: HTTPServerSession<ServedSite>?
    /// Close once the output is sent (HTTP/1.0, Connection: close, or an error response).
    var closeWhenSent = false
    /// Whether epoll waits for writability (and not readability).
    var waitingToWrite = false

    static let inputCapacity = 16384

    init(descriptor: Int32, service: Service, site: ServedSite) {
        self.descriptor = descriptor
        self.service = service
        if service == .http {
            input = UnsafeMutableRawPointer.allocate(byteCount: Connection.inputCapacity, alignment: 16)
            session = HTTPServerSession(source: site)
        }
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
    let site: ServedSite
    private var epoll: Int32 = -1
    private var listeners: [(descriptor: Int32, service: Service)] = []
    /// Connections by descriptor (descriptors are small integers, reused after close).
    private var connections: [Connection?] = []
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
    /// Where a session writes a response head.
    private let head = UnsafeMutableRawPointer.allocate(byteCount: HTTPResponseHead.maximumLength, alignment: 16)
    /// The most output a connection may queue before it stops reading requests.
    static let outputLimit = 256 * 1024

    init(index: Int, ports: [(port: UInt16, service: Service)], site: ServedSite) {
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
            connections[Int(fd)] = Connection(descriptor: fd, service: service, site: site)
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

    /// Answers every complete request in the input, in order, appending each response.
    private func answerRequests(_ connection: Connection) {
        let input = connection.input!
        while !connection.closeWhenSent && connection.pendingOutput < Worker.outputLimit {
            let available = UnsafeRawBufferPointer(start: input + connection.inputStart,
                                                   count: connection.inputEnd - connection.inputStart)
            let (consumed, response) = connection.session!.receive(
                available, headBuffer: UnsafeMutableRawBufferPointer(start: head, count: HTTPResponseHead.maximumLength))
            connection.inputStart += consumed
            guard let response else {
                if consumed == 0 { return }   // an incomplete request: wait for more bytes
                continue
            }
            connection.append(response.head)
            connection.append(response.body)
            if response.closesConnection { connection.closeWhenSent = true }
        }
    }
}

/// The site as the sessions see it: the packed archive, or nothing (every path 404) when it
/// could not be read; and /proc/stat and /proc/interrupts read afresh (ProcFiles.swift).
struct ServedSite: HTTPContentSource {
    var site: StaticSite?
    /// Each session's own copy gets its buffer on its first /proc request.
    var procBuffer: ProcBuffer? = nil

    mutating func content(for path: ByteReader) -> HTTPContentLookup {
        if let file = ProcFile(path: path) {
            if procBuffer == nil { procBuffer = ProcBuffer() }
            guard let text = procBuffer!.read(file.filePath) else { return .failed }
            return .found(body: text, type: .plainText)
        }
        return site?.content(for: path) ?? .notFound
    }
}
