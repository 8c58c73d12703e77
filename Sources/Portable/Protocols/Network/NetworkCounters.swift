// Frame, byte and drop counters of the stack, and their allocation-free enumeration for the console.

/// Traffic through one protocol layer. "In" counts packets of this layer that arrived (before
/// validation at this layer); "out" counts packets of this layer handed to the driver. Bytes
/// are this layer's packet lengths (the whole frame for Ethernet, the total length for IPv4,
/// the message for ICMP, the datagram for UDP, 28 for ARP).
public struct LayerCounters: Equatable, Sendable {
    /// Packets received at this layer.
    public var framesIn: UInt64 = 0
    /// Bytes received at this layer.
    public var bytesIn: UInt64 = 0
    /// Packets sent at this layer.
    public var framesOut: UInt64 = 0
    /// Bytes sent at this layer.
    public var bytesOut: UInt64 = 0

    /// Creates counters with the given values (all zero by default).
    public init(framesIn: UInt64 = 0, bytesIn: UInt64 = 0, framesOut: UInt64 = 0, bytesOut: UInt64 = 0) {
        self.framesIn = framesIn
        self.bytesIn = bytesIn
        self.framesOut = framesOut
        self.bytesOut = bytesOut
    }

    mutating func received(_ byteCount: Int) {
        framesIn &+= 1
        bytesIn &+= UInt64(truncatingIfNeeded: byteCount)
    }

    mutating func sent(_ byteCount: Int) {
        framesOut &+= 1
        bytesOut &+= UInt64(truncatingIfNeeded: byteCount)
    }
}

/// Everything the stack counts. Plain integers: the network core is their only writer.
public struct NetworkCounters: Sendable {
    /// Every frame given to `receive` and every frame transmitted.
    public var ethernet = LayerCounters()
    /// ARP packets (RFC 826).
    public var arp = LayerCounters()
    /// IPv4 datagrams (RFC 791).
    public var ipv4 = LayerCounters()
    /// ICMP messages (RFC 792).
    public var icmp = LayerCounters()
    /// UDP datagrams (RFC 768).
    public var udp = LayerCounters()
    /// TCP segments (RFC 9293) handed to and sent by the connection table; its own counters
    /// (drops by reason, retransmissions) are the TCP module's.
    public var tcp = LayerCounters()
    /// Received frames handled without a drop: ARP processed, ICMP echo answered, UDP delivered.
    /// `ethernet.framesIn == framesDelivered + receivedFramesDropped` always holds.
    public var framesDelivered: UInt64 = 0
    /// ARP requests that went unanswered after every retry.
    public var arpResolutionFailures: UInt64 = 0
    private var dropCounts = DropCounts()

    /// All zero.
    public init() {}

    /// How many drops were counted for `reason`.
    public subscript(drop reason: DropReason) -> UInt64 {
        dropCounts[reason]
    }

    /// Counts `count` drops for `reason`.
    public mutating func countDrop(_ reason: DropReason, count: Int = 1) {
        dropCounts[reason] &+= UInt64(truncatingIfNeeded: count)
    }

    /// The sum of drops whose reason discards a received frame.
    public var receivedFramesDropped: UInt64 {
        var total: UInt64 = 0
        var raw: UInt8 = 0
        while let reason = DropReason(rawValue: raw) {
            if reason.discardsReceivedFrame { total &+= dropCounts[reason] }
            raw += 1
        }
        return total
    }

    /// The sum of all drops.
    public var totalDrops: UInt64 {
        var total: UInt64 = 0
        var raw: UInt8 = 0
        while let reason = DropReason(rawValue: raw) {
            total &+= dropCounts[reason]
            raw += 1
        }
        return total
    }

    // MARK: Enumeration without allocation

    /// The number of named counters `entry(at:)` and `entries` yield.
    public static let entryCount = 6 * 4 + 2 + DropReason.count

    /// The counter at `index` (`0..<entryCount`) with its console name, or `nil` past the end.
    public func entry(at index: Int) -> (name: StaticString, value: UInt64)? {
        switch index {
        case 0: return ("ethernet.framesIn", ethernet.framesIn)
        case 1: return ("ethernet.bytesIn", ethernet.bytesIn)
        case 2: return ("ethernet.framesOut", ethernet.framesOut)
        case 3: return ("ethernet.bytesOut", ethernet.bytesOut)
        case 4: return ("arp.framesIn", arp.framesIn)
        case 5: return ("arp.bytesIn", arp.bytesIn)
        case 6: return ("arp.framesOut", arp.framesOut)
        case 7: return ("arp.bytesOut", arp.bytesOut)
        case 8: return ("ipv4.framesIn", ipv4.framesIn)
        case 9: return ("ipv4.bytesIn", ipv4.bytesIn)
        case 10: return ("ipv4.framesOut", ipv4.framesOut)
        case 11: return ("ipv4.bytesOut", ipv4.bytesOut)
        case 12: return ("icmp.framesIn", icmp.framesIn)
        case 13: return ("icmp.bytesIn", icmp.bytesIn)
        case 14: return ("icmp.framesOut", icmp.framesOut)
        case 15: return ("icmp.bytesOut", icmp.bytesOut)
        case 16: return ("udp.framesIn", udp.framesIn)
        case 17: return ("udp.bytesIn", udp.bytesIn)
        case 18: return ("udp.framesOut", udp.framesOut)
        case 19: return ("udp.bytesOut", udp.bytesOut)
        case 20: return ("tcp.framesIn", tcp.framesIn)
        case 21: return ("tcp.bytesIn", tcp.bytesIn)
        case 22: return ("tcp.framesOut", tcp.framesOut)
        case 23: return ("tcp.bytesOut", tcp.bytesOut)
        case 24: return ("framesDelivered", framesDelivered)
        case 25: return ("arpResolutionFailures", arpResolutionFailures)
        default:
            guard index >= 26, index < NetworkCounters.entryCount,
                  let reason = DropReason(rawValue: UInt8(truncatingIfNeeded: index - 26))
            else { return nil }
            return (reason.name, dropCounts[reason])
        }
    }

    /// Every counter with its name, in a fixed order; drop counters are named after their
    /// reason and come last. Iterating allocates nothing.
    public var entries: Entries { Entries(counters: self) }

    /// The counters as a sequence of `(name, value)` pairs.
    public struct Entries: Sequence {
        let counters: NetworkCounters

        /// Walks the counters by index.
        public struct Iterator: IteratorProtocol {
            let counters: NetworkCounters
            var index = 0

            /// The next counter, or `nil` after the last.
            public mutating func next() -> (name: StaticString, value: UInt64)? {
                guard let entry = counters.entry(at: index) else { return nil }
                index += 1
                return entry
            }
        }

        /// An iterator from the first counter.
        public func makeIterator() -> Iterator { Iterator(counters: counters) }

        /// The exact number of counters.
        public var underestimatedCount: Int { NetworkCounters.entryCount }
    }
}

/// One counter per drop reason, addressed by the reason (named fields: no array, no allocation).
private struct DropCounts: Sendable {
    var truncated: UInt64 = 0
    var badChecksum: UInt64 = 0
    var unknownEtherType: UInt64 = 0
    var unknownProtocol: UInt64 = 0
    var notForUs: UInt64 = 0
    var fragment: UInt64 = 0
    var badHeader: UInt64 = 0
    var badAddress: UInt64 = 0
    var unsupportedMessage: UInt64 = 0
    var noListener: UInt64 = 0
    var noARPEntry: UInt64 = 0
    var arpQueueFull: UInt64 = 0
    var transmitRingFull: UInt64 = 0
    var oversized: UInt64 = 0
    var noRoute: UInt64 = 0
    var datagramTooLarge: UInt64 = 0

    subscript(reason: DropReason) -> UInt64 {
        get {
            switch reason {
            case .truncated: return truncated
            case .badChecksum: return badChecksum
            case .unknownEtherType: return unknownEtherType
            case .unknownProtocol: return unknownProtocol
            case .notForUs: return notForUs
            case .fragment: return fragment
            case .badHeader: return badHeader
            case .badAddress: return badAddress
            case .unsupportedMessage: return unsupportedMessage
            case .noListener: return noListener
            case .noARPEntry: return noARPEntry
            case .arpQueueFull: return arpQueueFull
            case .transmitRingFull: return transmitRingFull
            case .oversized: return oversized
            case .noRoute: return noRoute
            case .datagramTooLarge: return datagramTooLarge
            }
        }
        set {
            switch reason {
            case .truncated: truncated = newValue
            case .badChecksum: badChecksum = newValue
            case .unknownEtherType: unknownEtherType = newValue
            case .unknownProtocol: unknownProtocol = newValue
            case .notForUs: notForUs = newValue
            case .fragment: fragment = newValue
            case .badHeader: badHeader = newValue
            case .badAddress: badAddress = newValue
            case .unsupportedMessage: unsupportedMessage = newValue
            case .noListener: noListener = newValue
            case .noARPEntry: noARPEntry = newValue
            case .arpQueueFull: arpQueueFull = newValue
            case .transmitRingFull: transmitRingFull = newValue
            case .oversized: oversized = newValue
            case .noRoute: noRoute = newValue
            case .datagramTooLarge: datagramTooLarge = newValue
            }
        }
    }
}
