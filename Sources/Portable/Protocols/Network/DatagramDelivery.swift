// What the stack's receive path hands back: handled, dropped, a datagram for a bound port, or a TCP segment.

import RawBytes

/// What became of one received frame (`NetworkStack.receive`). The payloads point into the
/// received frame and are valid only until the frame's buffer goes back to the NIC.
public enum ReceiveOutcome {
    /// The stack took care of it: ARP, an ICMP echo, the built-in UDP echo, or nothing to do.
    case handled
    /// Malformed, not for us, or unwanted: dropped and counted under this reason.
    case dropped(DropReason)
    /// A UDP datagram for a port a listener has bound, for the caller to hand to it.
    case datagram(DatagramDelivery)
    /// A TCP segment to our address, for the caller's connection table.
    case segment(SegmentDelivery)
}

/// A UDP datagram for a bound port (its checksum verified).
public struct DatagramDelivery {
    /// The number given to `NetworkStack.bind(port:listener:)`.
    public var listener: Int
    /// The UDP payload.
    public var payload: ByteReader
    /// The datagram's source address.
    public var source: IPv4Address
    /// The UDP source port.
    public var sourcePort: UInt16
    /// The UDP destination port (the bound one).
    public var destinationPort: UInt16
}

/// A TCP segment to our address. The TCP module parses and checksums the segment itself, so
/// the stack only hands over the addresses its pseudo-header needs.
public struct SegmentDelivery {
    /// The whole segment, header included (checksum not yet verified).
    public var segment: ByteReader
    /// The datagram's source address.
    public var source: IPv4Address
    /// The datagram's destination address (ours).
    public var destination: IPv4Address
    /// Whether the device vouched for the checksum (TCP must then not verify it).
    public var checksum: ReceivedChecksum = .unverified

    /// A delivery of `segment` from `source` to `destination`.
    public init(segment: ByteReader, source: IPv4Address, destination: IPv4Address, checksum: ReceivedChecksum = .unverified) {
        self.segment = segment
        self.source = source
        self.destination = destination
        self.checksum = checksum
    }
}
