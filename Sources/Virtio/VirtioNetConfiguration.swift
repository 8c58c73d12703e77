/// The virtio-net device configuration: MAC address, link status, queue pairs, MTU.

/// struct virtio_net_config — virtio 1.2 §5.1.4. Fields are valid only with their feature.
public struct VirtioNetConfiguration: Equatable, Sendable {
    /// Field offsets within the device configuration — §5.1.4.
    public enum Offset {
        /// mac, u8[6] (VIRTIO_NET_F_MAC).
        public static let mac = 0
        /// status, le16 (VIRTIO_NET_F_STATUS).
        public static let status = 6
        /// max_virtqueue_pairs, le16 (VIRTIO_NET_F_MQ).
        public static let maximumQueuePairs = 8
        /// mtu, le16 (VIRTIO_NET_F_MTU).
        public static let maximumTransmissionUnit = 10
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
    /// Receive/transmit queue pairs; 1 without VIRTIO_NET_F_MQ.
    public var maximumQueuePairs: UInt16
    /// The maximum MTU, or nil without VIRTIO_NET_F_MTU.
    public var maximumTransmissionUnit: UInt16?

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
            maximumQueuePairs = features.contains(.multiqueue)
                ? transport.readDeviceConfiguration16(offset: Offset.maximumQueuePairs) : 1
            maximumTransmissionUnit = features.contains(.maximumTransmissionUnit)
                ? transport.readDeviceConfiguration16(offset: Offset.maximumTransmissionUnit) : nil
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
    }
}
