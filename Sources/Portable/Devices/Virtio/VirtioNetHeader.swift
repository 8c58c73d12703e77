/// The header that precedes every packet on a virtio-net queue.

/// struct virtio_net_hdr as laid out with VIRTIO_F_VERSION_1 (12 bytes, little-endian) —
/// virtio 1.2 §5.1.6. Every transmitted packet starts with one, and the device writes one at
/// the start of every receive buffer.
public struct VirtioNetHeader: Equatable, Sendable {
    /// The header's size with VERSION_1 (num_buffers is always present, §5.1.6).
    public static let byteCount = 12

    /// Field offsets — §5.1.6.
    public enum Offset {
        /// flags, u8.
        public static let flags = 0
        /// gso_type, u8.
        public static let segmentationType = 1
        /// hdr_len, le16.
        public static let headerLength = 2
        /// gso_size, le16.
        public static let segmentSize = 4
        /// csum_start, le16.
        public static let checksumStart = 6
        /// csum_offset, le16.
        public static let checksumOffset = 8
        /// num_buffers, le16.
        public static let bufferCount = 10
    }

    /// Header flags — §5.1.6.
    public struct Flags: OptionSet, Equatable, Sendable {
        /// The 8 flag bits.
        public var rawValue: UInt8
        /// The flags `rawValue`.
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// VIRTIO_NET_HDR_F_NEEDS_CSUM (1): checksum from checksumStart still to be computed.
        public static let needsChecksum = Flags(rawValue: 1)
        /// VIRTIO_NET_HDR_F_DATA_VALID (2): the device validated the received checksum.
        public static let dataValid = Flags(rawValue: 2)
        /// VIRTIO_NET_HDR_F_RSC_INFO (4): coalescing information in checksumStart/Offset.
        public static let receiveSegmentCoalescingInfo = Flags(rawValue: 4)
    }

    /// gso_type values — §5.1.6.
    public enum SegmentationType: UInt8, Sendable {
        /// VIRTIO_NET_HDR_GSO_NONE: not a segmentation-offload packet.
        case none = 0
        /// VIRTIO_NET_HDR_GSO_TCPV4.
        case tcpIPv4 = 1
        /// VIRTIO_NET_HDR_GSO_UDP.
        case udp = 3
        /// VIRTIO_NET_HDR_GSO_TCPV6.
        case tcpIPv6 = 4
        /// VIRTIO_NET_HDR_GSO_UDP_L4.
        case udpLayer4 = 5
    }

    /// flags.
    public var flags: Flags
    /// gso_type, raw (VIRTIO_NET_HDR_GSO_ECN 0x80 may be or-ed into a `SegmentationType`).
    public var segmentationType: UInt8
    /// hdr_len: bytes of headers before the payload (for segmentation).
    public var headerLength: UInt16
    /// gso_size: the payload size of each segment.
    public var segmentSize: UInt16
    /// csum_start: where checksumming starts.
    public var checksumStart: UInt16
    /// csum_offset: where, after checksumStart, the checksum is stored.
    public var checksumOffset: UInt16
    /// num_buffers: receive buffers the packet spans (1 without VIRTIO_NET_F_MRG_RXBUF);
    /// the driver sets 0 when transmitting.
    public var bufferCount: UInt16

    /// A header with these fields; the default is the plain transmit header (all zero).
    public init(flags: Flags = [], segmentationType: UInt8 = SegmentationType.none.rawValue,
                headerLength: UInt16 = 0, segmentSize: UInt16 = 0, checksumStart: UInt16 = 0,
                checksumOffset: UInt16 = 0, bufferCount: UInt16 = 0) {
        self.flags = flags
        self.segmentationType = segmentationType
        self.headerLength = headerLength
        self.segmentSize = segmentSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
        self.bufferCount = bufferCount
    }

    /// The header stored at `pointer` (12 readable bytes, any alignment).
    public init(loadingFrom pointer: UnsafeRawPointer) {
        func field(_ offset: Int) -> UInt16 {
            UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        }
        flags = Flags(rawValue: pointer.load(fromByteOffset: Offset.flags, as: UInt8.self))
        segmentationType = pointer.load(fromByteOffset: Offset.segmentationType, as: UInt8.self)
        headerLength = field(Offset.headerLength)
        segmentSize = field(Offset.segmentSize)
        checksumStart = field(Offset.checksumStart)
        checksumOffset = field(Offset.checksumOffset)
        bufferCount = field(Offset.bufferCount)
    }

    /// Writes the header's 12 bytes at `pointer` (any alignment).
    public func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: flags.rawValue, toByteOffset: Offset.flags, as: UInt8.self)
        pointer.storeBytes(of: segmentationType, toByteOffset: Offset.segmentationType, as: UInt8.self)
        pointer.storeBytes(of: headerLength.littleEndian, toByteOffset: Offset.headerLength, as: UInt16.self)
        pointer.storeBytes(of: segmentSize.littleEndian, toByteOffset: Offset.segmentSize, as: UInt16.self)
        pointer.storeBytes(of: checksumStart.littleEndian, toByteOffset: Offset.checksumStart, as: UInt16.self)
        pointer.storeBytes(of: checksumOffset.littleEndian, toByteOffset: Offset.checksumOffset, as: UInt16.self)
        pointer.storeBytes(of: bufferCount.littleEndian, toByteOffset: Offset.bufferCount, as: UInt16.self)
    }
}
