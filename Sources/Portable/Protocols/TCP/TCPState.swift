// The connection states of RFC 9293 §3.3.2.

/// A connection's state — RFC 9293 §3.3.2 (Figure 5).
public enum TCPState: Equatable, Sendable {
    /// No connection.
    case closed
    /// Waiting for a SYN (passive open).
    case listen
    /// Our SYN is sent; waiting for the peer's SYN and ACK (active open).
    case synchronizeSent
    /// A SYN was received and ours sent; waiting for its ACK.
    case synchronizeReceived
    /// Open: data flows both ways.
    case established
    /// We closed and sent (or queued) a FIN; waiting for its ACK or the peer's FIN.
    case finishWait1
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    case finishWait2
    /// The peer closed; we may still send until our user closes.
    case closeWait
    /// Both sides sent FIN at once; waiting for the ACK of ours.
    case closing
    /// The peer closed first, then we did; waiting for the ACK of our FIN.
    case lastAcknowledgment
    /// Both FINs are acknowledged; waiting 2 MSL so stray segments die out.
    case timeWait
}
