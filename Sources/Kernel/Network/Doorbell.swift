/// The doorbell: the wake-up IPI for a program asleep in `wait`, sent only when it sleeps.
import Synchronization

/// Waking a program that sleeps in `wait`: the one interrupt an application CPU takes, and only
/// when the program it is for has asked for it by going to sleep — so a program computing or
/// spinning beside others that sleep on the same CPU is not interrupted by their neighbours'
/// traffic, nor by its own.
enum Doorbell {
    /// Sends the wake-up IPI to `cpu` if the program of channel `channel` of context `context`
    /// sleeps in `wait`. The sleeper stores its `sleeping` flag and then re-checks its word; we
    /// pushed the completion and then load the flag. Both sides put a sequentially consistent
    /// fence between their store and their load (x86 may reorder a store with a later load),
    /// so at least one of them sees the other: either the sleeper sees the new completion and
    /// does not sleep, or we see it asleep and wake it. A channel whose program is not known
    /// yet (it is just starting) gets the IPI regardless: a spurious wake-up is harmless.
    static func ring(cpu: Int, context: Int, channel: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        guard let slot = ProgramTasks.program(context: context, channel: channel) else {
            LocalAPIC.sendWakeUp(to: CPU.blockPointer(cpu).pointee.apicID)
            return
        }
        let flag = ProgramTasks.sleepingFlag(slot)
        if flag.pointee.load(ordering: .relaxed) != 0 {
            flag.pointee.store(0, ordering: .relaxed)
            LocalAPIC.sendWakeUp(to: CPU.blockPointer(cpu).pointee.apicID)
        }
    }
}
