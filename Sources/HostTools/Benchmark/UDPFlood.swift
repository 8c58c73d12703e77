// swiglet-bench udp-flood: datagrams sent as fast as a UDP socket takes them, to overload a target's NIC queue.

import Glibc

/// `swiglet-bench udp-flood`: one connected UDP socket, no reads, a duration or a count.
enum UDPFlood {
    static func run(_ options: TCPModeOptions) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { printError("udp-flood: socket: \(String(cString: strerror(errno)))"); return 1 }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = options.target.address
        address.sin_port = options.target.port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            printError("udp-flood: connect to \(options.target!): \(String(cString: strerror(errno)))")
            return 1
        }
        // A recognisable payload, so a pcap shows whose datagrams these are.
        let payload = [UInt8]((0..<options.datagramSize).map { UInt8(truncatingIfNeeded: 0x41 + $0 % 26) })
        let pacer = Pacer(rate: options.rate)
        let deadline = pacer.started + UInt64(options.duration * 1e9)
        var sent = 0
        var errors = 0
        var lastError: Int32 = 0
        var index = 0
        while !options.countGiven || index < options.count {
            // The clock is read every 64 sends: often enough for a 0.1 s duration, rarely enough not to slow the flood.
            if index & 63 == 0 && monotonicNanoseconds() >= deadline { break }
            pacer.wait(before: index)
            if payload.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, 0) }) == payload.count {
                sent += 1
            } else {
                errors += 1
                lastError = errno
                // ENOBUFS/ECONNREFUSED (an ICMP error from the target) are part of a flood; yield the CPU a moment.
                if errors & 1023 == 0 { usleep(100) }
            }
            index += 1
        }
        let seconds = Double(monotonicNanoseconds() - pacer.started) / 1e9
        let rate = Double(sent) / max(seconds, 1e-9)
        print("udp-flood: \(sent) datagrams of \(options.datagramSize) B to \(options.target!) in \(Report.formatSeconds(seconds)) "
            + "(\(formatted(rate, 0))/s), \(errors) refused\(errors > 0 ? " (last: \(String(cString: strerror(lastError))))" : "")")
        print("result: mode=udp-flood sent=\(sent) seconds=\(formatted(seconds, 3)) rate=\(formatted(rate, 0)) errors=\(errors)")
        if sent == 0 { printError("udp-flood: nothing could be sent to \(options.target!)") }
        return sent > 0 ? 0 : 1
    }
}
