/// A first look at a received frame: is it ARP, or UDP or TCP between which ports — enough to decide which context serves it.

/// The fields of a received frame that say who serves it, read at fixed offsets without
/// validating anything: the context that ends up with the frame runs it through its whole
/// stack, which checks lengths, checksums and addresses and counts what it drops. Ethernet II
/// (RFC 894), IPv4 (RFC 791 §3.1), and the first four bytes of UDP (RFC 768) and TCP
/// (RFC 9293 §3.1), which are the ports in both.
public enum FrameFlow: Equatable, Sendable {
    /// An ARP packet (EtherType 0x0806): every context keeps its own ARP cache.
    case arp
    /// A UDP datagram: its source address and ports.
    case udp(source: UInt32, sourcePort: UInt16, destinationPort: UInt16)
    /// A TCP segment: its source address and ports.
    case tcp(source: UInt32, sourcePort: UInt16, destinationPort: UInt16)
    /// Anything else (ICMP, a fragment, something too short to tell): served where it arrived.
    case other

    /// Reads `frame` (an Ethernet frame without FCS).
    public init(classifying frame: UnsafeRawBufferPointer) {
        func byte(_ offset: Int) -> UInt8 { frame[offset] }
        func word(_ offset: Int) -> UInt16 { UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1]) }
        guard frame.count >= 14 else { self = .other; return }
        let etherType = word(12)
        if etherType == 0x0806 { self = .arp; return }
        // IPv4: version 4, a header of at least 20 bytes, and the ports inside the frame.
        guard etherType == 0x0800, frame.count >= 34, byte(14) >> 4 == 4 else { self = .other; return }
        let headerLength = Int(byte(14) & 0x0F) * 4
        // A fragment other than the first carries no ports; a first fragment does, but the rest
        // of its datagram would not follow it, so fragments stay where they arrive (the stack
        // drops them: it does not reassemble).
        let fragment = word(20) & 0x3FFF   // the MF flag and the fragment offset
        guard headerLength >= 20, fragment == 0, frame.count >= 14 + headerLength + 4 else { self = .other; return }
        let source = UInt32(word(26)) << 16 | UInt32(word(28))
        let transport = 14 + headerLength
        switch byte(23) {
        case 17: self = .udp(source: source, sourcePort: word(transport), destinationPort: word(transport + 2))
        case 6: self = .tcp(source: source, sourcePort: word(transport), destinationPort: word(transport + 2))
        default: self = .other
        }
    }
}
