/// Channel memory for a program: the shared rings and buffers (mapped into the program) and the context's private half.
import Channels
import NetworkContext
import Paging

/// Makes program channels in physical memory and hands them to the context that serves the
/// program's CPU (`NetworkContext.queueChannel`: it starts serving them at its next pass, at
/// boot or while it runs); frees them once the context released them and the program is gone.
enum ProgramChannelMemory {
    static let layout = ChannelLayout()

    /// A channel's memory: the shared half (mapped into the program) and the context's private half.
    struct Allocation {
        var shared: PhysicalAddress
        var sharedFrames: Int
        var privateMemory: PhysicalAddress
        var privateFrames: Int
        /// The context that serves it and the channel's number there.
        var context: Int
        var channel: Int
    }

    /// A channel for a program on `cpu`, or nil without a network, without memory, or with
    /// every channel number of the context in use.
    static func create(cpu: Int) -> Allocation? {
        guard !NetworkCore.contexts.isEmpty, let contextIndex = NetworkCore.context(servingCPU: cpu) else { return nil }
        let sharedFrames = Page.count(covering: layout.byteCount)
        let privateFrames = Page.count(covering: layout.serverPrivateByteCount)
        guard let shared = PhysicalMemory.allocate(count: sharedFrames) else { return nil }
        guard let privateMemory = PhysicalMemory.allocate(count: privateFrames) else {
            PhysicalMemory.free(shared, count: sharedFrames)
            return nil
        }
        let memory = ChannelMemory(base: shared.pointer, layout: layout)
        memory.initialize()
        guard let channel = NetworkCore.contexts[contextIndex].queueChannel(
            memory: memory, privateMemory: privateMemory.pointer, cpu: cpu)
        else {
            PhysicalMemory.free(shared, count: sharedFrames)
            PhysicalMemory.free(privateMemory, count: privateFrames)
            return nil
        }
        return Allocation(shared: shared, sharedFrames: sharedFrames, privateMemory: privateMemory,
                          privateFrames: privateFrames, context: contextIndex, channel: channel)
    }

    /// Frees a released channel's memory and gives its number back to its context.
    static func free(_ allocation: Allocation) {
        PhysicalMemory.free(allocation.shared, count: allocation.sharedFrames)
        PhysicalMemory.free(allocation.privateMemory, count: allocation.privateFrames)
        NetworkCore.contexts[allocation.context].channelFreed(allocation.channel)
    }
}
