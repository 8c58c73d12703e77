// Why the stack dropped a frame or a packet it was asked to send: one reason per drop, counted.

/// The reason a received frame was discarded, or an outgoing packet was not sent. Every drop
/// is counted under exactly one reason (`NetworkCounters.drops`).
public enum DropReason: UInt8, CaseIterable, Error, Sendable {
    /// The frame ended before a header or the length its headers announce.
    case truncated
    /// An IPv4 header, ICMP or UDP checksum did not verify (RFC 1071).
    case badChecksum
    /// The EtherType is neither IPv4 nor ARP (VLAN-tagged frames land here too).
    case unknownEtherType
    /// The IPv4 protocol is neither ICMP nor UDP.
    case unknownProtocol
    /// Addressed to another station: a foreign or multicast MAC, another IPv4 address, or an
    /// ARP packet for someone else that taught us nothing.
    case notForUs
    /// An IPv4 fragment (MF set or offset non-zero): we do not reassemble.
    case fragment
    /// A header field is impossible: IPv4 version or IHL, UDP length below 8, ARP hardware or
    /// protocol types and lengths that are not Ethernet/IPv4.
    case badHeader
    /// A source address no host may use: a group MAC, or a broadcast/multicast/zero IPv4 source
    /// (RFC 1122 §3.2.1.3).
    case badAddress
    /// A well-formed message we do not handle: ICMP types other than echo request, echo requests
    /// to a broadcast address (RFC 1122 §3.2.2.6 allows ignoring them), unknown ARP operations.
    case unsupportedMessage
    /// A UDP datagram for a port nobody listens on (RFC 1122 §4.1.3.1).
    case noListener
    /// A queued outgoing packet whose next hop did not answer ARP (or whose entry was evicted).
    case noARPEntry
    /// An outgoing packet found the queue of packets awaiting ARP resolution full.
    case arpQueueFull
    /// The driver had no free transmit buffer (or a buffer too small for the frame).
    case transmitRingFull
    /// A received frame longer than 1514 bytes.
    case oversized
    /// An outgoing packet with no route: off-link without a gateway, or to ourselves.
    case noRoute
    /// A datagram to send whose payload does not fit one frame (more than 1472 bytes of UDP data).
    case datagramTooLarge

    /// The number of reasons; their raw values are `0..<count`.
    public static let count = 16

    /// A short name for the console.
    public var name: StaticString {
        switch self {
        case .truncated: return "truncated"
        case .badChecksum: return "badChecksum"
        case .unknownEtherType: return "unknownEtherType"
        case .unknownProtocol: return "unknownProtocol"
        case .notForUs: return "notForUs"
        case .fragment: return "fragment"
        case .badHeader: return "badHeader"
        case .badAddress: return "badAddress"
        case .unsupportedMessage: return "unsupportedMessage"
        case .noListener: return "noListener"
        case .noARPEntry: return "noARPEntry"
        case .arpQueueFull: return "arpQueueFull"
        case .transmitRingFull: return "transmitRingFull"
        case .oversized: return "oversized"
        case .noRoute: return "noRoute"
        case .datagramTooLarge: return "datagramTooLarge"
        }
    }

    /// Whether this reason discards a received frame (as opposed to a packet being sent, or a
    /// reply that could not go out). Each received frame is either delivered or dropped for
    /// exactly one such reason.
    public var discardsReceivedFrame: Bool {
        switch self {
        case .noARPEntry, .arpQueueFull, .transmitRingFull, .noRoute, .datagramTooLarge: return false
        default: return true
        }
    }
}
