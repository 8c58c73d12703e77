/// A single-producer single-consumer ring of fixed-size elements in memory shared by two parties that need not trust each other.

import Synchronization

/// A ring of `capacity` elements in shared memory, written by exactly one producer and read by
/// exactly one consumer, possibly on different CPUs and in different address spaces.
///
/// Memory layout (offsets from `memory`, which must be 64-byte aligned):
///
/// ```
///   0 ┌──────────────────────────────────────────────┐ cache line 0
///     │ head: UInt32 — the consumer's index          │ written only by the consumer
///   4 │ asleep: UInt32 — see ConsumerSleep.swift     │ written only by the consumer
///     │ (56 bytes padding)                           │
///  64 ├──────────────────────────────────────────────┤ cache line 1
///     │ tail: UInt32 — the producer's index          │ written only by the producer
///     │ (60 bytes padding)                           │
/// 128 ├──────────────────────────────────────────────┤ cache line 2
///     │ slot 0, slot 1, …, slot capacity−1           │ `slotStride` bytes each
///     └──────────────────────────────────────────────┘ 128 + capacity × slotStride
/// ```
///
/// Head and tail each have a cache line of their own so that the producer's stores of tail do
/// not invalidate the line the consumer stores head into (and the other way round), and neither
/// shares a line with the slots.
///
/// Indices are free-running 32-bit counters: the slot of index `i` is `i & (capacity − 1)`, the
/// number of elements is `tail &- head`, and both wrap past `UInt32.max` without special cases
/// because `capacity` is a power of two no larger than 2^31.
///
/// Neither side trusts the other: each keeps a private copy of its own index (it never reads
/// its own index back from shared memory, which the other side could overwrite), checks every
/// index it reads from the other side against what the protocol allows (`RingViolation`), and
/// copies a slot into private memory exactly once before looking at it. A violation is sticky:
/// the endpoint stops, and no slot outside the ring is ever touched.
///
/// This value only describes the memory; the two sides use `RingProducer` and `RingConsumer`.
public struct SingleProducerSingleConsumerRing<Element: BitwiseCopyable> {
    /// Offset of the consumer's index (head), on cache line 0.
    public static var headOffset: Int { 0 }
    /// Offset of the producer's index (tail), on cache line 1.
    public static var tailOffset: Int { ChannelLayout.cacheLineSize }
    /// Offset of slot 0, on cache line 2.
    public static var slotsOffset: Int { 2 * ChannelLayout.cacheLineSize }
    /// The largest element a ring carries: one cache line.
    public static var maximumElementSize: Int { ChannelLayout.cacheLineSize }

    /// Bytes per slot: the element's size rounded up to 8, so that a slot is copied as whole
    /// 8-byte words (see `RingConsumer`).
    public static var slotStride: Int { (MemoryLayout<Element>.size + 7) & ~7 }

    /// The bytes a ring of `capacity` elements occupies.
    public static func byteCount(capacity: Int) -> Int {
        slotsOffset + capacity * slotStride
    }

    /// The start of the ring's memory.
    public let memory: UnsafeMutableRawPointer
    /// The number of slots: a power of two from 1 to 2^31.
    public let capacity: UInt32

    /// Describes the ring of `capacity` elements at `memory` (64-byte aligned, at least
    /// `byteCount(capacity:)` bytes). Does not touch the memory: see `initialize`.
    public init(memory: UnsafeMutableRawPointer, capacity: UInt32) {
        precondition(capacity >= 1 && capacity <= 1 << 31 && capacity & (capacity &- 1) == 0,
                     "ring capacity must be a power of two up to 2^31")
        precondition(UInt(bitPattern: memory) % UInt(ChannelLayout.cacheLineSize) == 0,
                     "ring memory must be cache-line aligned")
        precondition(MemoryLayout<Element>.size <= Self.maximumElementSize && MemoryLayout<Element>.alignment <= 8,
                     "ring elements must fit one cache line and need at most 8-byte alignment")
        self.memory = memory
        self.capacity = capacity
    }

    /// Zeroes the ring and sets both indices to `startingIndex` (an empty ring). Done once, by
    /// whoever creates the shared memory, before either side starts; both endpoints must then
    /// be made with the same `startingIndex`.
    public func initialize(startingIndex: UInt32 = 0) {
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: Self.byteCount(capacity: Int(capacity)))
        headPointer.pointee.store(startingIndex, ordering: .relaxed)
        // RELEASE: pairs with the ACQUIRE load of the first side to look at the ring (or with
        // the mapping of the memory, which orders more strongly), so it sees the zeroed slots.
        tailPointer.pointee.store(startingIndex, ordering: .releasing)
    }

    /// The producer's end, starting at `startingIndex` (as passed to `initialize`).
    public func makeProducer(startingIndex: UInt32 = 0, tap: ChannelTap? = nil) -> RingProducer<Element> {
        RingProducer(ring: self, startingIndex: startingIndex, tap: tap)
    }

    /// The consumer's end, starting at `startingIndex` (as passed to `initialize`).
    public func makeConsumer(startingIndex: UInt32 = 0, tap: ChannelTap? = nil) -> RingConsumer<Element> {
        RingConsumer(ring: self, startingIndex: startingIndex, tap: tap)
    }

    /// The shared head index.
    @inline(__always)
    var headPointer: UnsafeMutablePointer<Atomic<UInt32>> {
        (memory + Self.headOffset).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    /// The shared tail index.
    @inline(__always)
    var tailPointer: UnsafeMutablePointer<Atomic<UInt32>> {
        (memory + Self.tailOffset).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    /// The slot of free-running index `index` (always inside the ring: the index is masked).
    @inline(__always)
    func slot(_ index: UInt32) -> UnsafeMutableRawPointer {
        memory + Self.slotsOffset + Int(index & (capacity &- 1)) * Self.slotStride
    }
}

/// What one side of a ring saw the other side do that the protocol forbids. Once an endpoint
/// has seen one, it refuses to go on (its operations report full or empty).
public enum RingViolation: Equatable, Sendable {
    /// The consumer read a tail more than `capacity` ahead of its head, or behind what it had
    /// already seen: the producer claims elements that cannot exist.
    case tailOutOfRange(head: UInt32, tail: UInt32)
    /// The producer read a head behind what it had already seen or ahead of its own tail: the
    /// consumer claims to have taken elements that were never there.
    case headOutOfRange(head: UInt32, tail: UInt32)
}
