/// The doorbell: the wake-up IPI for a program asleep in `wait`, sent only when it sleeps.
import Synchronization

/// Waking a program that sleeps in `wait`: the one interrupt an application CPU takes, and only
/// when it has asked for it by going to sleep.
enum Doorbell {
    /// Sends the wake-up IPI if CPU `cpu` sleeps in `wait`. The sleeper stores `sleeping`
    /// and then re-checks its word; we pushed the completion and then load `sleeping`. Both
    /// sides put a sequentially consistent fence between their store and their load (x86 may
    /// reorder a store with a later load), so at least one of them sees the other: either the
    /// sleeper sees the new completion and does not sleep, or we see it asleep and wake it.
    static func ring(cpu: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let block = CPU.blockPointer(cpu)
        if block.pointee.sleeping.load(ordering: .relaxed) != 0 {
            block.pointee.sleeping.store(0, ordering: .relaxed)
            LocalAPIC.sendWakeUp(to: block.pointee.apicID)
        }
    }
}
