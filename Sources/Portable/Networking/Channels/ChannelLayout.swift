/// Where the request ring, the completion ring and the packet buffers of one channel lie in its shared memory.
import Paging

/// The layout of one channel's shared memory: the byte sizes and offsets of its parts for
/// given ring capacities and buffer count.
///
/// A channel is one block of page-aligned memory that the kernel maps both into the program
/// (at a fixed user address) and into the network core's view. With the defaults
/// (128 requests, 256 completions, 256 buffers of 8192 bytes):
///
/// ```
///  offset   page  contents
///  0x00000   0  ┌───────────────────────────────────────────────┐
///               │ request ring (program → network core)         │
///  0x00000      │   head   UInt32  cache line 0 (network core)  │
///  0x00004      │   asleep UInt32  (network core: ConsumerSleep)│
///  0x00040      │   tail   UInt32  cache line 1 (program)       │
///  0x00080      │   slots  128 × 32-byte ChannelRequest          │
///  0x01080      │   (unused to the page boundary)               │
///  0x02000   2  ├───────────────────────────────────────────────┤
///               │ completion ring (network core → program)      │
///  0x02000      │   head   UInt32  cache line 0 (program)       │
///  0x02040      │   tail   UInt32  cache line 1 (network core)  │
///  0x02080      │   slots  256 × 32-byte ChannelCompletion       │
///  0x04080      │   (unused to the page boundary)               │
///  0x05000   5  ├───────────────────────────────────────────────┤
///               │ buffer pool: 256 × 8192 bytes                 │
///  0x05000      │   buffer 0    two pages each, page aligned    │
///  0x07000      │   buffer 1                                    │
///   …           │   …                                           │
///  0x203000     │   buffer 255                                  │
///  0x205000 517 └───────────────────────────────────────────────┘ byteCount (2,068 KiB)
/// ```
///
/// Every part starts on a page boundary, so the kernel can map each part on its own if it
/// ever needs to, and the rings' head and tail never share a cache line with anything.
/// Nothing the network core keeps for itself (buffer ownership, posted receive buffers,
/// sockets) is in this memory: a program can write all of it.
public struct ChannelLayout: Equatable, Sendable {
    /// The size of a cache line on x86-64.
    public static let cacheLineSize = 64
    /// The number of sockets one channel can have bound at once.
    public static let socketCapacity = 16
    /// TCP connection numbers run from 0 to this − 1 (the network core's connection table has
    /// at most this many slots; every channel can name any of them, owning only its own). The
    /// table's real size is set at boot from memory and is usually smaller; 16,384 keeps the
    /// bookkeeping per number (the network core's notices and each channel's send queues,
    /// about 30 and 35 bytes) to well under a megabyte per context and per channel.
    public static let connectionCapacity = 16_384

    /// Slots in the request ring (program → network core): a power of two.
    public let requestCapacity: UInt32
    /// Slots in the completion ring (network core → program): a power of two.
    public let completionCapacity: UInt32
    /// Packet buffers in the pool, 1 to 65536.
    public let bufferCount: UInt32
    /// Bytes per packet buffer: a multiple of 64, at least 1536 so that one whole UDP payload
    /// of an Ethernet frame (1472 bytes) fits.
    public let bufferSize: UInt32

    /// Offset of the request ring (`SingleProducerSingleConsumerRing<ChannelRequest>`).
    public let requestRingOffset: Int
    /// Offset of the completion ring (`SingleProducerSingleConsumerRing<ChannelCompletion>`).
    public let completionRingOffset: Int
    /// Offset of buffer 0; buffer `i` is at `bufferPoolOffset + i × bufferSize`.
    public let bufferPoolOffset: Int
    /// The whole channel, a multiple of the page size.
    public let byteCount: Int

    /// The layout for the given capacities (see the type's description for the defaults).
    ///
    /// Why 8 KiB buffers by default: every buffer a TCP stream fills or sends is one request and
    /// one completion, and that per-buffer work, not the copying, set the network core's bulk
    /// rate. With 2 KiB buffers one connection's echo moved about 1 KiB per completion (large
    /// received segments split at buffer and ring boundaries) and ran at 150–160 MiB/s; with
    /// 8 KiB, 4 KiB per completion and 190–220 MiB/s (docs/experiments.md, "Channel buffers").
    /// The count stays 256: it bounds how many datagrams, and how many connections' reads, a
    /// program can have in flight at once.
    public init(requestCapacity: UInt32 = 128, completionCapacity: UInt32 = 256,
                bufferCount: UInt32 = 256, bufferSize: UInt32 = 8192) {
        precondition(Self.isValid(requestCapacity: requestCapacity, completionCapacity: completionCapacity,
                                  bufferCount: bufferCount, bufferSize: bufferSize),
                     "a channel has rings of a power of two up to 65536 slots, and 1 to 65536 buffers of 1536 to 65536 bytes, a multiple of 64")
        self.requestCapacity = requestCapacity
        self.completionCapacity = completionCapacity
        self.bufferCount = bufferCount
        self.bufferSize = bufferSize
        requestRingOffset = 0
        let requestEnd = requestRingOffset
            + SingleProducerSingleConsumerRing<ChannelRequest>.byteCount(capacity: Int(requestCapacity))
        completionRingOffset = Page.roundUp(requestEnd)
        let completionEnd = completionRingOffset
            + SingleProducerSingleConsumerRing<ChannelCompletion>.byteCount(capacity: Int(completionCapacity))
        bufferPoolOffset = Page.roundUp(completionEnd)
        byteCount = Page.roundUp(bufferPoolOffset + Int(bufferCount) * Int(bufferSize))
    }

    /// Whether these capacities make a layout: rings of a power of two up to 65536 slots, 1 to
    /// 65536 buffers, each 1536 to 65536 bytes and a multiple of the cache line. The one
    /// statement of the rules, for the initializer (a bug) and for layouts read back from a
    /// recording (input).
    public static func isValid(requestCapacity: UInt32, completionCapacity: UInt32,
                               bufferCount: UInt32, bufferSize: UInt32) -> Bool {
        func isRingCapacity(_ value: UInt32) -> Bool { value >= 1 && value <= 1 << 16 && value & (value &- 1) == 0 }
        return isRingCapacity(requestCapacity) && isRingCapacity(completionCapacity)
            && bufferCount >= 1 && bufferCount <= 1 << 16
            && bufferSize >= 1536 && bufferSize <= 1 << 16 && bufferSize % UInt32(ChannelLayout.cacheLineSize) == 0
    }

    /// Offset of buffer `index` (which must be below `bufferCount`).
    public func bufferOffset(_ index: UInt32) -> Int {
        bufferPoolOffset + Int(index) * Int(bufferSize)
    }

    /// The bytes of network-core-private memory `ServerChannel` needs for this layout
    /// (`BufferOwnership`'s table, the queue of posted receive buffers, then — at
    /// `streamQueuesPrivateOffset` — the `StreamSendQueues`).
    public var serverPrivateByteCount: Int {
        streamQueuesPrivateOffset
            + StreamSendQueues.byteCount(bufferCount: bufferCount, connectionCapacity: ChannelLayout.connectionCapacity)
    }

    /// Where the `StreamSendQueues` start in the private memory (8-byte aligned).
    public var streamQueuesPrivateOffset: Int {
        (BufferOwnership.byteCount(bufferCount: bufferCount) + Int(bufferCount) * MemoryLayout<UInt32>.stride + 7) & ~7
    }

}
