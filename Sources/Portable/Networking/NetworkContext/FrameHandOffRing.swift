/// A single-producer, single-consumer ring of whole Ethernet frames from one network context to another.
import Network
import Synchronization

/// Frames one context hands to another: copies, in fixed slots, in order. Exactly one context
/// pushes (the one that received the frames from its NIC queue) and exactly one pops (the one
/// that serves the flow). A context runs on one CPU at a time (a dedicated core, or, in
/// symmetric mode, whichever CPU holds its lock), so each end has one user at a time.
///
/// Ordering: the producer writes a slot, then stores `tail` with release; the consumer loads
/// `tail` with acquire before reading slots below it, so it sees the frame's bytes. The
/// consumer stores `head` with release after it is done with a slot; the producer loads it
/// with acquire before overwriting, so it never writes a slot still being read. Each index is
/// written by one side only, so no read-modify-write is needed.
///
/// A full ring drops the frame and counts it (the producer's `handOffDropped`), like a full
/// NIC queue: TCP retransmits and UDP is allowed to lose. Nothing is allocated after `init`.
public struct FrameHandOffRing: @unchecked Sendable {
    /// Slots per ring (a power of two).
    public static let slotCount = 64
    /// The bytes of a slot: a 2-byte length, then the frame (at most 1,514 bytes: an Ethernet
    /// frame without FCS, which is all a context receives). The length's top bit carries
    /// whether the device vouched for the frame's checksum: a trusted frame's checksum may be
    /// incomplete, so the context that takes it must know not to verify it.
    static let slotBytes = 1536
    /// The length word's bit for `ReceivedChecksum.trusted`.
    static let trustedBit: UInt16 = 0x8000
    /// The largest frame a slot holds.
    public static let maximumFrameBytes = slotBytes - 2
    private let slots: UnsafeMutableRawPointer
    /// head at byte 0, tail at byte 64: separate cache lines, since two CPUs write them.
    private let indices: UnsafeMutableRawPointer

    /// An empty ring (allocates its slots, about 96 KiB).
    public init() {
        slots = .allocate(byteCount: Self.slotCount * Self.slotBytes, alignment: 64)
        indices = .allocate(byteCount: 128, alignment: 64)
        head.initialize(to: Atomic<UInt32>(0))
        tail.initialize(to: Atomic<UInt32>(0))
    }

    private var head: UnsafeMutablePointer<Atomic<UInt32>> { indices.assumingMemoryBound(to: Atomic<UInt32>.self) }
    private var tail: UnsafeMutablePointer<Atomic<UInt32>> { (indices + 64).assumingMemoryBound(to: Atomic<UInt32>.self) }

    /// Copies `frame` into the ring (producer side). False when the ring is full or the frame
    /// too large for a slot.
    public func push(_ frame: UnsafeRawBufferPointer, checksum: ReceivedChecksum = .unverified) -> Bool {
        guard frame.count <= Self.maximumFrameBytes, let source = frame.baseAddress else { return false }
        let produced = tail.pointee.load(ordering: .relaxed)   // only this side writes it
        guard produced &- head.pointee.load(ordering: .acquiring) < UInt32(Self.slotCount) else { return false }
        let slot = slots + Int(produced & UInt32(Self.slotCount - 1)) * Self.slotBytes
        slot.storeBytes(of: UInt16(frame.count) | (checksum != .unverified ? Self.trustedBit : 0), as: UInt16.self)
        (slot + 2).copyMemory(from: source, byteCount: frame.count)
        tail.pointee.store(produced &+ 1, ordering: .releasing)
        return true
    }

    /// Hands the oldest frame to `body` and frees its slot afterwards (consumer side). False
    /// when the ring is empty.
    public func pop(_ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Bool {
        let consumed = head.pointee.load(ordering: .relaxed)   // only this side writes it
        guard consumed != tail.pointee.load(ordering: .acquiring) else { return false }
        let slot = slots + Int(consumed & UInt32(Self.slotCount - 1)) * Self.slotBytes
        let word = slot.load(as: UInt16.self)
        let length = min(Int(word & ~Self.trustedBit), Self.maximumFrameBytes)
        body(UnsafeRawBufferPointer(start: slot + 2, count: length), word & Self.trustedBit != 0 ? .trusted : .unverified)
        head.pointee.store(consumed &+ 1, ordering: .releasing)
        return true
    }

    /// How many frames wait (a statistic: exact only when neither side is running).
    public var count: Int {
        Int(tail.pointee.load(ordering: .acquiring) &- head.pointee.load(ordering: .acquiring))
    }
}
