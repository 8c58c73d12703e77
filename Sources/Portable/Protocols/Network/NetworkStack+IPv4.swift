// The stack's IPv4 receive path (RFC 791, RFC 1122 §3.2.1) and its ICMP echo (RFC 792) and UDP (RFC 768) handlers.

import RawBytes

extension NetworkStack {
    /// Validates a datagram, takes it only when it is addressed to us and whole, and passes it
    /// to ICMP or UDP. We are a host: nothing is forwarded, so TTL is not judged.
    mutating func handleIPv4<Transmitter: FrameTransmitter>(_ payload: ByteReader, ethernet: EthernetHeader, now: UInt64,
                                                            checksum: ReceivedChecksum,
                                                            transmitter: inout Transmitter) throws(DropReason) -> ReceiveOutcome {
        let datagram: IPv4Datagram
        do throws(DropReason) {
            datagram = try IPv4Datagram(parsing: payload)
        } catch {
            counters.ipv4.received(payload.count)
            throw error
        }
        counters.ipv4.received(datagram.bytes.count)
        let header = datagram.header
        guard configuration.accepts(header.destination) else { throw .notForUs }
        // RFC 1122 §3.2.1.3: a broadcast or multicast source is invalid; 0.0.0.0 cannot be answered.
        guard header.source != .any, !header.source.isMulticast, !configuration.isBroadcast(header.source)
        else { throw .badAddress }
        guard !header.isFragment else { throw .fragment }
        if header.protocolNumber == .icmp {
            try handleICMP(datagram, ethernet: ethernet, transmitter: &transmitter)
            return .handled
        } else if header.protocolNumber == .udp {
            return try handleUDP(datagram, ethernet: ethernet, now: now, checksum: checksum, transmitter: &transmitter)
        } else if header.protocolNumber == .tcp {
            // TCP has no broadcast or multicast form (RFC 1122 §4.2.3.10): only our address.
            counters.tcp.received(datagram.payload.count)
            guard header.destination == configuration.address else { throw .notForUs }
            return .segment(SegmentDelivery(segment: datagram.payload, source: header.source,
                                            destination: header.destination, checksum: checksum))
        } else {
            throw .unknownProtocol
        }
    }

    /// Answers echo requests sent to our address (RFC 1122 §3.2.2.6); other messages are counted
    /// as `unsupportedMessage`.
    mutating func handleICMP<Transmitter: FrameTransmitter>(_ datagram: IPv4Datagram, ethernet: EthernetHeader,
                                                            transmitter: inout Transmitter) throws(DropReason) {
        counters.icmp.received(datagram.payload.count)
        let message = try ICMPMessage(parsing: datagram.payload)
        guard message.header.type == .echoRequest, datagram.header.destination == configuration.address
        else { throw .unsupportedMessage }
        let reply = EthernetHeader(destination: ethernet.source, source: configuration.hardwareAddress, etherType: .ipv4)
        let source = configuration.address
        let identification = takeIdentification()
        transmit(&transmitter) { buffer in
            ICMPFrames.writeEchoReply(into: buffer, request: message, ethernet: reply, source: source,
                                      destination: datagram.header.source, identification: identification)
        }
    }

    /// Delivers a datagram to the built-in echo service (RFC 862), or counts `noListener` and
    /// answers with a rate-limited ICMP port unreachable (RFC 1122 §4.1.3.1).
    mutating func handleUDP<Transmitter: FrameTransmitter>(_ datagram: IPv4Datagram, ethernet: EthernetHeader, now: UInt64,
                                                           checksum: ReceivedChecksum,
                                                           transmitter: inout Transmitter) throws(DropReason) -> ReceiveOutcome {
        counters.udp.received(datagram.payload.count)
        let udp = try UDPDatagram(parsing: datagram.payload, source: datagram.header.source,
                                  destination: datagram.header.destination, checksum: checksum)
        let toUs = datagram.header.destination == configuration.address
        if toUs, let listener = listener(of: udp.header.destinationPort) {
            return .datagram(DatagramDelivery(listener: listener, payload: udp.payload, source: datagram.header.source,
                                              sourcePort: udp.header.sourcePort, destinationPort: udp.header.destinationPort))
        }
        let reply = EthernetHeader(destination: ethernet.source, source: configuration.hardwareAddress, etherType: .ipv4)
        if let echoPort = udpEchoPort, udp.header.destinationPort == echoPort, toUs {
            // Port 0 cannot be answered; answering another echo port would let two echo
            // services bounce one datagram forever.
            guard udp.header.sourcePort != 0, udp.header.sourcePort != echoPort else { throw .unsupportedMessage }
            let source = configuration.address
            let identification = takeIdentification()
            let mode = transmitChecksum
            transmit(&transmitter) { buffer in
                UDPFrames.writeDatagram(into: buffer, ethernet: reply, source: source, sourcePort: echoPort,
                                        destination: datagram.header.source, destinationPort: udp.header.sourcePort,
                                        payload: udp.payload, identification: identification, checksum: mode)
            }
            return .handled
        }
        // Never answer a broadcast with an error (RFC 1122 §3.2.2).
        if toUs && allowICMPError(now: now) {
            let source = configuration.address
            let identification = takeIdentification()
            transmit(&transmitter) { buffer in
                ICMPFrames.writeUnreachable(into: buffer, code: ICMPHeader.portUnreachableCode, original: datagram,
                                            ethernet: reply, source: source, identification: identification)
            }
        }
        throw .noListener
    }

    /// Whether one more ICMP error fits in this second's budget.
    private mutating func allowICMPError(now: UInt64) -> Bool {
        if now < icmpErrorWindowStart || now - icmpErrorWindowStart >= 1_000_000_000 {
            icmpErrorWindowStart = now
            icmpErrorsInWindow = 0
        }
        guard icmpErrorsInWindow < icmpErrorsPerSecond else { return false }
        icmpErrorsInWindow += 1
        return true
    }
}
