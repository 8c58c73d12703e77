/// virtio-net control queue commands for multiqueue and RSS, written into caller buffers.

/// The hash types of virtio-net (VIRTIO_NET_HASH_TYPE_*) — virtio 1.2 §5.1.6.4.3.1: what the
/// device can hash (`supported_hash_types`, §5.1.4) and what the driver enables
/// (`hash_types` of VIRTIO_NET_CTRL_MQ_RSS_CONFIG, §5.1.6.5.7.1).
public struct VirtioNetHashTypes: OptionSet, Equatable, Sendable {
    /// The 32 bits.
    public var rawValue: UInt32
    /// The bits `rawValue`.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// VIRTIO_NET_HASH_TYPE_IPv4 (1 << 0): source and destination address.
    public static let ipv4 = VirtioNetHashTypes(rawValue: 1 << 0)
    /// VIRTIO_NET_HASH_TYPE_TCPv4 (1 << 1): addresses and ports of TCP over IPv4.
    public static let tcpIPv4 = VirtioNetHashTypes(rawValue: 1 << 1)
    /// VIRTIO_NET_HASH_TYPE_UDPv4 (1 << 2): addresses and ports of UDP over IPv4.
    public static let udpIPv4 = VirtioNetHashTypes(rawValue: 1 << 2)
    /// VIRTIO_NET_HASH_TYPE_IPv6 (1 << 3).
    public static let ipv6 = VirtioNetHashTypes(rawValue: 1 << 3)
    /// VIRTIO_NET_HASH_TYPE_TCPv6 (1 << 4).
    public static let tcpIPv6 = VirtioNetHashTypes(rawValue: 1 << 4)
    /// VIRTIO_NET_HASH_TYPE_UDPv6 (1 << 5).
    public static let udpIPv6 = VirtioNetHashTypes(rawValue: 1 << 5)
    /// VIRTIO_NET_HASH_TYPE_IP_EX (1 << 6): IPv6 with extension headers.
    public static let ipv6WithExtensions = VirtioNetHashTypes(rawValue: 1 << 6)
    /// VIRTIO_NET_HASH_TYPE_TCP_EX (1 << 7).
    public static let tcpIPv6WithExtensions = VirtioNetHashTypes(rawValue: 1 << 7)
    /// VIRTIO_NET_HASH_TYPE_UDP_EX (1 << 8).
    public static let udpIPv6WithExtensions = VirtioNetHashTypes(rawValue: 1 << 8)
}

/// Commands of the control virtqueue — virtio 1.2 §5.1.6.5. Every command is
///
///     struct virtio_net_ctrl { u8 class; u8 command; u8 command-specific-data[]; u8 ack; };
///
/// The driver writes class, command and data, the device writes ack. The writers here produce
/// the device-readable part (header and data) and return its length; the ack byte must be a
/// separate device-writable descriptor after it (§2.7.4.2), which the device sets to an
/// `Acknowledgement`. Nothing is allocated: the caller owns the buffers (DMA memory).
public enum VirtioNetControl {
    /// Field offsets of the command — §5.1.6.5.
    public enum Offset {
        /// class, u8.
        public static let commandClass = 0
        /// command, u8.
        public static let command = 1
        /// command-specific-data, the rest of the device-readable part.
        public static let data = 2
    }

    /// The class and command bytes.
    public static let headerByteCount = 2

    /// VIRTIO_NET_CTRL_MQ (4): the multiqueue class — §5.1.6.5.5.
    public static let multiqueueClass: UInt8 = 4

    /// Commands of class VIRTIO_NET_CTRL_MQ — §5.1.6.5.5.
    public enum MultiqueueCommand: UInt8, Sendable {
        /// VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: automatic receive steering over n pairs (§5.1.6.5.6).
        case setQueuePairs = 0
        /// VIRTIO_NET_CTRL_MQ_RSS_CONFIG: receive-side scaling (§5.1.6.5.7.1).
        case rssConfiguration = 1
        /// VIRTIO_NET_CTRL_MQ_HASH_CONFIG: hash reporting parameters (§5.1.6.5.6.4).
        case hashConfiguration = 2
    }

    /// The ack byte the device writes — §5.1.6.5.
    public enum Acknowledgement: UInt8, Sendable {
        /// VIRTIO_NET_OK.
        case ok = 0
        /// VIRTIO_NET_ERR.
        case error = 1
    }

    /// VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN and _MAX: the virtqueue_pairs a VQ_PAIRS_SET may ask
    /// for — §5.1.6.5.6 (and no more than max_virtqueue_pairs).
    public static var queuePairsRange: ClosedRange<UInt16> { 1...0x8000 }

    /// Writes VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET — §5.1.6.5.6:
    /// `struct virtio_net_ctrl_mq_pairs_set { le16 virtqueue_pairs; }` after the header, 4
    /// bytes in all. Returns the length, or nil if `buffer` is shorter or `queuePairs` is
    /// outside `queuePairsRange`.
    public static func writeSetQueuePairs(_ queuePairs: UInt16, to buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let length = headerByteCount + 2
        guard queuePairsRange.contains(queuePairs), buffer.count >= length, let base = buffer.baseAddress else {
            return nil
        }
        writeHeader(.setQueuePairs, to: base)
        base.storeBytes(of: queuePairs.littleEndian, toByteOffset: Offset.data, as: UInt16.self)
        return length
    }

    /// The length of a VIRTIO_NET_CTRL_MQ_RSS_CONFIG command (header and data) with
    /// `tableLength` indirection entries and a `keyLength`-byte key.
    public static func rssConfigurationByteCount(tableLength: Int, keyLength: Int) -> Int {
        headerByteCount + RSSConfigurationOffset.indirectionTable + 2 * tableLength + 3 + keyLength
    }

    /// Offsets within the data of VIRTIO_NET_CTRL_MQ_RSS_CONFIG, `struct
    /// virtio_net_rss_config` — §5.1.6.5.7.1 (all little-endian, packed):
    ///
    ///     le32 hash_types; le16 indirection_table_mask; le16 unclassified_queue;
    ///     le16 indirection_table[mask + 1]; le16 max_tx_vq; u8 hash_key_length;
    ///     u8 hash_key_data[hash_key_length];
    ///
    /// Fields after the table move with its length.
    public enum RSSConfigurationOffset {
        /// hash_types, le32.
        public static let hashTypes = 0
        /// indirection_table_mask, le16: entries − 1.
        public static let indirectionTableMask = 4
        /// unclassified_queue, le16: the receive queue (0 = receiveq1) of unhashed packets.
        public static let unclassifiedQueue = 6
        /// indirection_table, le16 × (mask + 1).
        public static let indirectionTable = 8
        /// max_tx_vq, le16, right after a table of `tableLength` entries.
        public static func maximumTransmitQueues(tableLength: Int) -> Int { indirectionTable + 2 * tableLength }
        /// hash_key_length, u8.
        public static func hashKeyLength(tableLength: Int) -> Int { indirectionTable + 2 * tableLength + 2 }
        /// hash_key_data, u8 × hash_key_length.
        public static func hashKeyData(tableLength: Int) -> Int { indirectionTable + 2 * tableLength + 3 }
    }

    /// Writes VIRTIO_NET_CTRL_MQ_RSS_CONFIG — §5.1.6.5.7.1: the device hashes `hashTypes` of
    /// received packets with `key`, puts packets on receive queue
    /// `indirectionTable[hash & (count − 1)]`, unhashed packets on `unclassifiedQueue`, and
    /// may use transmitq1...transmitq`maximumTransmitQueues`. Queue numbers count from 0
    /// (receiveq1).
    ///
    /// Returns the length, or nil if `buffer` is shorter than
    /// `rssConfigurationByteCount(tableLength:keyLength:)`, the table's length is not a power
    /// of two from 1 to 65536 (§5.1.6.5.7.2), or the key is longer than 255 bytes (its length
    /// is a u8). The device's own limits (rss_max_indirection_table_length, rss_max_key_size,
    /// supported_hash_types, §5.1.4) are the caller's to respect.
    public static func writeRSSConfiguration(hashTypes: VirtioNetHashTypes,
                                             indirectionTable: UnsafeBufferPointer<UInt16>,
                                             unclassifiedQueue: UInt16, maximumTransmitQueues: UInt16,
                                             key: UnsafeRawBufferPointer,
                                             to buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let tableLength = indirectionTable.count
        let length = rssConfigurationByteCount(tableLength: tableLength, keyLength: key.count)
        guard tableLength >= 1, tableLength <= 0x1_0000, tableLength & (tableLength - 1) == 0,
              key.count <= Int(UInt8.max), buffer.count >= length, let base = buffer.baseAddress else {
            return nil
        }
        writeHeader(.rssConfiguration, to: base)
        let data = base + Offset.data
        data.storeBytes(of: hashTypes.rawValue.littleEndian, toByteOffset: RSSConfigurationOffset.hashTypes, as: UInt32.self)
        data.storeBytes(of: UInt16(tableLength - 1).littleEndian,
                        toByteOffset: RSSConfigurationOffset.indirectionTableMask, as: UInt16.self)
        data.storeBytes(of: unclassifiedQueue.littleEndian,
                        toByteOffset: RSSConfigurationOffset.unclassifiedQueue, as: UInt16.self)
        for index in 0..<tableLength {
            data.storeBytes(of: indirectionTable[index].littleEndian,
                            toByteOffset: RSSConfigurationOffset.indirectionTable + 2 * index, as: UInt16.self)
        }
        data.storeBytes(of: maximumTransmitQueues.littleEndian,
                        toByteOffset: RSSConfigurationOffset.maximumTransmitQueues(tableLength: tableLength), as: UInt16.self)
        data.storeBytes(of: UInt8(key.count), toByteOffset: RSSConfigurationOffset.hashKeyLength(tableLength: tableLength), as: UInt8.self)
        let keyStart = RSSConfigurationOffset.hashKeyData(tableLength: tableLength)
        for index in 0..<key.count {
            data.storeBytes(of: key[index], toByteOffset: keyStart + index, as: UInt8.self)
        }
        return length
    }

    /// Writes the class (VIRTIO_NET_CTRL_MQ) and command bytes.
    private static func writeHeader(_ command: MultiqueueCommand, to base: UnsafeMutableRawPointer) {
        base.storeBytes(of: multiqueueClass, toByteOffset: Offset.commandClass, as: UInt8.self)
        base.storeBytes(of: command.rawValue, toByteOffset: Offset.command, as: UInt8.self)
    }
}
