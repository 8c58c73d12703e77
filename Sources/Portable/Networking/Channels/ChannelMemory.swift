/// One channel's shared memory as both sides see it: the two rings and the buffer pool at their layout offsets.
import Paging

/// A view of one channel's shared memory (see `ChannelLayout` for the picture). Both the
/// network core and the program library build their endpoints from it; it holds no state
/// of its own, so copies are harmless.
public struct ChannelMemory {
    /// The channel's first byte (page aligned).
    public let base: UnsafeMutableRawPointer
    /// Where everything is.
    public let layout: ChannelLayout

    /// The channel laid out by `layout` at `base`: page aligned, `layout.byteCount` bytes.
    public init(base: UnsafeMutableRawPointer, layout: ChannelLayout) {
        precondition(UInt(bitPattern: base) % UInt(Page.size) == 0, "channel memory must be page aligned")
        self.base = base
        self.layout = layout
    }

    /// Zeroes the whole channel and makes both rings empty with indices at `startingIndex`.
    /// The kernel does this once, before it maps the memory into the program.
    public func initialize(startingIndex: UInt32 = 0) {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: layout.byteCount)
        requestRing.initialize(startingIndex: startingIndex)
        completionRing.initialize(startingIndex: startingIndex)
    }

    /// The request ring (program → network core).
    public var requestRing: SingleProducerSingleConsumerRing<ChannelRequest> {
        SingleProducerSingleConsumerRing(memory: base + layout.requestRingOffset, capacity: layout.requestCapacity)
    }

    /// The completion ring (network core → program).
    public var completionRing: SingleProducerSingleConsumerRing<ChannelCompletion> {
        SingleProducerSingleConsumerRing(memory: base + layout.completionRingOffset, capacity: layout.completionCapacity)
    }

    /// The bytes of buffer `index`, which the caller has checked is below `layout.bufferCount`
    /// (the check is repeated here: an index out of range is a bug, not input).
    @inline(__always)
    public func buffer(_ index: UInt32) -> UnsafeMutableRawBufferPointer {
        precondition(index < layout.bufferCount, "buffer index out of range")
        return UnsafeMutableRawBufferPointer(start: base + layout.bufferOffset(index), count: Int(layout.bufferSize))
    }
}
