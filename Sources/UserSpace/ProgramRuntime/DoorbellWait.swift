/// How ring-3 servers wait for their channel: spin a while, then sleep in the kernel until the network core rings.

import Channels
import SwigletLibrary

/// Waits for the network core without burning the CPU forever: spins a little (work usually
/// arrives within microseconds under load), then asks the kernel to halt until the network
/// core rings the doorbell — the only system call, and only on this idle path.
public struct DoorbellWait: WaitPolicy {
    /// The completion ring's tail: the word the network core moves when it has news for us.
    let completionTail: UnsafeRawPointer
    /// The completion ring's head: what this program has taken (its consumer stores it after
    /// every pop), so the ring is empty exactly when the tail equals it.
    let completionHead: UnsafeRawPointer
    /// The kernel's choice (boot option `app-wait=`): never sleep when `spin`.
    let spinOnly: Bool
    /// Return false (give up) after each sleep, or after each round of spins when spinning:
    /// for an event loop that has other work to retry now and then.
    let givesUpAfterSleeping: Bool
    /// Looks at the ring this many times before sleeping (1 when the kernel asks programs to
    /// enter it at once: symmetric networking).
    let spinsBeforeSleeping: Int
    /// Empty looks since the last sleep, in total: work found in between does not start the
    /// count over. Deliberately: a busy program then still sleeps now and then and gives its
    /// host CPU back. Counting only looks in a row (tried, `experiments/idle-looks.exp`,
    /// docs/experiments.md "Empty looks in a row") kept busy programs awake and cost 5–22% of
    /// bulk and UDP echo rates on a 2-core host, where QEMU's I/O thread and the load
    /// generator need that CPU.
    var spins = 0
    /// The request ring's consumer-asleep word: a network core that halted when idle
    /// (`net-idle=halt|interrupt`) is kicked before we wait, or our requests would wait for
    /// its timer. Nil when the kernel says the core never halts (`net-idle=poll`, the
    /// default, and symmetric mode): then `wait` pays no fence for it.
    var networkCoreSleep: ConsumerSleepWatch?
    /// Looks at the ring this many times before sleeping.
    public static let spinsBeforeSleeping = 2000

    /// Waits on `memory`'s completion ring the way `start` (the program's start argument) says;
    /// never gives up unless `givesUpAfterSleeping`.
    public init(memory: ChannelMemory, start: ProgramStartArgument, givesUpAfterSleeping: Bool = false) {
        completionTail = UnsafeRawPointer(memory.base + memory.layout.completionRingOffset
                                          + SingleProducerSingleConsumerRing<ChannelCompletion>.tailOffset)
        completionHead = UnsafeRawPointer(memory.base + memory.layout.completionRingOffset
                                          + SingleProducerSingleConsumerRing<ChannelCompletion>.headOffset)
        spinOnly = start.waitPolicy == .spin
        spinsBeforeSleeping = start.waitPolicy == .enterKernel ? 1 : Self.spinsBeforeSleeping
        networkCoreSleep = start.networkCoreHalts ? ConsumerSleepWatch(ring: memory.requestRing) : nil
        self.givesUpAfterSleeping = givesUpAfterSleeping
    }

    /// Spins, or sleeps while the completion ring is empty (or 100 ms pass: a safety net, not a
    /// mechanism).
    ///
    /// The kernel sleeps while the tail equals the value given, so that value is our own head —
    /// what we have taken — not a fresh read of the tail: a completion pushed after our last
    /// look at the ring but before such a read would be taken for "nothing new" and slept
    /// through, and the network core, which saw us awake when it pushed it, rang no doorbell.
    /// That lost wake-up cost a lone HTTP connection a 100 ms stall every few hundred requests.
    ///
    /// First, if the network core has halted since our requests went in, it is kicked: we
    /// wait because we have nothing to do, which is when requests we pushed are owed an answer.
    public mutating func wait() -> Bool {
        if networkCoreSleep?.consumerNeedsKick() == true { System.kick() }
        spins += 1
        guard spins >= spinsBeforeSleeping else { return true }
        spins = 0
        if !spinOnly {
            // Our own store: program order makes it current, no ordering needed.
            let taken = completionHead.load(as: UInt32.self)
            _ = System.wait(on: completionTail, whileEqualTo: taken, timeout: 100_000_000)
        }
        return !givesUpAfterSleeping
    }
}
