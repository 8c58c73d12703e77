/// Gathers a received packet that the device spread over several receive buffers (VIRTIO_NET_F_MRG_RXBUF) into one contiguous frame.

/// One packet's pieces, copied in order into a scratch area: with VIRTIO_NET_F_MRG_RXBUF the
/// device writes a packet longer than one buffer (a coalesced TCP segment, GUEST_TSO4) into
/// `num_buffers` buffers, the header only in the first, and returns them as consecutive used
/// elements (virtio 1.2 §5.1.6.4, §5.1.6.4.2). The stack reads a frame as one piece, so it is
/// copied together here, once.
///
/// Bad input never overflows the scratch or hangs the receive path: a count of 0, a packet
/// larger than the scratch, or pieces that stop coming are refused (`begin`/`append` return
/// false) and the caller drops what it gathered and counts it.
public struct MergedReceiveBuffers {
    /// The scratch area and its size (the largest packet taken).
    public let scratch: UnsafeMutableRawPointer
    public let capacity: Int
    /// Bytes gathered so far.
    public private(set) var length = 0
    /// Buffers of the current packet still to come (0: not gathering).
    public private(set) var remaining = 0

    /// A gatherer over `capacity` bytes at `scratch` (allocated by the caller, never freed here).
    public init(scratch: UnsafeMutableRawPointer, capacity: Int) {
        self.scratch = scratch
        self.capacity = capacity
    }

    /// Whether a packet is being gathered (more buffers belong to it).
    public var isGathering: Bool { remaining > 0 }

    /// Starts a packet of `bufferCount` buffers with the first buffer's bytes after the header.
    /// False (nothing kept) for a count of 0 or bytes that do not fit.
    public mutating func begin(first piece: UnsafeRawBufferPointer, bufferCount: Int) -> Bool {
        length = 0
        remaining = 0
        guard bufferCount >= 1, piece.count <= capacity else { return false }
        if let base = piece.baseAddress { scratch.copyMemory(from: base, byteCount: piece.count) }
        length = piece.count
        remaining = bufferCount - 1
        return true
    }

    /// Adds the next buffer's bytes. False (and the packet abandoned) when they do not fit or
    /// no packet is being gathered.
    public mutating func append(_ piece: UnsafeRawBufferPointer) -> Bool {
        guard remaining > 0, piece.count <= capacity - length else {
            abandon()
            return false
        }
        if let base = piece.baseAddress { (scratch + length).copyMemory(from: base, byteCount: piece.count) }
        length += piece.count
        remaining -= 1
        return true
    }

    /// The whole packet, once its last buffer was appended (nil while buffers are missing).
    public var frame: UnsafeRawBufferPointer? {
        remaining == 0 && length > 0 ? UnsafeRawBufferPointer(start: scratch, count: length) : nil
    }

    /// Forgets the current packet.
    public mutating func abandon() {
        length = 0
        remaining = 0
    }
}
