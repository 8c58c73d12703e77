// What the stack needs from a NIC driver to send a frame, and what sending a datagram can result in.

/// A NIC's transmit side as the stack sees it: lend a buffer, let the stack fill it, send it.
/// Generic rather than existential so that the driver's code inlines into the stack's.
public protocol FrameTransmitter {
    /// Calls `build` with a buffer of at least 1514 bytes; `build` returns the frame length
    /// (0 = nothing to send). Returns false, without calling `build`, when no transmit buffer is
    /// free (the stack counts `transmitRingFull`).
    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool
}

/// What became of a datagram handed to `NetworkStack.sendDatagram`.
public enum SendResult: Equatable, Sendable {
    /// Handed to the driver.
    case sent
    /// Waiting for ARP to resolve the next hop; it leaves when the reply comes, or is dropped
    /// (counted as `noARPEntry`) when resolution fails.
    case queued
    /// The payload does not fit one frame (more than 1472 bytes); counted as `datagramTooLarge`.
    case datagramTooLarge
    /// No route: off-link without a gateway, or addressed to ourselves or 0.0.0.0; counted as `noRoute`.
    case noRoute
    /// The queue of packets awaiting ARP is full; counted as `arpQueueFull`.
    case queueFull
    /// The driver had no transmit buffer; counted as `transmitRingFull`.
    case transmitRingFull
}
