// The ARP cache: a fixed number of IPv4-to-Ethernet mappings, allocated once, with resolution state and ages.

/// One mapping in the ARP cache, or a free slot.
public struct ARPCacheEntry: Equatable, Sendable {
    /// Where a slot stands in resolution.
    public enum State: Equatable, Sendable {
        /// The slot holds nothing.
        case free
        /// A request was sent and no answer has come yet; packets may wait for it.
        case incomplete
        /// The hardware address is known.
        case resolved
    }

    /// The slot's state.
    public var state: State
    /// The protocol address this entry maps.
    public var address: IPv4Address
    /// The hardware address (meaningful only when resolved).
    public var hardwareAddress: MACAddress
    /// When the entry was created or last confirmed by an ARP packet (monotonic nanoseconds);
    /// the age used for expiry and for choosing the oldest entry to evict.
    public var updatedAt: UInt64
    /// How many requests were sent for an incomplete entry.
    public var requestsSent: Int
    /// When an incomplete entry next needs a retry (or gives up).
    public var nextRequestAt: UInt64

    /// A free slot.
    public static let free = ARPCacheEntry(state: .free, address: .any, hardwareAddress: .zero,
                                           updatedAt: 0, requestsSent: 0, nextRequestAt: 0)
}

/// A bounded ARP cache — RFC 826 with the timeouts of RFC 1122 §2.3.2.1.
///
/// The entries live in storage allocated once by `init` and are only changed in place after
/// that, so no operation allocates. The storage lives as long as the stack (the network core's
/// lifetime); copies of an `ARPCache` share it, so only one copy may be used. Lookups are linear
/// scans, which for tens of entries is cheaper than hashing.
public struct ARPCache {
    /// Time between requests for an unanswered address (RFC 1122 §2.3.2.1 asks for at most one
    /// request per second per destination).
    public static let retryInterval: UInt64 = 1_000_000_000
    /// Requests sent before giving up on an address.
    public static let maximumRequests = 3
    /// How long a resolved entry is trusted without being refreshed (RFC 1122 §2.3.2.1: entries
    /// must time out; a minute is the customary value).
    public static let entryLifetime: UInt64 = 60_000_000_000

    private let entries: UnsafeMutablePointer<ARPCacheEntry>
    /// The number of slots.
    public let capacity: Int

    /// Allocates `capacity` free slots (at least one).
    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
        entries = UnsafeMutablePointer<ARPCacheEntry>.allocate(capacity: self.capacity)
        entries.initialize(repeating: .free, count: self.capacity)
    }

    /// The slot at `index` (`0..<capacity`).
    public func entry(at index: Int) -> ARPCacheEntry {
        precondition(index >= 0 && index < capacity, "ARPCache: slot index out of range")
        return entries[index]
    }

    /// The number of slots in use.
    public var count: Int {
        var used = 0
        for index in 0..<capacity where entries[index].state != .free { used += 1 }
        return used
    }

    /// The slot holding `address`, if any.
    public func index(of address: IPv4Address) -> Int? {
        for index in 0..<capacity where entries[index].state != .free && entries[index].address == address {
            return index
        }
        return nil
    }

    /// The entry for `address`, if any.
    public func entry(for address: IPv4Address) -> ARPCacheEntry? {
        guard let index = index(of: address) else { return nil }
        return entries[index]
    }

    /// The hardware address of `address` when it is resolved and younger than `entryLifetime`.
    public func hardwareAddress(for address: IPv4Address, now: UInt64) -> MACAddress? {
        guard let index = index(of: address) else { return nil }
        let entry = entries[index]
        guard entry.state == .resolved, now < entry.updatedAt.addingClamped(ARPCache.entryLifetime) else { return nil }
        return entry.hardwareAddress
    }

    /// RFC 826's merge step: when `address` is already in the table (resolved or awaiting an
    /// answer), records its hardware address and marks it fresh. Returns whether it was there.
    mutating func update(_ address: IPv4Address, hardwareAddress: MACAddress, now: UInt64) -> Bool {
        guard let index = index(of: address) else { return false }
        entries[index].state = .resolved
        entries[index].hardwareAddress = hardwareAddress
        entries[index].updatedAt = now
        entries[index].requestsSent = 0
        return true
    }

    /// Adds a resolved entry for `address` (which must not be present), evicting the oldest
    /// entry when full. Returns the address of an evicted incomplete entry, whose waiting
    /// packets the caller must drop.
    mutating func insert(_ address: IPv4Address, hardwareAddress: MACAddress, now: UInt64) -> IPv4Address? {
        let (index, evicted) = claimSlot()
        entries[index] = ARPCacheEntry(state: .resolved, address: address, hardwareAddress: hardwareAddress,
                                       updatedAt: now, requestsSent: 0, nextRequestAt: 0)
        return evicted
    }

    /// Starts resolving `address`: turns its expired entry, or a new one, into an incomplete entry
    /// with one request counted (the caller sends it). Returns the address of an evicted
    /// incomplete entry, as `insert` does.
    mutating func beginResolution(of address: IPv4Address, now: UInt64) -> IPv4Address? {
        var evicted: IPv4Address? = nil
        let index: Int
        if let existing = self.index(of: address) {
            index = existing
        } else {
            (index, evicted) = claimSlot()
        }
        entries[index] = ARPCacheEntry(state: .incomplete, address: address, hardwareAddress: .zero,
                                       updatedAt: now, requestsSent: 1,
                                       nextRequestAt: now.addingClamped(ARPCache.retryInterval))
        return evicted
    }

    /// Records one more request for the incomplete entry at `index`.
    mutating func recordRequest(at index: Int, now: UInt64) {
        precondition(index >= 0 && index < capacity, "ARPCache: slot index out of range")
        entries[index].requestsSent += 1
        entries[index].nextRequestAt = now.addingClamped(ARPCache.retryInterval)
    }

    /// Frees the slot at `index`.
    mutating func remove(at index: Int) {
        precondition(index >= 0 && index < capacity, "ARPCache: slot index out of range")
        entries[index] = .free
    }

    /// A free slot, or else the slot of the oldest entry (smallest `updatedAt`), freed. The
    /// address of an evicted incomplete entry is returned for its packets to be dropped.
    private mutating func claimSlot() -> (index: Int, evictedIncomplete: IPv4Address?) {
        var oldest = 0
        for index in 0..<capacity {
            if entries[index].state == .free { return (index, nil) }
            if entries[index].updatedAt < entries[oldest].updatedAt { oldest = index }
        }
        let victim = entries[oldest]
        entries[oldest] = .free
        return (oldest, victim.state == .incomplete ? victim.address : nil)
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows (deadlines far in the future).
    @inline(__always)
    func addingClamped(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
