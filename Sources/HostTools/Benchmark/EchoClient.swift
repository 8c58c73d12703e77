// The windowed UDP echo client: keeps N datagrams in flight, matches replies by sequence number,
// verifies them byte for byte, and replaces requests lost for longer than the timeout.

import ExperimentKit
import Glibc

/// Nanoseconds of CLOCK_MONOTONIC.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// CPU time (user + system) this process has used, in nanoseconds.
func processCPUNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func nanoseconds(_ time: timeval) -> UInt64 { UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_usec) * 1000 }
    return nanoseconds(usage.ru_utime) + nanoseconds(usage.ru_stime)
}

/// The request layout: magic, sequence number, send time, then a pattern that depends on the
/// sequence number, so a reply carrying another request's bytes is noticed.
enum Datagram {
    static let magic: UInt32 = 0x5357_4245  // "SWBE"
    static let headerSize = 20

    static func fill(_ buffer: UnsafeMutableRawBufferPointer, sequence: UInt64, sentAt: UInt64) {
        buffer.storeBytes(of: magic.bigEndian, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 4, as: UInt64.self)
        buffer.storeBytes(of: sentAt.bigEndian, toByteOffset: 12, as: UInt64.self)
        var state = sequence &* 0x9E37_79B9_7F4A_7C15 | 1
        for offset in headerSize..<buffer.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            buffer[offset] = UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    static func sequence(of buffer: UnsafeRawBufferPointer) -> UInt64? {
        guard buffer.count >= headerSize,
              UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic else { return nil }
        return UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
    }
}

/// What one measurement found.
struct Measurement {
    var size: Int
    var window: Int
    var seconds: Double = 0
    var sent = 0
    var replies = 0
    var lost = 0
    var late = 0
    var mismatched = 0
    var refused = 0
    var unexpected = 0
    var p50Microseconds = 0.0
    var p99Microseconds = 0.0
    var clientCPUPercent = 0.0
    var truncated = false
    /// Requests per second offered on a schedule (--rate); 0: as fast as the window allows.
    var offeredRate = 0.0
    /// With --cpu-pid: host CPU (% of one core) of each of that process's threads, by name,
    /// and the host's busy share of all its cores, during the measurement.
    var threadCPU: [(name: String, percent: Double)] = []
    var hostCPUPercent: Double?

    var requestsPerSecond: Double { seconds > 0 ? Double(replies) / seconds : 0 }
}

struct ClientError: Error {
    var message: String
}

/// One connected UDP socket to the target, used for every measurement of that target.
final class EchoClient {
    let endpoint: Endpoint
    let timeoutNanoseconds: UInt64
    private let descriptor: Int32
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    init(endpoint: Endpoint, timeoutMilliseconds: Int) throws(ClientError) {
        self.endpoint = endpoint
        self.timeoutNanoseconds = UInt64(timeoutMilliseconds) * 1_000_000
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw ClientError(message: "socket: \(String(cString: strerror(errno)))") }
        var bufferSize: Int32 = 4 << 20
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        address.sin_addr = endpoint.address
        // connect(): the socket then only receives datagrams from the target, and send() goes
        // only there.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw ClientError(message: "connect to \(endpoint): \(reason)")
        }
    }

    deinit {
        close(descriptor)
        receiveBuffer.deallocate()
    }

    /// Sends one probe at a time (each waits up to a second) until one is echoed or `seconds`
    /// pass. Returns the round trip of the echoed probe in nanoseconds.
    func probe(seconds: Double) -> UInt64? {
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        let probe = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        defer { probe.deallocate() }
        var sequence: UInt64 = 1 << 63
        while monotonicNanoseconds() < deadline {
            let sentAt = monotonicNanoseconds()
            Datagram.fill(probe, sequence: sequence, sentAt: sentAt)
            _ = send(descriptor, probe.baseAddress, probe.count, 0)
            let answerBy = min(deadline, sentAt + 1_000_000_000)
            while true {
                let now = monotonicNanoseconds()
                guard now < answerBy else { break }
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let wait = Int32(min((answerBy - now + 999_999) / 1_000_000, 1000))
                guard poll(&poller, 1, wait) > 0 else { continue }
                let received = recv(descriptor, receiveBuffer.baseAddress, receiveBuffer.count, Int32(MSG_DONTWAIT))
                if received == probe.count,
                   memcmp(receiveBuffer.baseAddress!, probe.baseAddress!, probe.count) == 0 {
                    return monotonicNanoseconds() - sentAt
                }
            }
            sequence += 1
        }
        return nil
    }

    /// Keeps `window` requests of `size` bytes in flight for `warmup` seconds, then counts
    /// replies for `duration` seconds, then waits at most one loss timeout for the rest.
    ///
    /// With `rate` above 0 the load is offered on a schedule instead: request k is due at
    /// start + k / rate and is sent when it is due and fewer than `window` are in flight (the
    /// window caps what the client keeps outstanding). A request's clock starts when it was
    /// due, not when the window let it go, so time spent queued behind a full window counts in
    /// its round trip and towards its loss timeout (no coordinated omission: a slow server
    /// cannot hide its slowness by slowing the client down).
    func measure(size: Int, window: Int, rate: Double = 0, warmup: Double, duration: Double, maxRequests: Int,
                 cpuPid: Int32? = nil) -> Measurement {
        var result = Measurement(size: size, window: window)
        result.offeredRate = rate
        // Slot i holds the request whose sequence number is i modulo the slot count. A request
        // waiting for its timeout keeps its slot, so there are many more slots than the window.
        var slotCount = 4096
        while slotCount < window * 8 { slotCount <<= 1 }
        let mask = UInt64(slotCount - 1)
        let sentBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: slotCount * size, alignment: 16)
        defer { sentBytes.deallocate() }
        var slotSequence = [UInt64](repeating: .max, count: slotCount)
        var slotSentAt = [UInt64](repeating: 0, count: slotCount)
        var slotBusy = [Bool](repeating: false, count: slotCount)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(min(maxRequests, 1 << 20))

        var nextSequence: UInt64 = 0
        var oldestSequence: UInt64 = 0  // no request older than this is in flight
        var inFlight = 0
        var counting = false
        let start = monotonicNanoseconds()
        let measureStart = start + UInt64(warmup * 1e9)
        let measureEnd = measureStart + UInt64(duration * 1e9)
        var drainEnd = measureEnd + timeoutNanoseconds
        var cpuAtStart: UInt64 = 0
        var threadsAtStart: HostCPUSample?
        var threadsAtEnd: HostCPUSample?
        // The offered schedule: request number `scheduled` is due at `due(scheduled)`.
        let interval = rate > 0 ? 1e9 / rate : 0
        var scheduled: UInt64 = 0
        func due(_ index: UInt64) -> UInt64 { start + UInt64(Double(index) * interval) }
        var pollers = [pollfd](repeating: pollfd(), count: 1)

        func slot(_ sequence: UInt64) -> Int { Int(sequence & mask) }

        while true {
            var now = monotonicNanoseconds()
            if !counting && now >= measureStart {
                counting = true
                cpuAtStart = processCPUNanoseconds()
                if let cpuPid { threadsAtStart = HostCPUSample.take(processID: Int(cpuPid)) }
            }
            if let cpuPid, counting, threadsAtEnd == nil, now >= measureEnd {
                threadsAtEnd = HostCPUSample.take(processID: Int(cpuPid))
            }
            let sending = now < measureEnd && Int(nextSequence) < maxRequests
            if !sending && now < measureEnd {
                // The request cap ended the measurement early.
                result.truncated = true
                drainEnd = min(drainEnd, now + timeoutNanoseconds)
            }
            if now >= drainEnd || (!sending && inFlight == 0) { break }

            // Requests older than the timeout are lost; their slots are free again.
            while oldestSequence < nextSequence {
                let index = slot(oldestSequence)
                if slotBusy[index] && slotSequence[index] == oldestSequence {
                    guard now - slotSentAt[index] >= timeoutNanoseconds else { break }
                    slotBusy[index] = false
                    inFlight -= 1
                    if counting { result.lost += 1 }
                }
                oldestSequence += 1
            }

            // Fill the window.
            while sending && inFlight < window && Int(nextSequence) < maxRequests {
                let index = slot(nextSequence)
                if slotBusy[index] { break }  // an old request still holds this slot
                now = monotonicNanoseconds()
                if rate > 0 && due(scheduled) > now { break }  // the next request is not due yet
                let bytes = UnsafeMutableRawBufferPointer(rebasing: sentBytes[index * size ..< (index + 1) * size])
                Datagram.fill(bytes, sequence: nextSequence, sentAt: now)
                let sent = send(descriptor, bytes.baseAddress, size, Int32(MSG_DONTWAIT))
                if sent != size {
                    if errno == ECONNREFUSED { result.refused += 1 }  // an ICMP error of an earlier datagram
                    break  // or the send buffer full (EAGAIN, ENOBUFS): wait for replies
                }
                slotBusy[index] = true
                slotSequence[index] = nextSequence
                slotSentAt[index] = rate > 0 ? due(scheduled) : now
                inFlight += 1
                nextSequence += 1
                scheduled += 1
                if counting && now < measureEnd { result.sent += 1 }
            }

            // Wait for a reply, at most until the next timeout or the end of this phase.
            now = monotonicNanoseconds()
            var wakeAt = now < measureStart ? measureStart : (now < measureEnd ? measureEnd : drainEnd)
            if inFlight > 0 {
                let index = slot(oldestSequence)
                if slotBusy[index] { wakeAt = min(wakeAt, slotSentAt[index] + timeoutNanoseconds) }
            }
            // An offered load also wakes when its next request is due, if the window has room.
            if rate > 0 && sending && inFlight < window { wakeAt = min(wakeAt, max(due(scheduled), now)) }
            if wakeAt > now {
                pollers[0] = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                if pollPrecisely(&pollers, nanoseconds: min(wakeAt - now, 1_000_000_000)) == 0 { continue }
            }

            // Take every reply that is there.
            while true {
                let received = recv(descriptor, receiveBuffer.baseAddress, receiveBuffer.count, Int32(MSG_DONTWAIT))
                if received < 0 {
                    if errno == ECONNREFUSED { result.refused += 1; continue }
                    break
                }
                let arrived = monotonicNanoseconds()
                let reply = UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<received])
                guard let sequence = Datagram.sequence(of: reply) else {
                    if counting { result.mismatched += 1 }
                    continue
                }
                let index = slot(sequence)
                guard sequence < nextSequence, slotBusy[index], slotSequence[index] == sequence else {
                    if !counting {
                    } else if sequence < nextSequence {
                        result.late += 1
                    } else {
                        result.unexpected += 1
                    }
                    continue
                }
                slotBusy[index] = false
                inFlight -= 1
                let inMeasurement = counting && arrived < measureEnd
                let matches = received == size
                    && memcmp(reply.baseAddress!, sentBytes.baseAddress! + index * size, size) == 0
                if !matches {
                    if counting { result.mismatched += 1 }
                    continue
                }
                if inMeasurement {
                    result.replies += 1
                    latencies.append(arrived - slotSentAt[index])
                }
            }
        }
        // Whatever is still in flight after the drain is lost.
        result.lost += inFlight
        let end = min(monotonicNanoseconds(), measureEnd)
        result.seconds = end > measureStart ? Double(end - measureStart) / 1e9 : 0
        if result.seconds > 0 && cpuAtStart > 0 {
            result.clientCPUPercent = Double(processCPUNanoseconds() - cpuAtStart) / 1e9 / result.seconds * 100
        }
        if let start = threadsAtStart, let end = threadsAtEnd, let usage = HostCPUUsage(from: start, to: end) {
            result.threadCPU = usage.threads.map { (name: $0.name, percent: $0.percent) }
            // The saved results keep the host's share of all its cores (0–100).
            result.hostCPUPercent = usage.hostBusy / Double(usage.hostCores)
        }
        latencies.sort()
        if !latencies.isEmpty {
            result.p50Microseconds = Double(percentile(latencies, 0.50)) / 1000
            result.p99Microseconds = Double(percentile(latencies, 0.99)) / 1000
        }
        return result
    }
}

/// Nearest-rank percentile of sorted values.
func percentile(_ sorted: [UInt64], _ fraction: Double) -> UInt64 {
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}
