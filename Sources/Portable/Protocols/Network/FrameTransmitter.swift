// What the stack needs from a NIC driver to send a frame, and what sending a datagram can result in.

/// A NIC's transmit side as the stack sees it: lend a buffer, let the stack fill it, send it.
/// Generic rather than existential so that the driver's code inlines into the stack's.
public protocol FrameTransmitter {
    /// Calls `build` with a buffer of at least 1514 bytes; `build` returns the frame length
    /// (0 = nothing to send). Returns false, without calling `build`, when no transmit buffer is
    /// free (the stack counts `transmitRingFull`).
    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool

    /// The largest frame `transmitSegmented` can take now: 0 when the NIC cannot cut TCP
    /// segments (no TSO) or has no large buffer free. Asked before each large segment, so a
    /// sender never builds more than fits.
    mutating func largestSegmentedFrame() -> Int

    /// Like `transmit`, for one IPv4 TCP frame of up to `largestSegmentedFrame()` bytes whose
    /// payload the NIC cuts into segments of `segmentSize` bytes on the wire (TCP segmentation
    /// offload, virtio 1.2 §5.1.6.2). The TCP checksum field holds the pseudo-header sum, as
    /// with checksum offload.
    mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool
}

extension FrameTransmitter {
    /// No TSO: only frames of one MTU.
    public mutating func largestSegmentedFrame() -> Int { 0 }

    /// No TSO: an ordinary transmit (the frame must then fit 1514 bytes).
    public mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        transmit(build)
    }
}

/// The largest IPv4 datagram (RFC 791 §3.1: a 16-bit total length), and so the largest TCP
/// segment a NIC cuts with TSO, in an Ethernet frame.
public let largestSegmentedFrameSize = EthernetHeader.size + 65535

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
