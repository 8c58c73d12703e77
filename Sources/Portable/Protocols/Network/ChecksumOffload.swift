// Checksum offload as the stack sees it: whether transport checksums are finished by the device on the way out, whether the device vouched for them on the way in, and where a device must do the work in a frame.

/// Who finishes the TCP and UDP checksums of the frames this stack sends.
public enum TransmitChecksum: Equatable, Sendable {
    /// The stack computes every checksum over header and data.
    case software
    /// The stack stores only the pseudo-header sum in the checksum field and the driver asks
    /// the device to finish it (virtio-net `VIRTIO_NET_F_CSUM`, `VIRTIO_NET_HDR_F_NEEDS_CSUM`,
    /// virtio 1.2 §5.1.6.2): one pass over the data fewer per frame sent.
    case device
}

/// What the device said about a received frame's transport checksum.
public enum ReceivedChecksum: Equatable, Sendable {
    /// Nothing: the stack verifies it.
    case unverified
    /// The device validated it (`VIRTIO_NET_HDR_F_DATA_VALID`), or the frame came from a peer
    /// that left it to be finished and the device vouches for the data (`NEEDS_CSUM` on a
    /// received frame: "the checksum on the packet is incomplete", virtio 1.2 §5.1.6.4). Either
    /// way the stack must not verify it: an incomplete checksum would not verify.
    case trusted
    /// Trusted, and the device merged TCP segments into this frame (VIRTIO_NET_F_GUEST_TSO4):
    /// it may be longer than one MTU, up to an IPv4 datagram of 64 KiB.
    case coalesced
}

/// Where a device finishes an offloaded checksum in a frame: virtio-net's `csum_start` and
/// `csum_offset` (virtio 1.2 §5.1.6.2).
public struct ChecksumOffloadRequest: Equatable, Sendable {
    /// Bytes from the frame's start to where summing starts: the transport header.
    public var start: UInt16
    /// Bytes from `start` to the checksum field (16 for TCP, 6 for UDP).
    public var offset: UInt16

    /// A request at `start` with the field `offset` bytes after it.
    public init(start: UInt16, offset: UInt16) {
        self.start = start
        self.offset = offset
    }

    /// The request for `frame` when it is an IPv4 TCP or UDP datagram that is not a fragment
    /// (the only frames whose checksum a `.device` stack leaves unfinished); nil for every
    /// other frame (ARP, ICMP), whose checksums are complete.
    public init?(frame: UnsafeRawBufferPointer) {
        // Ethernet II (RFC 894): the EtherType at 12; IPv4 (RFC 791 §3.1): version and IHL at
        // 14, flags and fragment offset at 20, protocol at 23.
        guard frame.count >= EthernetHeader.size + IPv4Header.minimumSize,
              frame[12] == 0x08, frame[13] == 0x00, frame[14] >> 4 == 4 else { return nil }
        let headerLength = Int(frame[14] & 0x0F) * 4
        let fragment = (UInt16(frame[20]) << 8 | UInt16(frame[21])) & 0x3FFF  // MF flag and offset
        guard headerLength >= IPv4Header.minimumSize, fragment == 0 else { return nil }
        let transport = EthernetHeader.size + headerLength
        switch frame[23] {
        case IPProtocol.tcp.rawValue:
            guard frame.count >= transport + 20 else { return nil }
            offset = 16
        case IPProtocol.udp.rawValue:
            guard frame.count >= transport + UDPHeader.size else { return nil }
            offset = 6
        default:
            return nil
        }
        start = UInt16(transport)
    }
}
