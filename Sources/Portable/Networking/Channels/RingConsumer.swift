/// The consumer's end of a single-producer single-consumer ring: validates the tail, copies slots out once.

import Synchronization

/// The consumer's end of a `SingleProducerSingleConsumerRing`. Keep exactly one per ring (a
/// copy shares the memory but not the private head).
///
/// Ordering: the consumer loads the producer's tail with ACQUIRE, pairing with the producer's
/// RELEASE store of tail made after it wrote the slot, so the slot copy that follows sees the
/// element. After copying the slot out it stores head with RELEASE, pairing with the
/// producer's ACQUIRE load of head, so the producer reuses the slot only after the copy.
///
/// A hostile producer can change a slot while we read it, or after. So the slot is copied
/// into private memory exactly once, as 8-byte words with relaxed atomic loads (plain `mov`s on
/// x86-64) that the compiler may neither repeat nor tear into a later re-read; the caller
/// validates the copy, never the shared slot (no double fetch).
public struct RingConsumer<Element: BitwiseCopyable> {
    /// The ring's memory.
    public let ring: SingleProducerSingleConsumerRing<Element>
    /// The consumer's own index, kept privately: the shared copy is only ever written.
    private var head: UInt32
    /// The last tail read from shared memory (validated): the producer has published
    /// everything before it.
    private var knownTail: UInt32
    /// Set when the producer broke the protocol; the consumer then reports the ring empty.
    public private(set) var violation: RingViolation?
    /// Sees each tail loaded and each element copied out (`ChannelTap`: recording, replay);
    /// nil almost always.
    public let tap: ChannelTap?

    /// The consumer's end of `ring`, whose indices were both initialized to `startingIndex`.
    public init(ring: SingleProducerSingleConsumerRing<Element>, startingIndex: UInt32 = 0, tap: ChannelTap? = nil) {
        self.ring = ring
        head = startingIndex
        knownTail = startingIndex
        self.tap = tap
    }

    /// The free-running index of the next element to pop.
    public var nextIndex: UInt32 { head }

    /// The next element, or nil when the ring is empty (or the producer broke the protocol).
    @inline(__always)
    public mutating func tryPop() -> Element? {
        guard hasElement() else { return nil }
        var element = copySlot(head)
        if let tap {
            // The private copy is what the core acts on: a replay puts the recorded one there.
            withUnsafeMutableBytes(of: &element) { _ = tap.observe(.request, value: UInt64(head), bytes: $0) }
        }
        head &+= 1
        // RELEASE: the slot loads above happen before this store; pairs with the producer's
        // ACQUIRE load of head, after which it may overwrite the slot.
        ring.headPointer.pointee.store(head, ordering: .releasing)
        return element
    }

    /// How many elements can be popped now (0 after a violation): reads the producer's tail.
    public mutating func availableCount() -> Int {
        guard violation == nil else { return 0 }
        refreshTail()
        guard violation == nil else { return 0 }
        return Int(knownTail &- head)
    }

    /// Whether an element can be popped now. Reads the producer's tail only when every
    /// element known so far has been taken (one shared cache-line read per batch, not per pop).
    @inline(__always)
    public mutating func hasElement() -> Bool {
        guard violation == nil else { return false }
        if knownTail == head { refreshTail() }
        return violation == nil && knownTail != head
    }

    /// Reads and validates the producer's tail.
    private mutating func refreshTail() {
        // ACQUIRE: pairs with the producer's RELEASE store of tail, made after it wrote the
        // slots before tail; our slot copies come after this load.
        var tail = ring.tailPointer.pointee.load(ordering: .acquiring)
        if let tap { tail = UInt32(truncatingIfNeeded: tap.observe(.requestTail, value: UInt64(tail))) }
        // Never trusted: tail may only move forward from what we saw, and never more than
        // `capacity` ahead of our head (the producer cannot have more elements in flight than
        // slots). Both differences are wrap-around safe.
        guard tail &- head <= ring.capacity, tail &- head >= knownTail &- head else {
            violation = .tailOutOfRange(head: head, tail: tail)
            return
        }
        knownTail = tail
    }

    /// Copies the slot of `index` into a private value, once, word by word.
    @inline(__always)
    private func copySlot(_ index: UInt32) -> Element {
        let slot = ring.slot(index)
        let wordCount = SingleProducerSingleConsumerRing<Element>.slotStride / 8
        // One cache line of private words: the largest element (see `maximumElementSize`).
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { copy in
            var word = 0
            while word < wordCount {
                // RELAXED: a single, untorn read of each word; ordering comes from the ACQUIRE
                // load of tail in `refreshTail`.
                let value = (slot + word * 8).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .relaxed)
                copy.storeBytes(of: value, toByteOffset: word * 8, as: UInt64.self)
                word += 1
            }
        }
        return withUnsafeBytes(of: &words) { $0.load(as: Element.self) }
    }
}
