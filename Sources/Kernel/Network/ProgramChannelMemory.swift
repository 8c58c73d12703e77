/// Channel memory for a program: the shared rings and buffers (mapped into the program) and the context's private half.
import Channels
import NetworkContext

/// Makes program channels in physical memory and adds them to the context that serves the
/// program's CPU. Called on the boot CPU before that context starts serving.
enum ProgramChannelMemory {
    static let layout = ChannelLayout()

    /// A channel for a program on `cpu`, or nil without a network or without memory. Returns
    /// the physical address and size of the shared memory (the caller maps it into the program),
    /// the context and the channel's number there.
    static func create(cpu: Int) -> (physical: UInt64, byteCount: Int, context: Int, channel: Int)? {
        guard !NetworkCore.contexts.isEmpty, let contextIndex = NetworkCore.context(servingCPU: cpu) else { return nil }
        guard let shared = PhysicalMemory.allocate(count: layout.byteCount / 4096),
              let privateMemory = PhysicalMemory.allocate(count: ChannelLayout.roundUpToPage(layout.serverPrivateByteCount) / 4096)
        else { return nil }
        let memory = ChannelMemory(base: UnsafeMutableRawPointer(bitPattern: UInt(shared))!, layout: layout)
        memory.initialize()
        guard let channel = NetworkCore.contexts[contextIndex].addChannel(
            memory: memory, privateMemory: UnsafeMutableRawPointer(bitPattern: UInt(privateMemory))!, cpu: cpu)
        else { return nil }
        return (shared, layout.byteCount, contextIndex, channel)
    }
}
