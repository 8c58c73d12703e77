/// The 64 feature bits a virtio device offers and a driver accepts, with their names.

/// A set of feature bits — virtio 1.2 §2.2 (bits 0–23 device type specific, 24–40
/// reserved for the transport and queue features of §6, the rest reserved).
public struct FeatureSet: OptionSet, Equatable, Sendable {
    /// The 64 feature bits.
    public var rawValue: UInt64
    /// The bits `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The set holding only feature `bit` (0 to 63).
    public init(bit: Int) { self.rawValue = 1 << UInt64(bit) }

    // Reserved feature bits — virtio 1.2 §6.

    /// VIRTIO_F_INDIRECT_DESC (28): descriptors may point to indirect descriptor tables.
    public static let indirectDescriptors = FeatureSet(bit: 28)
    /// VIRTIO_F_EVENT_IDX (29): used_event / avail_event replace the ring flags for
    /// notification suppression (§2.7.10).
    public static let ringEventIndex = FeatureSet(bit: 29)
    /// VIRTIO_F_VERSION_1 (32): a virtio 1.x device (little-endian rings, modern layout).
    public static let version1 = FeatureSet(bit: 32)
    /// VIRTIO_F_ACCESS_PLATFORM (33): the device goes through an IOMMU.
    public static let accessPlatform = FeatureSet(bit: 33)
    /// VIRTIO_F_RING_PACKED (34): packed virtqueues are supported.
    public static let ringPacked = FeatureSet(bit: 34)
    /// VIRTIO_F_IN_ORDER (35): buffers are used in the order they were made available.
    public static let inOrder = FeatureSet(bit: 35)

    // Network device feature bits — virtio 1.2 §5.1.3.

    /// VIRTIO_NET_F_CSUM (0): the device completes partial checksums of transmitted packets.
    public static let deviceChecksum = FeatureSet(bit: 0)
    /// VIRTIO_NET_F_GUEST_CSUM (1): the driver accepts received packets with partial checksums.
    public static let guestChecksum = FeatureSet(bit: 1)
    /// VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (2): offloads can be reconfigured on the control queue.
    public static let controlGuestOffloads = FeatureSet(bit: 2)
    /// VIRTIO_NET_F_MTU (3): the device reports its maximum MTU in the configuration.
    public static let maximumTransmissionUnit = FeatureSet(bit: 3)
    /// VIRTIO_NET_F_MAC (5): the device reports its MAC address in the configuration.
    public static let mac = FeatureSet(bit: 5)
    /// VIRTIO_NET_F_GUEST_TSO4 (7): the driver accepts TCPv4 segmentation offload packets.
    public static let guestTCPSegmentationIPv4 = FeatureSet(bit: 7)
    /// VIRTIO_NET_F_GUEST_TSO6 (8): the driver accepts TCPv6 segmentation offload packets.
    public static let guestTCPSegmentationIPv6 = FeatureSet(bit: 8)
    /// VIRTIO_NET_F_HOST_TSO4 (11): the device segments TCPv4 packets for us.
    public static let hostTCPSegmentationIPv4 = FeatureSet(bit: 11)
    /// VIRTIO_NET_F_HOST_TSO6 (12): the device segments TCPv6 packets for us.
    public static let hostTCPSegmentationIPv6 = FeatureSet(bit: 12)
    /// VIRTIO_NET_F_MRG_RXBUF (15): a received packet may span several receive buffers.
    public static let mergeableReceiveBuffers = FeatureSet(bit: 15)
    /// VIRTIO_NET_F_STATUS (16): the configuration's status field (link up) is valid.
    public static let status = FeatureSet(bit: 16)
    /// VIRTIO_NET_F_CTRL_VQ (17): the device has a control virtqueue.
    public static let controlQueue = FeatureSet(bit: 17)
    /// VIRTIO_NET_F_CTRL_RX (18): receive filtering through the control queue.
    public static let controlReceive = FeatureSet(bit: 18)
    /// VIRTIO_NET_F_CTRL_VLAN (19): VLAN filtering through the control queue.
    public static let controlVLAN = FeatureSet(bit: 19)
    /// VIRTIO_NET_F_GUEST_ANNOUNCE (21): the driver can send gratuitous packets on request.
    public static let guestAnnounce = FeatureSet(bit: 21)
    /// VIRTIO_NET_F_MQ (22): several receive/transmit queue pairs.
    public static let multiqueue = FeatureSet(bit: 22)
    /// VIRTIO_NET_F_CTRL_MAC_ADDR (23): the MAC address can be set through the control queue.
    public static let controlMACAddress = FeatureSet(bit: 23)
    // virtio 1.2 §2.2 also gives bits 50 to 127 to the device type; the next two are there.
    /// VIRTIO_NET_F_HASH_REPORT (57): the device reports each received packet's hash and hash
    /// type in the header (should come with VIRTIO_NET_F_CTRL_VQ).
    public static let hashReport = FeatureSet(bit: 57)
    /// VIRTIO_NET_F_RSS (60): receive-side scaling with a Toeplitz hash and a driver-set key,
    /// hash types and indirection table (VIRTIO_NET_CTRL_MQ_RSS_CONFIG); needs
    /// VIRTIO_NET_F_CTRL_VQ.
    public static let receiveSideScaling = FeatureSet(bit: 60)

    /// Whether feature `bit` is in the set.
    public func contains(bit: Int) -> Bool { rawValue & (1 << UInt64(bit)) != 0 }

    /// The lowest feature bit in the set, or nil when it is empty (to name a missing feature).
    public var lowestBit: Int? { rawValue == 0 ? nil : rawValue.trailingZeroBitCount }

    /// The low 32 bits, what device_feature/driver_feature show with select 0 (§4.1.4.3).
    public var lowHalf: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
    /// The high 32 bits, what they show with select 1.
    public var highHalf: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }

    /// The set made of two 32-bit halves.
    public init(lowHalf: UInt32, highHalf: UInt32) {
        self.rawValue = UInt64(highHalf) << 32 | UInt64(lowHalf)
    }
}

extension FeatureSet {
    /// The features to accept: those offered that we want or require, and nothing else —
    /// a feature we never asked for is one we do not handle (§2.2: the driver MUST NOT
    /// accept a feature it does not understand). Throws `missingFeatures` naming every
    /// required feature the device does not offer.
    public static func negotiate(offered: FeatureSet, wanted: FeatureSet, required: FeatureSet) throws(VirtioError) -> FeatureSet {
        let missing = required.subtracting(offered)
        guard missing.isEmpty else { throw .missingFeatures(missing) }
        return offered.intersection(wanted.union(required))
    }
}
