/// TCP helpers for the system tests: a blocking socket with timeouts, an HTTP/1.1 response
/// reader, a two-thread echo transfer checked by SHA-256, Prometheus text parsing, and a
/// machine booted with host forwards to the HTTP, echo and metrics ports.
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection from the host (blocking, with receive and send timeouts).
final class TCPClient: @unchecked Sendable {
    let descriptor: Int32

    /// Connects to `host`:`port`, giving up after `timeout` seconds.
    init(host: String, port: UInt16, timeout: TimeInterval = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw MachineError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(descriptor)
            throw MachineError(description: "bad address \(host)")
        }
        setTimeout(timeout)
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw MachineError(description: "connect to \(host):\(port): \(reason)")
        }
    }

    /// Wraps a descriptor made elsewhere (e.g. in another network namespace).
    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// SO_RCVTIMEO and SO_SNDTIMEO: a blocked call gives up after this long.
    func setTimeout(_ timeout: TimeInterval) {
        var value = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends every byte of `bytes` (throws on an error or a send timeout).
    func send<Bytes: ContiguousBytes>(_ bytes: Bytes) throws {
        try bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let sent = Glibc.send(descriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw MachineError(description: "send after \(offset) of \(buffer.count) bytes: \(String(cString: strerror(errno)))")
                }
                offset += sent
            }
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// One recv: the bytes that arrived (empty at end of stream); throws on a timeout or error.
    func receive(max: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = recv(descriptor, &buffer, max, 0)
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR { continue }
            let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
            throw MachineError(description: "recv: \(reason)")
        }
    }

    /// Reads until the peer closes (a FIN or a reset) or `limit` bytes came; a timeout or
    /// another error ends the read with what came and `closed` false.
    func receiveUntilClosed(limit: Int = 16 << 20) -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while all.count < limit {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 { all += buffer[0..<count]; continue }
            if count == 0 { return (all, true) }
            if errno == EINTR { continue }
            return (all, errno == ECONNRESET)
        }
        return (all, false)
    }

    /// Half-closes: no more bytes from this side (FIN).
    func shutdownWrite() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// Echoes `payload` and returns what came back (the same number of bytes, or fewer when
    /// the stream ended or stalled).
    func echo(_ payload: [UInt8]) throws -> [UInt8] {
        try send(payload)
        var back: [UInt8] = []
        while back.count < payload.count {
            let more = try receive(max: payload.count - back.count)
            if more.isEmpty { break }
            back += more
        }
        return back
    }
}

/// An HTTP/1.1 response as read from a stream.
struct HTTPResponse: CustomStringConvertible {
    var status: Int
    var statusLine: String
    /// Header fields, names lowercased.
    var headers: [String: String]
    var body: [UInt8]

    var contentLength: Int? { headers["content-length"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var description: String {
        "\(statusLine) \(headers) body \(body.count) bytes: \(String(decoding: body.prefix(200), as: UTF8.self))"
    }

    /// Reads one response from `client`, with `pending` holding bytes already read past the
    /// previous response (updated to what is left after this one). A response to HEAD (or a
    /// 1xx/204/304) has no body whatever its Content-Length says — RFC 9112 §6.3.
    static func read(from client: TCPClient, pending: inout [UInt8], head: Bool = false) throws -> HTTPResponse {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var end: Int? = nil
        while end == nil {
            if let found = pending.firstRange(of: separator) { end = found.upperBound; break }
            let more = try client.receive()
            guard !more.isEmpty else {
                throw MachineError(description: "connection closed before a full response head; got: \(String(decoding: pending, as: UTF8.self))")
            }
            pending += more
        }
        let headText = String(decoding: pending[0..<end!], as: UTF8.self)
        pending.removeFirst(end!)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw MachineError(description: "empty response head") }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw MachineError(description: "bad status line '\(statusLine)'")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw MachineError(description: "bad header line '\(line)'") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var response = HTTPResponse(status: status, statusLine: statusLine, headers: headers, body: [])
        if head || status / 100 == 1 || status == 204 || status == 304 { return response }
        guard let length = response.contentLength else {
            throw MachineError(description: "response without Content-Length: \(statusLine) \(headers)")
        }
        while pending.count < length {
            let more = try client.receive()
            guard !more.isEmpty else {
                throw MachineError(description: "connection closed after \(pending.count) of \(length) body bytes")
            }
            pending += more
        }
        response.body = Array(pending[0..<length])
        pending.removeFirst(length)
        return response
    }
}

/// Echo transfers of a known pseudo-random stream, checked by SHA-256 and byte for byte.
enum EchoTransfer {
    struct Outcome {
        var sent: Int
        var received: Int
        var sentSHA256: String
        var receivedSHA256: String
        var seconds: TimeInterval
        /// The first offset where the echo differs (nil when it is equal), or a send/receive error.
        var firstDifference: Int?
        var error: String?
        var intact: Bool { error == nil && received == sent && firstDifference == nil && sentSHA256 == receivedSHA256 }
        var mebibytesPerSecond: Double { Double(received) / 1_048_576 / max(seconds, 0.001) }
        var summary: String {
            "sent \(sent) received \(received) in \(String(format: "%.1f", seconds)) s (\(String(format: "%.2f", mebibytesPerSecond)) MiB/s); "
                + "sha256 sent \(sentSHA256.prefix(16)) received \(receivedSHA256.prefix(16))"
                + (firstDifference.map { "; first difference at byte \($0)" } ?? "") + (error.map { "; error: \($0)" } ?? "")
        }
    }

    /// `count` pseudo-random bytes from `seed` (xorshift64*).
    static func pattern(count: Int, seed: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var state = seed | 1
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            let pointer = raw.baseAddress!
            for index in 0..<words {
                state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                pointer.storeBytes(of: state &* 2685821657736338717, toByteOffset: index * 8, as: UInt64.self)
            }
            for index in (words * 8)..<raw.count { raw[index] = UInt8(truncatingIfNeeded: index &* 131 &+ Int(seed)) }
        }
        return bytes
    }

    /// SHA-256 (hex) of `bytes`, by sha256sum (coreutils).
    static func sha256(_ bytes: [UInt8]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: QEMUMachine.findExecutable("sha256sum") ?? "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        guard (try? process.run()) != nil else { return "sha256sum-missing" }
        // Write on another thread so a full output pipe can never block the write.
        let writer = Thread {
            bytes.withUnsafeBytes { input.fileHandleForWriting.write(Data($0)) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix { $0.isHexDigit })
    }

    /// Streams `payload` through `client` in `chunk`-sized sends on one thread while this
    /// thread reads the echo; stops reading when all came back, the stream ends, or nothing
    /// arrives for `stall` seconds.
    static func run(_ client: TCPClient, payload: [UInt8], chunk: Int = 65536, stall: TimeInterval = 30) -> Outcome {
        client.setTimeout(stall)
        let start = Date()
        let sendError = LockedBox<String?>(nil)
        let sendDone = DispatchSemaphore(value: 0)
        let sender = Thread {
            defer { sendDone.signal() }
            var offset = 0
            while offset < payload.count {
                let end = min(offset + chunk, payload.count)
                do { try client.send(payload[offset..<end]) } catch {
                    sendError.value = "\(error)"; return
                }
                offset = end
            }
        }
        sender.stackSize = 1 << 20
        sender.start()
        var received = [UInt8]()
        received.reserveCapacity(payload.count)
        var receiveError: String? = nil
        while received.count < payload.count {
            do {
                let more = try client.receive(max: min(262_144, payload.count - received.count))
                if more.isEmpty { receiveError = "stream ended after \(received.count) bytes"; break }
                received += more
            } catch {
                receiveError = "after \(received.count) bytes: \(error)"; break
            }
        }
        let seconds = Date().timeIntervalSince(start)
        if receiveError != nil { client.shutdownWrite() }
        sendDone.wait()
        var firstDifference: Int? = nil
        let common = min(received.count, payload.count)
        let equal = received.withUnsafeBytes { r in payload.withUnsafeBytes { p in common == 0 || memcmp(r.baseAddress!, p.baseAddress!, common) == 0 } }
        if !equal {
            firstDifference = (0..<common).first { received[$0] != payload[$0] }
        }
        let error = [sendError.value.map { "send: \($0)" }, receiveError.map { "receive: \($0)" }].compactMap { $0 }
        return Outcome(sent: payload.count, received: received.count, sentSHA256: sha256(payload), receivedSHA256: sha256(received),
                       seconds: seconds, firstDifference: firstDifference, error: error.isEmpty ? nil : error.joined(separator: "; "))
    }
}

/// A value shared between threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
    /// Changes the value under the lock (a read-modify-write no other thread can split).
    func update(_ change: (inout Value) -> Void) { lock.lock(); change(&stored); lock.unlock() }
}

/// Prometheus text exposition (0.0.4) samples: `name{labels} value` lines.
struct Metrics {
    /// Sample lines by their full name with labels, e.g. `swiglet_tcp_connections{state="ESTABLISHED"}`.
    var samples: [String: Double] = [:]
    var text: String

    init(text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
    }

    subscript(_ key: String) -> Double? { samples[key] }

    /// All samples of `family` whose labels contain every `label="value"` in `matching`.
    func values(_ family: String, matching: [String] = []) -> [String: Double] {
        samples.filter { key, _ in
            (key == family || key.hasPrefix(family + "{")) && matching.allSatisfy { key.contains($0) }
        }
    }

    /// The sum over `values(family, matching:)`.
    func sum(_ family: String, matching: [String] = []) -> Double { values(family, matching: matching).values.reduce(0, +) }

    /// How much the sum over `values(family, matching:)` grew since `earlier`, a scrape before this one.
    func growth(_ family: String, since earlier: Metrics, matching: [String] = []) -> Double {
        sum(family, matching: matching) - earlier.sum(family, matching: matching)
    }

    /// GETs /metrics from `host`:`port` on a fresh connection.
    static func fetch(host: String, port: UInt16) throws -> (HTTPResponse, Metrics) {
        let client = try TCPClient(host: host, port: port, timeout: 20)
        try client.send("GET /metrics HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
        var pending: [UInt8] = []
        let response = try HTTPResponse.read(from: client, pending: &pending)
        return (response, Metrics(text: String(decoding: response.body, as: UTF8.self)))
    }
}

/// The host ports forwarded to the guest's HTTP (80), TCP echo (7) and metrics (9090) ports.
struct TCPForwards {
    var http: UInt16
    var echo: UInt16
    var metrics: UInt16
    let host = "127.0.0.1"

    /// Three distinct free host ports (`QEMUMachine.freePorts`).
    static func random() -> TCPForwards {
        let list = QEMUMachine.freePorts(3)
        return TCPForwards(http: list[0], echo: list[1], metrics: list[2])
    }

    var hostForwards: [String] {
        ["tcp:127.0.0.1:\(http)-:80", "tcp:127.0.0.1:\(echo)-:7", "tcp:127.0.0.1:\(metrics)-:9090"]
    }
}

/// Runs a TCP system test: boots a machine on user-mode networking with `TCPForwards`, waits
/// for the ready line and every line of `waitFor`, runs `body` (which appends problems), and
/// fails the test with the problems and the console (also kept under images/test-artifacts).
/// A thrown error counts as a problem. With `capture` the NIC's frames are recorded and kept
/// (beside the console) when the test fails.
func withTCPGuest(_ test: XCTestCase, name: String, cpus: Int = 4, commandLine: String? = nil, timeout: TimeInterval = 120, capture: Bool = false,
                  waitFor: [String] = ["http: serving HTTP on port 80", "tcp-echo: serving TCP echo on port 7"],
                  file: StaticString = #filePath, line: UInt = #line,
                  _ body: (RunningMachine, TCPForwards, inout [String]) throws -> Void) throws {
    let forwards = TCPForwards.random()
    var machine = QEMUMachine(cpus: cpus, commandLine: commandLine)
    machine.timeout = timeout
    machine.network = .user(hostForwards: forwards.hostForwards)
    try? FileManager.default.createDirectory(at: QEMUMachine.artifacts, withIntermediateDirectories: true)
    let pcap = QEMUMachine.artifacts.appendingPathComponent("\(name).pcap").path
    try? FileManager.default.removeItem(atPath: pcap)
    if capture { machine.pcapPath = pcap }
    let running = try RunningMachine(start: machine)
    defer { running.stop() }
    var problems: [String] = []
    do {
        try running.waitFor("swiglet: ready", timeout: timeout)
        for text in waitFor { try running.waitFor(text, timeout: 60) }
        try body(running, forwards, &problems)
    } catch {
        problems.append("error: \(error)")
    }
    guard !problems.isEmpty else {
        if capture { running.stop(); try? FileManager.default.removeItem(atPath: pcap) }
        return
    }
    let kept = QEMUMachine.artifacts.appendingPathComponent("\(name).console.txt")
    let console = running.console
    try? console.write(to: kept, atomically: true, encoding: .utf8)
    XCTFail("""
        \(name): \(problems.count) problem(s):
        \(problems.joined(separator: "\n"))
        console kept in \(kept.path)\(capture ? ", frames in \(pcap)" : "")
        ---- console ----
        \(console)
        ---- end of console ----
        """, file: file, line: line)
}

/// Finds a host tool; when it is missing, fails under SWIGLET_REQUIRE_QEMU and skips otherwise.
func requireTool(_ name: String, hint: String = "run scripts/install-deps.sh") throws -> String {
    if let path = QEMUMachine.findExecutable(name) { return path }
    let message = "`\(name)` is missing: \(hint)"
    if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil { XCTFail(message) }
    throw XCTSkip(message)
}

/// Runs a command to its end (at most `timeout` seconds); returns its status and output.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    let collected = LockedBox(Data())
    pipe.fileHandleForReading.readabilityHandler = { handle in
        let more = handle.availableData
        if !more.isEmpty { collected.update { $0.append(more) } }
    }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    let timedOut = process.isRunning
    if timedOut { process.terminate() }
    process.waitUntilExit()
    pipe.fileHandleForReading.readabilityHandler = nil
    if let rest = try? pipe.fileHandleForReading.readToEnd() { collected.update { $0.append(rest) } }
    let output = String(decoding: collected.value, as: UTF8.self) + (timedOut ? "\n(killed after \(Int(timeout)) s)" : "")
    return (timedOut ? -1 : process.terminationStatus, output)
}
