/// The consumer-asleep word of a ring: how a halting network core tells a program that its next request needs a kick.

import Synchronization

// A dedicated network core that halts when idle (`net-idle=halt|interrupt`) cannot see a
// program's request until something wakes it. The NIC can interrupt it; a program cannot
// without a system call. So the core says when it sleeps, and a program that has pushed
// requests makes that call (`kick`) only then, once per sleep.
//
// The word lives on the ring's cache line 0, beside head: the consumer (the network core)
// writes both, the producer (the program) only reads, so the line keeps one writer. Its value
// is 0 while the consumer is awake, else the number of the sleep (never 0), so a producer
// kicks once per sleep, not once per look.
//
// The lost-wake-up argument is the doorbell's (`Doorbell.ring`) in the other direction:
//
//     consumer (core)                         producer (program)
//     store word = sleep number               store tail (the request)
//     fence (sequentially consistent)         fence (sequentially consistent)
//     load tail: new? then do not sleep       load word: a new sleep? and head: ours
//                                                 untaken? then kick
//
// x86 may move a store after a later load; the fences forbid that on both sides, so at least
// one side sees the other's store: the core finds the request and stays awake, or the
// program finds the core asleep (its request untaken, since the core did not see it) and
// kicks. The word is only a hint to the program: the
// kernel decides whether a kick sends an IPI (the core's own flag), so a program that lies
// about it, or kicks in a loop, costs only its own CPU's time.

extension SingleProducerSingleConsumerRing {
    /// Offset of the consumer-asleep word (UInt32), on cache line 0 beside head.
    public static var consumerSleepOffset: Int { headOffset + 4 }

    /// The shared consumer-asleep word.
    @inline(__always)
    var consumerSleepPointer: UnsafeMutablePointer<Atomic<UInt32>> {
        (memory + Self.consumerSleepOffset).assumingMemoryBound(to: Atomic<UInt32>.self)
    }
}

extension RingConsumer {
    /// Says that the consumer is about to sleep (`sleep` ≠ 0, a new number each time) or is
    /// awake again (0). Before sleeping, call `fenceAfterAnnouncing` and then
    /// `producerPublishedUnseen`: see the argument above.
    public func announceSleep(_ sleep: UInt32) {
        // Releasing: what the consumer stored before (the kernel's own "halted" flag) is seen
        // by a producer that sees this value (its acquiring load), and so by the kick it
        // makes. The fence the caller puts after the last announcement orders it before the
        // loads of the tails.
        ring.consumerSleepPointer.pointee.store(sleep, ordering: .releasing)
    }

    /// Whether the producer has published a tail other than our head: a request we have not
    /// taken. A peek, neither validated nor seen by the tap (a hostile tail only keeps the
    /// consumer awake, as polling would; the next `tryPop` reads and checks the tail properly).
    public func producerPublishedUnseen() -> Bool {
        // Acquire, though nothing is read after it: it is the load the fence above orders.
        ring.tailPointer.pointee.load(ordering: .acquiring) != nextIndex
    }
}

/// The full fence between a consumer's `announceSleep` and its `producerPublishedUnseen`
/// (one for any number of rings announced together).
public func fenceAfterAnnouncingSleep() {
    atomicMemoryFence(ordering: .sequentiallyConsistent)
}

/// The producer's view of the consumer-asleep word: whether a kick is owed. Keep one per
/// producer; it remembers which sleep it kicked.
public struct ConsumerSleepWatch {
    /// The ring (its word and head are read, its tail is the producer's own).
    private let ring: SingleProducerSingleConsumerRing<UInt8>
    /// The sleep last answered with a kick (0: none).
    private var kicked: UInt32 = 0

    /// Watches the consumer of `ring`.
    public init<Element>(ring: SingleProducerSingleConsumerRing<Element>) {
        // Only the header is touched: any element type describes it.
        self.ring = SingleProducerSingleConsumerRing<UInt8>(memory: ring.memory, capacity: ring.capacity)
    }

    /// Whether the consumer sleeps with elements of ours not taken, in a sleep not yet kicked;
    /// call after publishing (tail stores). True at most once per sleep: the caller kicks.
    /// A consumer that sleeps having taken everything is owed nothing: without that test a
    /// program waiting for answers kicked every halt of an idle core (about five kicks per
    /// request in a probe that halted after one empty pass).
    public mutating func consumerNeedsKick() -> Bool {
        // Sequentially consistent: our tail store must not pass the loads below (the argument
        // at the top of this file).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        // Acquiring: pairs with `announceSleep`'s releasing store (see there).
        let sleep = ring.consumerSleepPointer.pointee.load(ordering: .acquiring)
        guard sleep != 0 && sleep != kicked else { return false }
        // Relaxed: the head is a hint (a stale one only costs a spare kick); the tail is our
        // own store, current in program order.
        guard ring.headPointer.pointee.load(ordering: .relaxed) != ring.tailPointer.pointee.load(ordering: .relaxed) else {
            return false
        }
        kicked = sleep
        return true
    }
}
