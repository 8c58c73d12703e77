// Outgoing frames waiting for ARP resolution of their next hop: a fixed number of frame-sized slots allocated once.

/// Bookkeeping for one slot of the pending queue.
struct PendingPacket {
    /// Whether the slot holds a frame.
    var inUse: Bool
    /// The IPv4 address whose hardware address the frame waits for.
    var nextHop: IPv4Address
    /// The frame length; its destination MAC is filled in when it leaves.
    var length: Int
    /// When it was queued, to drop it if resolution never finishes.
    var enqueuedAt: UInt64
    /// Queueing order, so that frames for one destination leave in the order they were sent.
    var sequence: UInt64

    static let empty = PendingPacket(inUse: false, nextHop: .any, length: 0, enqueuedAt: 0, sequence: 0)
}

/// A small bounded queue of whole Ethernet frames awaiting ARP (RFC 1122 §2.3.2.2 asks to keep
/// at least one packet per unresolved address; we keep a few across all of them). The slots
/// are allocated once by `init`; copies share them.
struct PendingQueue {
    /// How long a frame may wait before it is dropped: the whole retry schedule plus a second.
    static let timeout: UInt64 = UInt64(ARPCache.maximumRequests) * ARPCache.retryInterval + 1_000_000_000

    private let slots: UnsafeMutablePointer<PendingPacket>
    private let frames: UnsafeMutableRawPointer
    /// The number of slots.
    let capacity: Int
    /// The number of slots in use.
    private(set) var count = 0
    private var nextSequence: UInt64 = 0

    /// Allocates `capacity` slots (at least one) of one maximum-size frame each.
    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        slots = UnsafeMutablePointer<PendingPacket>.allocate(capacity: self.capacity)
        slots.initialize(repeating: .empty, count: self.capacity)
        frames = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * EthernetHeader.maximumFrameSize,
                                                  alignment: 16)
    }

    /// The slot at `index`.
    func slot(at index: Int) -> PendingPacket {
        precondition(index >= 0 && index < capacity, "PendingQueue: slot index out of range")
        return slots[index]
    }

    /// Lets `build` write a frame into a free slot; returns false (and keeps nothing) when every
    /// slot is taken or `build` returns 0.
    mutating func enqueue(nextHop: IPv4Address, now: UInt64, build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard count < capacity else { return false }
        for index in 0..<capacity where !slots[index].inUse {
            let buffer = UnsafeMutableRawBufferPointer(start: frames + index * EthernetHeader.maximumFrameSize,
                                                       count: EthernetHeader.maximumFrameSize)
            let length = build(buffer)
            guard length > 0, length <= EthernetHeader.maximumFrameSize else { return false }
            slots[index] = PendingPacket(inUse: true, nextHop: nextHop, length: length, enqueuedAt: now,
                                         sequence: nextSequence)
            nextSequence &+= 1
            count += 1
            return true
        }
        return false
    }

    /// The slot of the earliest queued frame for `nextHop`, if any.
    func oldest(for nextHop: IPv4Address) -> Int? {
        guard count > 0 else { return nil }
        var found: Int? = nil
        for index in 0..<capacity where slots[index].inUse && slots[index].nextHop == nextHop {
            if let best = found, slots[best].sequence <= slots[index].sequence { continue }
            found = index
        }
        return found
    }

    /// The frame stored in the used slot `index`.
    func frame(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < capacity && slots[index].inUse, "PendingQueue: slot not in use")
        return UnsafeRawBufferPointer(start: frames + index * EthernetHeader.maximumFrameSize,
                                      count: slots[index].length)
    }

    /// Frees slot `index`.
    mutating func release(_ index: Int) {
        precondition(index >= 0 && index < capacity && slots[index].inUse, "PendingQueue: slot not in use")
        slots[index] = .empty
        count -= 1
    }

    /// Frees every slot waiting for `nextHop` and returns how many there were.
    mutating func removeAll(for nextHop: IPv4Address) -> Int {
        guard count > 0 else { return 0 }
        var removed = 0
        for index in 0..<capacity where slots[index].inUse && slots[index].nextHop == nextHop {
            release(index)
            removed += 1
        }
        return removed
    }
}
