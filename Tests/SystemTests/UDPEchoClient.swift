/// A UDP echo client for the system tests, which can also run inside a network namespace.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sends datagrams to an echo server and checks that each comes back intact.
enum UDPEchoClient {
    /// One datagram that did not come back intact.
    struct Failure: CustomStringConvertible {
        var size: Int
        var reason: String
        var description: String { "\(size) bytes: \(reason)" }
    }

    /// Echoes one datagram of every size in `sizes` (a few tries each, `timeout` per try)
    /// and returns the sizes that failed. Payloads are distinct per size and try, so a late
    /// reply to an earlier try is never mistaken for the right one.
    static func check(host: String, port: UInt16, sizes: [Int], tries: Int = 3, timeout: TimeInterval = 2) throws -> [Failure] {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw MachineError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socketDescriptor) }
        var receiveTimeout = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw MachineError(description: "bad address \(host)") }

        var failures: [Failure] = []
        var reply = [UInt8](repeating: 0, count: 65536)
        for size in sizes {
            var lastReason = "no reply"
            var echoed = false
            for attempt in 0..<tries where !echoed {
                let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ size &+ attempt &* 131) }
                let sent = payload.withUnsafeBytes { bytes in
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(socketDescriptor, bytes.baseAddress, size, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
                guard sent == size else { lastReason = "send failed: \(String(cString: strerror(errno)))"; continue }
                // Read until the matching reply or a timeout; stale replies are skipped.
                while true {
                    let received = recv(socketDescriptor, &reply, reply.count, 0)
                    if received < 0 { break }
                    if received == size && Array(reply[0..<size]) == payload { echoed = true; break }
                    lastReason = "reply of \(received) bytes did not match"
                }
            }
            if !echoed { failures.append(Failure(size: size, reason: lastReason)) }
        }
        return failures
    }

    /// Sends one datagram and returns the first reply's bytes (nil after `timeout`).
    static func request(host: String, port: UInt16, payload: [UInt8], timeout: Int = 3) throws -> [UInt8]? {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw MachineError(description: "socket failed") }
        defer { close(socketDescriptor) }
        var receiveTimeout = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        _ = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socketDescriptor, bytes.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        var reply = [UInt8](repeating: 0, count: 65536)
        let received = recv(socketDescriptor, &reply, reply.count, 0)
        return received < 0 ? nil : Array(reply[0..<received])
    }

    /// Keeps `window` datagrams in flight for `duration` seconds (a reply or a 200 ms timeout
    /// frees a slot); returns how many replies came back.
    static func load(host: String, port: UInt16, window: Int, size: Int, duration: TimeInterval) throws -> Int {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw MachineError(description: "socket failed") }
        defer { close(socketDescriptor) }
        var receiveTimeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let payload = [UInt8](repeating: 0x5A, count: size)
        func sendOne() {
            _ = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socketDescriptor, bytes.baseAddress, size, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
        for _ in 0..<window { sendOne() }
        var replies = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        let end = Date().addingTimeInterval(duration)
        while Date() < end {
            // A reply or a timeout (a lost datagram) frees one slot.
            if recv(socketDescriptor, &buffer, buffer.count, 0) > 0 { replies += 1 }
            sendOne()
        }
        return replies
    }

    /// setns(2) with CLONE_NEWNET. Glibc declares setns only under _GNU_SOURCE, which Swift's
    /// Glibc module does not define, so it is looked up at run time.
    private static func setNetworkNamespace(_ descriptor: Int32) -> Int32 {
        typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return -1 }
        let cloneNewNetwork: Int32 = 0x4000_0000   // CLONE_NEWNET, linux/sched.h
        return unsafeBitCast(symbol, to: SetNamespace.self)(descriptor, cloneNewNetwork)
    }

    /// Runs `body` on a thread that has joined network namespace `name` (setns(2)), so the
    /// sockets it makes live in that namespace. Needs root.
    static func inNamespace<Result>(_ name: String, _ body: @escaping () throws -> Result) throws -> Result {
        let outcome = NamespaceWork(body)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let descriptor = open("/var/run/netns/\(name)", O_RDONLY)
            guard descriptor >= 0 else {
                outcome.result = .failure(MachineError(description: "open netns \(name): \(String(cString: strerror(errno)))"))
                return
            }
            defer { close(descriptor) }
            guard setNetworkNamespace(descriptor) == 0 else {
                outcome.result = .failure(MachineError(description: "setns \(name): \(String(cString: strerror(errno)))"))
                return
            }
            outcome.result = Swift.Result { try outcome.body() }
        }
        thread.start()
        done.wait()
        return try outcome.result.get()
    }
}

/// Work for a thread in another network namespace, and its outcome. The semaphore in
/// `inNamespace` orders the thread's write of `result` before the caller's read.
private final class NamespaceWork<Value>: @unchecked Sendable {
    var result: Result<Value, Error> = .failure(MachineError(description: "namespace thread did not run"))
    let body: () throws -> Value
    init(_ body: @escaping () throws -> Value) { self.body = body }
}
