// What one connection counted over its life: the numbers the connection table adds up for metrics.

/// Event counts of one connection. The connection table sums them over live and finished
/// connections for the network core's metrics (retransmissions, recovery, probes, checks).
public struct TCPConnectionStatistics: Equatable, Sendable {
    /// Segments with data or a FIN sent for the first time.
    public var segmentsSent: UInt64 = 0
    /// Segments sent again after a retransmission timeout.
    public var timeoutRetransmissions: UInt64 = 0
    /// Segments sent again by fast retransmit or NewReno partial ACKs (RFC 5681 §3.2, RFC 6582).
    public var fastRetransmissions: UInt64 = 0
    /// Duplicate ACKs received (RFC 5681 §2 definition).
    public var duplicateAcknowledgments: UInt64 = 0
    /// Segments that arrived beyond RCV.NXT and were queued for reassembly.
    public var outOfOrderSegments: UInt64 = 0
    /// Out-of-order segments dropped because the reassembly queue had no free run
    /// (`ReassemblyQueue.capacity`); the peer resends them.
    public var reassemblyOverflows: UInt64 = 0
    /// Zero-window probes sent (RFC 9293 §3.8.6.1).
    public var zeroWindowProbes: UInt64 = 0
    /// Challenge ACKs sent (RFC 5961).
    public var challengeAcknowledgments: UInt64 = 0
    /// Segments dropped as unacceptable (out of window, bad ACK).
    public var unacceptableSegments: UInt64 = 0
    /// RSTs sent by this connection.
    public var resetsSent: UInt64 = 0
    /// Times the shared buffer pool could not give a buffer the room it needed (received
    /// bytes dropped for the peer to send again, or a send taking less): memory pressure.
    public var bufferRefusals: UInt64 = 0
    /// Times auto-tuning raised a buffer's capacity.
    public var bufferGrowths: UInt64 = 0
    /// Received bytes the owner took straight from the segment (`TCPDirectReceiver`): copied
    /// once, never held in the receive buffer.
    public var directlyDelivered: UInt64 = 0
    /// Bytes the owner lent (`SendStore`): sent from its memory, never copied into the send buffer.
    public var bytesLent: UInt64 = 0
    /// Unacceptable bare ACKs not answered, to break ACK loops (`outOfWindowReplyAllowed`).
    public var outOfWindowRepliesSuppressed: UInt64 = 0

    /// All zero.
    public init() {}

    /// Adds `other` field by field (wrapping).
    public mutating func add(_ other: TCPConnectionStatistics) {
        segmentsSent &+= other.segmentsSent
        timeoutRetransmissions &+= other.timeoutRetransmissions
        fastRetransmissions &+= other.fastRetransmissions
        duplicateAcknowledgments &+= other.duplicateAcknowledgments
        outOfOrderSegments &+= other.outOfOrderSegments
        reassemblyOverflows &+= other.reassemblyOverflows
        zeroWindowProbes &+= other.zeroWindowProbes
        challengeAcknowledgments &+= other.challengeAcknowledgments
        unacceptableSegments &+= other.unacceptableSegments
        resetsSent &+= other.resetsSent
        bufferRefusals &+= other.bufferRefusals
        bufferGrowths &+= other.bufferGrowths
        outOfWindowRepliesSuppressed &+= other.outOfWindowRepliesSuppressed
        directlyDelivered &+= other.directlyDelivered
        bytesLent &+= other.bytesLent
    }
}
