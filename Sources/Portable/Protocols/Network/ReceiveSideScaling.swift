// Receive-side scaling: which receive queue a flow lands on (ContextMesh uses it to pick source ports whose replies come home).

/// An RSS indirection table: the low bits of a packet's hash index it, and the entry is the
/// receive queue (0 is the first, receiveq1 on virtio-net) — Microsoft "RSS Indirection
/// Table"; virtio 1.2 §5.1.6.5.7.1 (`indirection_table`, `indirection_table_mask`).
///
/// Stored inline (up to 128 entries, the smallest maximum a virtio-net device with
/// VIRTIO_NET_F_RSS may report, §5.1.4), so it can be copied to every core and looked up
/// without touching the heap.
public struct IndirectionTable: Sendable {
    /// The most entries a table holds.
    public static let maximumLength = 128

    private var entries = InlineArray<128, UInt16>(repeating: 0)
    /// The number of entries: a power of two from 1 to `maximumLength`, because the device
    /// indexes the table with `hash & (length - 1)` (§5.1.6.5.7.2: the length MUST be a power
    /// of two).
    public let length: Int

    /// A table of `length` entries spreading the hash space over queues 0..<`queueCount`
    /// round-robin: entry i is queue i % queueCount, so each queue owns every queueCount-th
    /// hash bucket and the queues' shares differ by at most one entry.
    ///
    /// nil unless `length` is a power of two up to `maximumLength` and `queueCount` is from 1
    /// to `length` (more queues than entries would leave some queues without traffic).
    public init?(length: Int = IndirectionTable.maximumLength, queueCount: Int) {
        guard length >= 1, length <= Self.maximumLength, length & (length - 1) == 0,
              queueCount >= 1, queueCount <= length else { return nil }
        self.length = length
        for index in 0..<length {
            entries[index] = UInt16(index % queueCount)
        }
    }

    /// `indirection_table_mask` of VIRTIO_NET_CTRL_MQ_RSS_CONFIG: `length - 1`.
    public var mask: UInt16 { UInt16(length - 1) }

    /// The queue of entry `index` (0..<length).
    public subscript(index: Int) -> UInt16 {
        precondition(index >= 0 && index < length, "indirection table index out of range")
        return entries[index]
    }

    /// Re-points entry `index` (0..<length) at `queue`, e.g. to move load off a busy queue.
    /// A method rather than a subscript setter: a public setter also gets a `_modify`
    /// coroutine, whose frame Embedded Swift may allocate on the heap.
    public mutating func setQueue(_ queue: UInt16, forEntry index: Int) {
        precondition(index >= 0 && index < length, "indirection table index out of range")
        entries[index] = queue
    }

    /// The queue a packet with RSS hash `hash` is placed on (§5.1.6.5.7.3: the device applies
    /// the mask to the hash and indexes the table with the result).
    @inline(__always)
    public func queue(forHash hash: UInt32) -> UInt16 {
        entries[Int(hash & UInt32(length - 1))]
    }

    /// Whether some entry names `queue` (if none does, no flow can land there).
    public func contains(queue: UInt16) -> Bool {
        for index in 0..<length where entries[index] == queue { return true }
        return false
    }

    /// Calls `body` with the `length` entries in order, e.g. to write them into
    /// VIRTIO_NET_CTRL_MQ_RSS_CONFIG (they are host-order `UInt16`s there).
    public func withUnsafeEntries<Result>(_ body: (UnsafeBufferPointer<UInt16>) -> Result) -> Result {
        let count = length
        return entries.span.withUnsafeBufferPointer { all in
            body(UnsafeBufferPointer(rebasing: all[0..<count]))
        }
    }
}

/// Receive-side scaling as the NIC does it (a Toeplitz hash of the received packet's header
/// fields, looked up in an indirection table), so that software can predict, and choose,
/// which receive queue — and thus which core — a flow's packets arrive on.
///
/// Direction matters: the NIC hashes *received* packets, in header order (source first). For
/// a connection we open, the packets we receive are the replies, whose source is the remote
/// endpoint and whose destination is us; so the tuple to hash is (remote address, local
/// address, remote port, local port), not our outgoing (local, remote, ...) tuple. With a
/// non-symmetric key, such as Microsoft's, the two directions usually hash to different queues.
public struct ReceiveSideScaling: Sendable {
    /// The hash function with the key the NIC was given.
    public var hash: ToeplitzHash
    /// The indirection table the NIC was given.
    public var table: IndirectionTable

    /// RSS with `table` and the hash `hash` (by default over the Microsoft key).
    public init(hash: ToeplitzHash = ToeplitzHash(), table: IndirectionTable) {
        self.hash = hash
        self.table = table
    }

    /// The queue a packet with RSS hash `hash` lands on.
    @inline(__always)
    public func queue(forHash hash: UInt32) -> UInt16 {
        table.queue(forHash: hash)
    }

    /// The queue a received TCP/IPv4 segment (or UDP/IPv4 datagram, if the NIC hashes UDP
    /// ports too) lands on, given its header fields: `source` is the sender, as in the IPv4
    /// header. Assumes the NIC hashes the 4-tuple (VIRTIO_NET_HASH_TYPE_TCPv4).
    public func queue(source: IPv4Address, destination: IPv4Address,
                      sourcePort: UInt16, destinationPort: UInt16) -> UInt16 {
        table.queue(forHash: hash.hash(source: source, destination: destination,
                                       sourcePort: sourcePort, destinationPort: destinationPort))
    }

    /// The queue of a received IPv4 packet that the NIC hashes by addresses only
    /// (VIRTIO_NET_HASH_TYPE_IPv4: protocols without ports, such as ICMP).
    public func queue(source: IPv4Address, destination: IPv4Address) -> UInt16 {
        table.queue(forHash: hash.hash(source: source, destination: destination))
    }
}
