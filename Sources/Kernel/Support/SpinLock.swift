/// Spinlocks: a ticket lock that also masks interrupts on the holding CPU.
import Synchronization

/// A fair (first come, first served) spinlock for data shared between CPUs.
///
/// Taking the lock disables interrupts on this CPU and releasing it restores them, so an
/// interrupt handler on the holding CPU can never spin forever on a lock its own CPU holds.
struct SpinLock: ~Copyable {
    /// The next ticket to hand out. Relaxed increment: the ticket number alone orders waiters;
    /// the acquiring load of `nowServing` below is what orders the critical section.
    private let nextTicket = Atomic<UInt32>(0)
    /// The ticket allowed in. Written with release by the holder leaving, read with acquire by
    /// the waiter entering: everything the previous holder wrote is visible to the next.
    private let nowServing = Atomic<UInt32>(0)

    init() {}

    /// Takes the lock; returns whether interrupts were enabled before, for `unlock`.
    func lock() -> Bool {
        let interruptsWereEnabled = Processor.interruptsEnabled
        interrupts_disable()
        let ticket = nextTicket.wrappingAdd(1, ordering: .relaxed).oldValue
        while nowServing.load(ordering: .acquiring) != ticket { Processor.relax() }
        return interruptsWereEnabled
    }

    /// Takes the lock if it can within `attempts` spins (for fault reporting, which must not
    /// wait forever on a lock the faulting CPU itself may hold).
    func lock(attempts: Int) -> (acquired: Bool, interruptsWereEnabled: Bool) {
        let interruptsWereEnabled = Processor.interruptsEnabled
        interrupts_disable()
        var remaining = attempts
        while remaining > 0 {
            let serving = nowServing.load(ordering: .acquiring)
            // Acquire on success pairs with the release in `unlock` like `lock()` does.
            if nextTicket.compareExchange(expected: serving, desired: serving &+ 1,
                                          ordering: .acquiring).exchanged {
                return (true, interruptsWereEnabled)
            }
            Processor.relax()
            remaining -= 1
        }
        return (false, interruptsWereEnabled)
    }

    /// Releases the lock taken by `lock()` and restores the interrupt flag it returned.
    func unlock(restoringInterrupts interruptsWereEnabled: Bool) {
        // Only the holder writes nowServing, so a relaxed read of our own value is exact; the
        // releasing store publishes the critical section's writes to the next holder.
        nowServing.store(nowServing.load(ordering: .relaxed) &+ 1, ordering: .releasing)
        if interruptsWereEnabled { interrupts_enable() }
    }

    /// Runs `body` with the lock held.
    func withLock<Result>(_ body: () -> Result) -> Result {
        let interruptsWereEnabled = lock()
        let result = body()
        unlock(restoringInterrupts: interruptsWereEnabled)
        return result
    }
}
