/// The virtio-net device configuration: MAC address, link status, queue pairs, MTU, RSS limits.

/// struct virtio_net_config — virtio 1.2 §5.1.4. Fields are valid only with their feature.
public struct VirtioNetConfiguration: Equatable, Sendable {
    /// Field offsets within the device configuration — §5.1.4.
    public enum Offset {
        /// mac, u8[6] (VIRTIO_NET_F_MAC).
        public static let mac = 0
        /// status, le16 (VIRTIO_NET_F_STATUS).
        public static let status = 6
        /// max_virtqueue_pairs, le16 (VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS).
        public static let maximumQueuePairs = 8
        /// mtu, le16 (VIRTIO_NET_F_MTU).
        public static let maximumTransmissionUnit = 10
        /// speed, le32 (VIRTIO_NET_F_SPEED_DUPLEX).
        public static let speed = 12
        /// duplex, u8 (VIRTIO_NET_F_SPEED_DUPLEX).
        public static let duplex = 16
        /// rss_max_key_size, u8 (VIRTIO_NET_F_RSS or VIRTIO_NET_F_HASH_REPORT).
        public static let rssMaximumKeySize = 17
        /// rss_max_indirection_table_length, le16 (VIRTIO_NET_F_RSS).
        public static let rssMaximumIndirectionTableLength = 18
        /// supported_hash_types, le32 (VIRTIO_NET_F_RSS or VIRTIO_NET_F_HASH_REPORT).
        public static let supportedHashTypes = 20
    }

    /// The status field's bits — §5.1.4.
    public struct NetStatus: OptionSet, Equatable, Sendable {
        /// The 16 bits.
        public var rawValue: UInt16
        /// The bits `rawValue`.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// VIRTIO_NET_S_LINK_UP (1).
        public static let linkUp = NetStatus(rawValue: 1)
        /// VIRTIO_NET_S_ANNOUNCE (2): the driver should send a gratuitous announcement.
        public static let announce = NetStatus(rawValue: 2)
    }

    /// The MAC address in transmission order (octet 0 first), or nil without VIRTIO_NET_F_MAC
    /// (the driver then chooses one).
    public var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)?
    /// The link status; `.linkUp` assumed without VIRTIO_NET_F_STATUS (§5.1.4.2).
    public var status: NetStatus
    /// Receive/transmit queue pairs; 1 without VIRTIO_NET_F_MQ and VIRTIO_NET_F_RSS.
    public var maximumQueuePairs: UInt16
    /// The maximum MTU, or nil without VIRTIO_NET_F_MTU.
    public var maximumTransmissionUnit: UInt16?
    /// The longest RSS key the device takes, in bytes (at least 40), or nil without
    /// VIRTIO_NET_F_RSS and VIRTIO_NET_F_HASH_REPORT.
    public var rssMaximumKeySize: UInt8?
    /// The most indirection table entries the device takes (at least 128), or nil without
    /// VIRTIO_NET_F_RSS.
    public var rssMaximumIndirectionTableLength: UInt16?
    /// The hash types the device can compute (§5.1.6.4.3.1), or nil without VIRTIO_NET_F_RSS
    /// and VIRTIO_NET_F_HASH_REPORT.
    public var supportedHashTypes: VirtioNetHashTypes?

    /// Reads the configuration fields the negotiated `features` make valid. The reads are
    /// repeated until config_generation is the same before and after them, so a multi-field
    /// value (the MAC) is never torn by a concurrent change (§2.5.1, §4.1.4.3.1).
    public init<Transport: VirtioTransport>(transport: Transport, features: FeatureSet) {
        repeat {
            let generation = transport.read8(.configurationGeneration)
            if features.contains(.mac) {
                mac = (transport.readDeviceConfiguration8(offset: Offset.mac),
                       transport.readDeviceConfiguration8(offset: Offset.mac + 1),
                       transport.readDeviceConfiguration8(offset: Offset.mac + 2),
                       transport.readDeviceConfiguration8(offset: Offset.mac + 3),
                       transport.readDeviceConfiguration8(offset: Offset.mac + 4),
                       transport.readDeviceConfiguration8(offset: Offset.mac + 5))
            } else {
                mac = nil
            }
            status = features.contains(.status)
                ? NetStatus(rawValue: transport.readDeviceConfiguration16(offset: Offset.status)) : .linkUp
            // §5.1.4: max_virtqueue_pairs exists with MQ or RSS; the RSS limits with RSS, and
            // (except the table length) with HASH_REPORT too.
            let hashing = features.contains(.receiveSideScaling) || features.contains(.hashReport)
            maximumQueuePairs = features.contains(.multiqueue) || features.contains(.receiveSideScaling)
                ? transport.readDeviceConfiguration16(offset: Offset.maximumQueuePairs) : 1
            maximumTransmissionUnit = features.contains(.maximumTransmissionUnit)
                ? transport.readDeviceConfiguration16(offset: Offset.maximumTransmissionUnit) : nil
            rssMaximumKeySize = hashing
                ? transport.readDeviceConfiguration8(offset: Offset.rssMaximumKeySize) : nil
            rssMaximumIndirectionTableLength = features.contains(.receiveSideScaling)
                ? transport.readDeviceConfiguration16(offset: Offset.rssMaximumIndirectionTableLength) : nil
            supportedHashTypes = hashing
                ? VirtioNetHashTypes(rawValue: transport.readDeviceConfiguration32(offset: Offset.supportedHashTypes)) : nil
            if transport.read8(.configurationGeneration) == generation { return }
        } while true
    }

    /// Equal when every field is equal.
    public static func == (left: VirtioNetConfiguration, right: VirtioNetConfiguration) -> Bool {
        let macsEqual: Bool
        switch (left.mac, right.mac) {
        case (nil, nil): macsEqual = true
        case let (l?, r?): macsEqual = l == r
        default: macsEqual = false
        }
        return macsEqual && left.status == right.status && left.maximumQueuePairs == right.maximumQueuePairs
            && left.maximumTransmissionUnit == right.maximumTransmissionUnit
            && left.rssMaximumKeySize == right.rssMaximumKeySize
            && left.rssMaximumIndirectionTableLength == right.rssMaximumIndirectionTableLength
            && left.supportedHashTypes == right.supportedHashTypes
    }
}

/// Virtqueue indices of a virtio-net device — virtio 1.2 §5.1.2: receiveq1, transmitq1,
/// receiveq2, transmitq2, ..., then controlq after the last pair. Pairs are counted from 0
/// here (pair 0 is receiveq1/transmitq1), as RSS indirection table entries count receive
/// queues (§5.1.6.5.7.1).
extension VirtioNetConfiguration {
    /// The virtqueue index of receive queue `pair` (receiveq`pair + 1`): 2 × pair. `pair` is
    /// below max_virtqueue_pairs (at most 0x8000, §5.1.4), so the index fits in 16 bits.
    public static func receiveQueueIndex(pair: UInt16) -> UInt16 { 2 * pair }

    /// The virtqueue index of transmit queue `pair` (transmitq`pair + 1`): 2 × pair + 1.
    public static func transmitQueueIndex(pair: UInt16) -> UInt16 { 2 * pair + 1 }

    /// The control queue's index: 2 × max_virtqueue_pairs, which depends on the device's
    /// maximum, not on how many pairs the driver enables (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET).
    /// With neither MQ nor RSS negotiated the maximum is 1 and controlq is queue 2. nil for a
    /// device reporting 0x8000 pairs, the largest allowed: its controlq would be 65536, which
    /// the 16-bit queue_select (§4.1.4.3) cannot name.
    public static func controlQueueIndex(maximumQueuePairs: UInt16) -> UInt16? {
        let index = 2 * Int(maximumQueuePairs)
        return index <= Int(UInt16.max) ? UInt16(index) : nil
    }

    /// This device's control queue index (see `controlQueueIndex(maximumQueuePairs:)`).
    public var controlQueueIndex: UInt16? { Self.controlQueueIndex(maximumQueuePairs: maximumQueuePairs) }
}
