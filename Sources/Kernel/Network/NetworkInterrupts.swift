/// The network device's MSI-X queue interrupts: counted per CPU and queue, then the context served (symmetric mode) or nothing more (a halted network core woken, net-idle=interrupt).
import Synchronization

/// Where vectors `InterruptVector.networkQueueBase` + queue land (see `MSIX`): in symmetric
/// mode each interrupt is counted, then the network context is served on this CPU; on a
/// dedicated network core (`net-idle=interrupt`) it only ends a halt, and the core's next pass
/// takes the frame.
enum NetworkInterrupts {
    /// The most CPUs counted: boot/layout.asm's MAXIMUM_CPUS.
    static let maximumCPUs = 64
    /// The most queues counted: `InterruptVector.networkQueueCount`.
    static let maximumQueues = 8

    /// Interrupts per (CPU, queue): CPU c's eight queue counters are words 8c to 8c + 7, 64
    /// bytes side by side, so CPUs counting at once seldom share a cache line. Fixed-size and
    /// statically zeroed: the interrupt path never allocates, and never runs a lazy global
    /// initializer (`swift_once`) — an `InlineArray` of `Atomic`s built by a closure would
    /// (checked in the object code), this zero-filled word array does not. Every access goes
    /// through `withCounter` as an `Atomic`, never as a plain load or store, the way
    /// `UnsafeAtomicWord` in Programs.swift views shared words.
    ///
    /// Each counter is written only by the CPU it belongs to, from its interrupt handler, and
    /// read by anyone at any time as statistics. Relaxed ordering is enough on both sides: a
    /// count orders nothing else (no reader infers from it that other memory is ready), and
    /// the atomic keeps a concurrent read from tearing.
    nonisolated(unsafe) private static var counts = InlineArray<512, UInt64>(repeating: 0)   // 64 CPUs × 8 queues

    /// Runs `body` on the counter of (`cpu`, `queue`), or returns nil outside the counted range.
    @inline(__always)
    private static func withCounter<Value>(cpu: Int, queue: Int, _ body: (borrowing Atomic<UInt64>) -> Value) -> Value? {
        guard cpu >= 0 && cpu < maximumCPUs && queue >= 0 && queue < maximumQueues else { return nil }
        return withUnsafeMutablePointer(to: &counts) { words in
            body(UnsafeMutableRawPointer(words).assumingMemoryBound(to: Atomic<UInt64>.self)[cpu * maximumQueues + queue])
        }
    }

    /// Handles an interrupt of network queue `queue` on the calling CPU: counts it and sends
    /// the local APIC its EOI (an MSI is edge-triggered, so EOI only frees the in-service bit).
    static func handle(queue: Int) {
        _ = withCounter(cpu: CPU.currentIndex, queue: queue) { $0.wrappingAdd(1, ordering: .relaxed) }
        // The queue's context runs here, in the interrupted CPU's kernel (symmetric mode):
        // queue pair i belongs to context i.
        NetworkCore.serveInKernel(context: queue)
        LocalAPIC.endOfInterrupt()
    }

    /// How many queue interrupts CPU `cpu` has handled, all queues together.
    static func count(cpu: Int) -> UInt64 {
        var total: UInt64 = 0
        for queue in 0..<maximumQueues { total &+= count(cpu: cpu, queue: queue) }
        return total
    }

    /// How many interrupts of queue `queue` CPU `cpu` has handled (0 outside the counted range).
    static func count(cpu: Int, queue: Int) -> UInt64 {
        withCounter(cpu: cpu, queue: queue) { $0.load(ordering: .relaxed) } ?? 0
    }
}
