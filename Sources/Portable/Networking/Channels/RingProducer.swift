/// The producer's end of a single-producer single-consumer ring: writes slots, publishes the tail.

import Synchronization

/// The producer's end of a `SingleProducerSingleConsumerRing`. Keep exactly one per ring (a
/// copy shares the memory but not the private tail).
///
/// Ordering: the element is written into its slot with plain stores, then the tail is stored
/// with RELEASE; the consumer's ACQUIRE load of the tail pairs with it, so the consumer sees
/// the element. The producer loads the consumer's head with ACQUIRE, pairing with the
/// consumer's RELEASE store of head after it copied the slot out, so the producer never
/// overwrites a slot the consumer is still reading.
public struct RingProducer<Element: BitwiseCopyable> {
    /// The ring's memory.
    public let ring: SingleProducerSingleConsumerRing<Element>
    /// The producer's own index, kept privately: the shared copy is only ever written.
    private var tail: UInt32
    /// The last head read from shared memory (validated): the consumer has taken everything
    /// before it.
    private var knownHead: UInt32
    /// Set when the consumer broke the protocol; the producer then refuses to push.
    public private(set) var violation: RingViolation?
    /// Sees each head loaded and each element pushed (`ChannelTap`: recording, replay); nil
    /// almost always.
    public let tap: ChannelTap?

    /// The producer's end of `ring`, whose indices were both initialized to `startingIndex`.
    public init(ring: SingleProducerSingleConsumerRing<Element>, startingIndex: UInt32 = 0, tap: ChannelTap? = nil) {
        self.ring = ring
        tail = startingIndex
        knownHead = startingIndex
        self.tap = tap
    }

    /// The free-running index the next pushed element gets.
    public var nextIndex: UInt32 { tail }

    /// Appends `element`; false when the ring is full (or the consumer broke the protocol).
    @inline(__always)
    public mutating func tryPush(_ element: Element) -> Bool {
        guard hasFreeSlot() else { return false }
        ring.slot(tail).storeBytes(of: element, as: Element.self)
        if let tap {
            var written = element
            withUnsafeMutableBytes(of: &written) { _ = tap.observe(.completion, value: UInt64(tail), bytes: $0) }
        }
        tail &+= 1
        // RELEASE: the slot stores above happen before this store; pairs with the consumer's
        // ACQUIRE load of tail, after which it reads the slot.
        ring.tailPointer.pointee.store(tail, ordering: .releasing)
        return true
    }

    /// How many elements can be pushed now without waiting (0 after a violation): reads the
    /// consumer's head.
    public mutating func freeSlotCount() -> Int {
        guard violation == nil else { return 0 }
        refreshHead()
        guard violation == nil else { return 0 }
        return Int(ring.capacity &- (tail &- knownHead))
    }

    /// Whether an element can be pushed now. Reads the consumer's head only when the last
    /// known one leaves no room (one shared cache-line read per lap, not per push).
    @inline(__always)
    public mutating func hasFreeSlot() -> Bool {
        guard violation == nil else { return false }
        if tail &- knownHead == ring.capacity { refreshHead() }
        return violation == nil && tail &- knownHead != ring.capacity
    }

    /// Reads and validates the consumer's head.
    private mutating func refreshHead() {
        // ACQUIRE: pairs with the consumer's RELEASE store of head, made after it copied the
        // slots before head out; our next stores into those slots come after this load.
        var head = ring.headPointer.pointee.load(ordering: .acquiring)
        if let tap { head = UInt32(truncatingIfNeeded: tap.observe(.completionHead, value: UInt64(head))) }
        // Never trusted: head may only move forward from what we saw, and not past our tail.
        // `head &- knownHead` is how far it claims to have moved (wrap-around safe); anything
        // beyond `tail &- knownHead` is impossible.
        guard head &- knownHead <= tail &- knownHead else {
            violation = .headOutOfRange(head: head, tail: tail)
            return
        }
        knownHead = head
    }
}
