// Hand-built TCP segments over a raw IPv4 socket: the SYN flood and the malformed-segment storm.

import Glibc

/// A seeded generator (SplitMix64) so that a storm can be repeated.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: next()) }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: next()) }
}

/// TCP flag bits — RFC 9293 §3.1.
enum TCPFlag {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10, urg: UInt8 = 0x20
}

/// A packet being built: a 20-byte IPv4 header (RFC 791 §3.1) and a TCP segment (RFC 9293 §3.1).
struct RawPacket {
    var bytes = [UInt8](repeating: 0, count: 20)
    let source: UInt32
    let destination: UInt32

    /// The IPv4 header; with IP_HDRINCL Linux fills in the checksum and the total length (raw(7)).
    init(source: UInt32, destination: UInt32, identification: UInt16) {
        self.source = source
        self.destination = destination
        bytes[0] = 0x45
        bytes[6] = 0x40  // don't fragment
        bytes[8] = 64    // TTL
        bytes[9] = 6     // TCP
        put16(identification, at: 4)
        put32(source, at: 12)
        put32(destination, at: 16)
    }

    mutating func put16(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(value >> 8); bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
    mutating func put32(_ value: UInt32, at offset: Int) {
        put16(UInt16(value >> 16), at: offset); put16(UInt16(truncatingIfNeeded: value), at: offset + 2)
    }

    /// Appends a TCP header (checksum 0) with `options` (padded with zeros to a multiple of 4
    /// unless `dataOffsetWords` overrides the offset field) and `payload`.
    mutating func appendTCP(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgment: UInt32,
                            flags: UInt8, window: UInt16, urgent: UInt16 = 0, options: [UInt8] = [],
                            payload: [UInt8] = [], dataOffsetWords: Int? = nil) {
        var tcp = [UInt8](repeating: 0, count: 20)
        var padded = options
        while padded.count % 4 != 0 { padded.append(0) }
        let offset = dataOffsetWords ?? (20 + padded.count) / 4
        func put16(_ value: UInt16, _ at: Int) { tcp[at] = UInt8(value >> 8); tcp[at + 1] = UInt8(truncatingIfNeeded: value) }
        put16(sourcePort, 0); put16(destinationPort, 2)
        put16(UInt16(sequence >> 16), 4); put16(UInt16(truncatingIfNeeded: sequence), 6)
        put16(UInt16(acknowledgment >> 16), 8); put16(UInt16(truncatingIfNeeded: acknowledgment), 10)
        tcp[12] = UInt8(truncatingIfNeeded: offset << 4)
        tcp[13] = flags
        put16(window, 14); put16(urgent, 18)
        bytes += tcp + padded + payload
    }

    /// Fills in the TCP checksum over the pseudo-header and everything after the IP header
    /// (RFC 9293 §3.1); `corrupt` is XORed in (0: a valid checksum).
    mutating func checksumTCP(corrupt: UInt16 = 0) {
        guard bytes.count >= 38 else { return }
        bytes[36] = 0; bytes[37] = 0
        var sum: UInt32 = 0
        func add(_ value: UInt16) { sum &+= UInt32(value) }
        add(UInt16(source >> 16)); add(UInt16(truncatingIfNeeded: source))
        add(UInt16(destination >> 16)); add(UInt16(truncatingIfNeeded: destination))
        add(6); add(UInt16(bytes.count - 20))
        var index = 20
        while index + 1 < bytes.count { add(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])); index += 2 }
        if index < bytes.count { add(UInt16(bytes[index]) << 8) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        put16(~UInt16(sum) ^ corrupt, at: 36)
    }
}

/// A raw IPv4 socket that sends packets with their own IP header to one destination.
struct RawSender {
    let descriptor: Int32
    var destination: sockaddr_in
    var sent = 0
    var errors = 0
    var errorKinds: [Int32: Int] = [:]

    init(target: Endpoint) throws(ClientError) {
        guard geteuid() == 0 else {
            throw ClientError(message: "a raw socket needs root (run as root, e.g. inside scripts/bench-tcp.sh's namespace)")
        }
        // IPPROTO_RAW implies IP_HDRINCL: the packet carries its own IPv4 header.
        descriptor = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
        guard descriptor >= 0 else { throw ClientError(message: "raw socket: \(errorText())") }
        var bufferSize: Int32 = 4 << 20
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        destination = socketAddress(target)
    }

    /// Sends one packet; a full queue (ENOBUFS) waits briefly and retries.
    mutating func send(_ packet: RawPacket) {
        var attempts = 0
        while true {
            let result = packet.bytes.withUnsafeBytes { bytes in
                withUnsafePointer(to: &destination) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            if result >= 0 { sent += 1; return }
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && attempts < 100 {
                attempts += 1
                usleep(100)
                continue
            }
            errors += 1
            errorKinds[errno, default: 0] += 1
            return
        }
    }

    var errorSummary: String {
        errorKinds.sorted { $0.value > $1.value }.map { "\($0.value)× \(String(cString: strerror($0.key)))" }.joined(separator: ", ")
    }
}

/// Keeps a loop at `rate` iterations per second (0: unlimited).
struct Pacer {
    let rate: Int
    let started = monotonicNanoseconds()
    func wait(before iteration: Int) {
        guard rate > 0 else { return }
        while true {
            let due = started + UInt64(Double(iteration) / Double(rate) * 1e9)
            let now = monotonicNanoseconds()
            if now >= due { return }
            let gap = due - now
            if gap > 200_000 { usleep(UInt32(min(gap / 1000, 100_000))) }
        }
    }
}

enum SYNFlood {
    static func run(_ options: TCPModeOptions) -> Int32 {
        var sender: RawSender
        do { sender = try RawSender(target: options.target) } catch { printError(error.message); return 1 }
        var random = SeededRandom(state: options.seed)
        let destination = UInt32(bigEndian: options.target.address.s_addr)
        let span = UInt64(options.sources.upperBound - options.sources.lowerBound) + 1
        let pacer = Pacer(rate: options.rate)
        for index in 0..<options.count {
            pacer.wait(before: index)
            let source = options.sources.lowerBound + UInt32(random.next() % span)
            var packet = RawPacket(source: source, destination: destination, identification: random.u16())
            // MSS 1460 (RFC 9293 §3.7.1), as a real client's SYN would carry.
            packet.appendTCP(sourcePort: UInt16(1024 + random.below(64512)), destinationPort: options.target.port,
                             sequence: random.u32(), acknowledgment: 0, flags: TCPFlag.syn, window: 64240,
                             options: [2, 4, 0x05, 0xB4])
            packet.checksumTCP()
            sender.send(packet)
            if index == 99 && sender.sent == 0 {
                printError("the first 100 SYNs all failed: \(sender.errorSummary) (is there a route to \(options.target!)?)")
                return 1
            }
        }
        let seconds = Double(monotonicNanoseconds() - pacer.started) / 1e9
        let rate = Double(sender.sent) / max(seconds, 1e-9)
        print("syn-flood: \(sender.sent) SYNs to \(options.target!) from \(sender.sent > 0 ? rangeText(options.sources) : "-") "
            + "in \(Report.formatSeconds(seconds)) (\(formatted(rate, 0))/s), \(sender.errors) failed\(sender.errors > 0 ? ": " + sender.errorSummary : "")")
        print("result: mode=syn-flood sent=\(sender.sent) seconds=\(formatted(seconds, 3)) rate=\(formatted(rate, 0)) errors=\(sender.errors)")
        close(sender.descriptor)
        return sender.sent > 0 ? 0 : 1
    }

    static func rangeText(_ range: ClosedRange<UInt32>) -> String {
        func text(_ value: UInt32) -> String { "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)" }
        return "\(text(range.lowerBound))-\(text(range.upperBound))"
    }
}

enum TCPGarbage {
    /// The kinds of malformed segment, sent in turn.
    enum Kind: Int, CaseIterable {
        case badChecksum, dataOffsetTooSmall, dataOffsetBeyondSegment, truncatedHeader, randomFlags, outOfWindowReset, badOptions

        var name: String {
            switch self {
            case .badChecksum: "bad checksum"
            case .dataOffsetTooSmall: "data offset below 5"
            case .dataOffsetBeyondSegment: "data offset beyond the segment"
            case .truncatedHeader: "header cut short"
            case .randomFlags: "random flags, sequence and acknowledgment"
            case .outOfWindowReset: "RST out of window"
            case .badOptions: "options with bad lengths"
            }
        }
    }

    /// This host's address on the route to `target` (a connected UDP socket's local address).
    static func localAddress(towards target: Endpoint) -> UInt32? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = socketAddress(target)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return named == 0 ? UInt32(bigEndian: local.sin_addr.s_addr) : nil
    }

    static func packet(_ kind: Kind, source: UInt32, destination: UInt32, port: UInt16, random: inout SeededRandom) -> RawPacket {
        var packet = RawPacket(source: source, destination: destination, identification: random.u16())
        let sourcePort = UInt16(1024 + random.below(64512))
        let payload = (0..<random.below(48)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        switch kind {
        case .badChecksum:
            let flags = [TCPFlag.syn, TCPFlag.ack, TCPFlag.ack | TCPFlag.psh, TCPFlag.rst, TCPFlag.fin | TCPFlag.ack][random.below(5)]
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: random.u32(),
                             flags: flags, window: 65535, payload: payload)
            packet.checksumTCP(corrupt: UInt16(1 + random.below(0xFFFE)))
        case .dataOffsetTooSmall:
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: random.u32(),
                             flags: random.below(2) == 0 ? TCPFlag.syn : TCPFlag.ack, window: 65535, payload: payload,
                             dataOffsetWords: random.below(5))
            packet.checksumTCP()
        case .dataOffsetBeyondSegment:
            // The offset claims more header than the segment has (at least 1 word too many).
            let words = min(15, (20 + payload.count) / 4 + 1 + random.below(4))
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: random.u32(),
                             flags: random.below(2) == 0 ? TCPFlag.syn : TCPFlag.ack | TCPFlag.psh, window: 65535,
                             payload: Array(payload.prefix(max(0, words * 4 - 24))), dataOffsetWords: words)
            packet.checksumTCP()
        case .truncatedHeader:
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: 0,
                             flags: TCPFlag.syn, window: 65535)
            packet.bytes.removeLast(1 + random.below(20))  // 0...19 bytes of TCP header remain
            packet.checksumTCP()  // only when the checksum field itself is still there
        case .randomFlags:
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: random.u32(),
                             flags: UInt8(truncatingIfNeeded: random.next()), window: random.u16(), urgent: random.u16(),
                             payload: payload)
            packet.checksumTCP()
        case .outOfWindowReset:
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: random.u32(),
                             flags: random.below(2) == 0 ? TCPFlag.rst : TCPFlag.rst | TCPFlag.ack, window: 0)
            packet.checksumTCP()
        case .badOptions:
            let options: [[UInt8]] = [
                [2, 0, 5, 0xB4],              // MSS with length 0 (would loop a naive parser)
                [2, 1, 5, 0xB4],              // length 1: shorter than kind + length
                [2, 40, 5, 0xB4],             // length beyond the header
                [2, 3, 5, 0, 1, 1, 1, 1],     // MSS with the wrong length
                [3, 3, 200, 0],               // window scale 200 (RFC 7323 §2.3: at most 14)
                [8, 10, 1, 2, 3, 4],          // timestamps cut short by the header's end
                [5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],  // SACK blocks on a SYN
                [254, 255, 1, 1],             // an unknown option longer than the header
            ]
            packet.appendTCP(sourcePort: sourcePort, destinationPort: port, sequence: random.u32(), acknowledgment: 0,
                             flags: TCPFlag.syn, window: 65535, options: options[random.below(options.count)])
            packet.checksumTCP()
        }
        return packet
    }

    static func run(_ options: TCPModeOptions) -> Int32 {
        var sender: RawSender
        do { sender = try RawSender(target: options.target) } catch { printError(error.message); return 1 }
        let destination = UInt32(bigEndian: options.target.address.s_addr)
        guard let source = options.source.map({ UInt32(bigEndian: $0.s_addr) }) ?? localAddress(towards: options.target) else {
            printError("no route to \(options.target!) (cannot find this host's address towards it; give --source)")
            return 1
        }
        var random = SeededRandom(state: options.seed)
        var perKind = [Int](repeating: 0, count: Kind.allCases.count)
        let pacer = Pacer(rate: options.rate)
        for index in 0..<options.count {
            pacer.wait(before: index)
            let kind = Kind.allCases[index % Kind.allCases.count]
            let before = sender.sent
            sender.send(packet(kind, source: source, destination: destination, port: options.target.port, random: &random))
            perKind[kind.rawValue] += sender.sent - before
            if index == 99 && sender.sent == 0 {
                printError("the first 100 segments all failed: \(sender.errorSummary) (is there a route to \(options.target!)?)")
                return 1
            }
        }
        let seconds = Double(monotonicNanoseconds() - pacer.started) / 1e9
        let rate = Double(sender.sent) / max(seconds, 1e-9)
        close(sender.descriptor)
        for kind in Kind.allCases { print("tcp-garbage: \(perKind[kind.rawValue]) × \(kind.name)") }
        print("tcp-garbage: \(sender.sent) segments to \(options.target!) in \(Report.formatSeconds(seconds)) (\(formatted(rate, 0))/s), "
            + "\(sender.errors) failed\(sender.errors > 0 ? ": " + sender.errorSummary : "")")
        var alive = "unchecked"
        if options.check {
            switch connectTCP(options.target, timeoutMilliseconds: 3000) {
            case .success(let fd):
                close(fd)
                alive = "yes"
                print("tcp-garbage: \(options.target!) still accepts connections")
            case .failure(let error):
                alive = "no"
                printError("after the storm: \(error.message)")
            }
        }
        print("result: mode=tcp-garbage sent=\(sender.sent) seconds=\(formatted(seconds, 3)) rate=\(formatted(rate, 0)) errors=\(sender.errors) alive=\(alive)")
        return sender.sent > 0 && alive != "no" ? 0 : 1
    }
}

/// Runs a TCP mode; its exit status.
func runTCPMode(_ mode: TCPMode, _ arguments: [String]) -> Int32 {
    let options: TCPModeOptions
    do {
        options = try TCPModeOptions.parse(mode: mode, arguments)
    } catch {
        printError("\(mode.rawValue): \(error.message) (see swiglet-bench \(mode.rawValue) --help)")
        return 2
    }
    if options.help {
        print(mode.usage)
        return 0
    }
    switch mode {
    case .tcpEcho: return TCPEchoThroughput.run(options)
    case .tcpConnect: return TCPConnectRate.run(options)
    case .tcpRR: return TCPRequestAnswer.run(options)
    case .synFlood: return SYNFlood.run(options)
    case .tcpGarbage: return TCPGarbage.run(options)
    case .udpFlood: return UDPFlood.run(options)
    }
}
