// The network core's TCP demultiplexer: a fixed set of connection slots found by four-tuple, listeners, and their bookkeeping.
import InternetAddress

import RawBytes

/// A connection's number in the table: the slot index, handed to the owner (a program, through
/// its channel). It is never reused while the owner holds it (see `TCPConnectionTable`).
public typealias TCPConnectionID = UInt16

/// Why a table operation was refused.
public enum TCPTableError: Error, Equatable, Sendable {
    /// Every slot is taken and no released TIME-WAIT connection can be reclaimed.
    case tableFull
    /// The listener list is full.
    case tooManyListeners
    /// This owner already listens on this port.
    case alreadyListening
    /// Port 0, or a remote address/port of 0: not a usable endpoint.
    case invalidEndpoint
    /// Every ephemeral port is in use towards that remote endpoint.
    case noEphemeralPort
}

/// What `receive` did with a segment.
public enum TCPReceiveOutcome: Equatable, Sendable {
    /// Handed to the connection `id` (an existing one, or one created by this SYN or cookie ACK).
    case delivered(TCPConnectionID)
    /// Answered with a SYN cookie; no state kept.
    case synCookieSent
    /// Dropped (and counted); some reasons also sent a RST (see `TCPDropReason`).
    case dropped(TCPDropReason)
}

/// What happened to a connection since the network core last took its events.
public struct TCPConnectionEvents: OptionSet, Equatable, Sendable {
    /// The bits.
    public var rawValue: UInt8
    /// Creates events from bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A passive connection reached ESTABLISHED: the ID is new to its owner (who listened).
    public static let accepted = TCPConnectionEvents(rawValue: 0x01)
    /// An active connection (from `connect`) reached ESTABLISHED.
    public static let connected = TCPConnectionEvents(rawValue: 0x02)
    /// New received bytes are waiting (`readableCount` grew).
    public static let readable = TCPConnectionEvents(rawValue: 0x04)
    /// Send buffer space was freed (`writableCount` grew), or bytes were handed back (`takeReturnedBytes`).
    public static let writable = TCPConnectionEvents(rawValue: 0x08)
    /// The peer's FIN arrived: after the readable bytes, no more data comes.
    public static let peerFinished = TCPConnectionEvents(rawValue: 0x10)
    /// The connection reached CLOSED; `error(of:)` says why when it was not a clean close.
    /// The ID stays valid until the owner calls `release`.
    public static let closed = TCPConnectionEvents(rawValue: 0x20)
}

/// One connection's pending events, as taken by `nextEvent()`.
public struct TCPConnectionEvent: Equatable, Sendable {
    /// The connection.
    public var id: TCPConnectionID
    /// What happened (several events may be merged).
    public var events: TCPConnectionEvents
}

/// The network core's TCP: every connection and listener of one IPv4 address, found by four-tuple.
///
/// **Memory.** `capacity` slots, the hash buckets, the free list and the listener lists are
/// allocated once, in `init`. A connection allocates its two small `ByteRing` objects when its
/// slot is filled — by a SYN to a listener below its half-open bound, a valid cookie ACK, or
/// `connect` — and frees them when the slot is freed. Their bytes come from the shared
/// `bufferPool` only while they hold some, so an idle or TIME-WAIT connection holds no buffer
/// memory, and the pool's size, not the slot count, bounds what all buffers hold together
/// (a refused growth drops the segment, counted in `bufferRefusals`). Every flood segment
/// (SYNs answered with cookies, RSTs, drops) allocates nothing. (`init` also runs one
/// throw-away connection to learn which options our SYN-ACKs carry.)
///
/// **Slot lifecycle.** A slot is allocated until its TCB is CLOSED *and* its owner released
/// the ID, so an ID never changes meaning under a program. A CLOSED connection leaves the
/// four-tuple hash at once (so the tuple can be used again) but keeps its slot for the owner to
/// read what is left and see `error`. A released connection finishes closing on its own
/// (FIN-WAIT, LAST-ACK, TIME-WAIT answering retransmitted FINs) and is freed when CLOSED. When
/// no slot is free, the released TIME-WAIT connection that entered TIME-WAIT first is ended
/// early (`timeWaitReclaimed`). Passive connections that die before ESTABLISHED were never
/// shown to an owner and are freed at once.
///
/// **Full table.** A SYN that needs a slot when none is free gets no answer (counted as
/// `tableFull`): a RST would make the client give up, silence makes it retry its SYN a second
/// or more later, when a slot may be free — what a full Linux accept queue does.
///
/// **Events.** The network core takes `nextEvent()` each loop: a FIFO of connections with
/// pending events, threaded through the slots, in which each slot appears at most once (events
/// arriving while it is queued are merged), so it cannot overflow. Events are edges (accepted,
/// connected, new readable bytes, freed send space, peer FIN, closed); the level values
/// (`readableCount`, `state`, …) are read from the table. `forEachConnection` and
/// `nextConnection(after:)` scan all connections visible to owners.
///
/// The table is a value holding references (each connection's `ByteRing`s): keep exactly one
/// copy, owned by the network core, and mutate it in place.
public struct TCPConnectionTable {
    /// The number of slots.
    public let capacity: Int
    /// Our IPv4 address (host order): every connection's local address.
    public let localAddress: IPv4Address
    /// The tunables every connection is created with.
    public let configuration: TCPConnectionConfiguration
    /// The most SYN-RECEIVED connections one listening port may have; more SYNs get cookies.
    public let halfOpenLimitPerListener: Int
    /// Whether SYNs beyond the half-open bound are answered with cookies (else dropped).
    public let synCookiesEnabled: Bool
    /// Whether the ACKs that received segments and window announcements owe wait for
    /// `transmitDeferred`, the pass's last transmit, instead of leaving at once: then one
    /// segment carries the ACK of an arrival, the window its delivery reopened and the data
    /// the program queued meanwhile, where three went before (a bulk echo sent a pure ACK on
    /// arrival, the echo data, then a window update). A network context sets it and calls
    /// `transmitDeferred` at the end of every pass; the ACK waits microseconds, not a timer.
    public var holdsAcknowledgmentsForThePass = false

    /// The connection slots; a slot's index is its ID.
    var slots: [TCPConnectionSlot]
    /// The slots' connections, in place (see `TCPConnectionStorage` for why not in `slots`).
    let storage: TCPConnectionStorage
    /// Where every connection's send and receive bytes live (`ByteRing`, `BufferPool`).
    public let bufferPool: BufferPool
    /// Slot `i`'s connection is `connections[i]` while `slots[i].isUsed`.
    var connections: UnsafeMutablePointer<TCPConnection> { storage.connections }
    /// Indices of empty slots (a stack).
    var freeSlots: [UInt16]
    /// Hash chain heads: slot index or -1. A power-of-two count at least `capacity`.
    var buckets: [Int32]
    /// `buckets.count - 1`.
    let bucketMask: Int
    /// The hash key of the buckets: keyed, so a peer cannot aim many tuples at one chain.
    let bucketKey: SipHashKey
    /// RFC 6528 ISNs for every connection.
    let initialSequenceNumbers: InitialSequenceNumberGenerator
    /// RFC 4987 cookies.
    let synCookies: SynCookieGenerator
    /// What our SYN-ACKs carry (learnt in `init`): the cookie SYN-ACK must look the same.
    let synchronizeAnswer: TCPSynchronizeAnswer
    /// The key of the RFC 6056 ephemeral port offset.
    let portKey: SipHashKey
    /// RFC 6056 §3.3.3's `next_ephemeral`: advanced by every active open.
    var ephemeralCounter: UInt16 = 0

    /// Listening (port, owner) pairs; `port == 0` marks an empty entry.
    var listeners: [TCPListener]
    /// One entry per port somebody listens on, with its half-open count; `port == 0` is empty.
    var listeningPorts: [TCPListeningPort]
    /// Stamps listeners as chosen, for round-robin.
    var roundRobinClock: UInt64 = 0
    /// When a cookie was last sent: cookie ACKs are checked only shortly after (a guessed
    /// cookie is then worthless the rest of the time).
    var lastCookieSent: UInt64?

    /// Slots with bytes queued by `sendDeferred` and not yet offered to the windows, or whose
    /// segments a full NIC queue refused, in the order they came (each once:
    /// `TCPConnectionSlot.transmitDeferred`).
    var deferredSlots: [UInt16] = []

    /// The timing wheel (`TCPConnectionTable+Timers`): each slot's first connection, or -1.
    var wheel = [Int32](repeating: -1, count: TCPConnectionTable.wheelSlotCount)
    /// The last tick the wheel processed.
    var wheelTick: UInt64 = 0
    /// The connections taken from the wheel in one poll (allocated once, at `capacity`).
    var wheelScratch: [Int32] = []
    var pollsSinceSweep = 0
    /// How many connections the last `poll` looked at (the wheel's due slots; the sweep aside).
    public internal(set) var lastPollVisits = 0

    /// The event FIFO's first and last slot, or -1.
    var eventHead: Int32 = -1
    var eventTail: Int32 = -1
    /// The TIME-WAIT list's first and last slot, or -1: every connection in TIME-WAIT, in the
    /// order it entered (threaded through `TCPConnectionSlot.timeWaitNext`/`timeWaitPrevious`),
    /// so a full table finds the oldest to reclaim without scanning every slot.
    var timeWaitHead: Int32 = -1
    var timeWaitTail: Int32 = -1

    /// The table's own counters (connection statistics are added by `counters`).
    var tableCounters = TCPCounters()
    /// The statistics of connections whose slots were freed.
    var finishedStatistics = TCPConnectionStatistics()

    /// The first ephemeral port — RFC 6335 §6 (49152-65535).
    public static let firstEphemeralPort: UInt16 = 49152

    /// Creates an empty table with `capacity` slots (1 to 65535) and room for `listenerCapacity`
    /// listening (port, owner) pairs. `secretKey` must come from a good random source at boot;
    /// ISNs, cookies, the hash and ephemeral ports use keys derived from it. Every connection's
    /// buffers grow from `bufferPool` (nil: a pool of its own, up to 64 MiB).
    public init(capacity: Int, localAddress: IPv4Address, secretKey: SipHashKey,
                configuration: TCPConnectionConfiguration = TCPConnectionConfiguration(),
                halfOpenLimitPerListener: Int = 64, listenerCapacity: Int = 32, synCookiesEnabled: Bool = true,
                bufferPool: BufferPool? = nil) {
        precondition(capacity >= 1 && capacity <= 0xFFFF, "table capacity must be 1...65535")
        self.capacity = capacity
        self.bufferPool = bufferPool ?? BufferPool(
            byteCount: min(capacity * (configuration.sendBufferCapacity + configuration.receiveBufferCapacity), 64 << 20),
            largestBlock: TCPConnection.largestBlock(for: configuration))
        self.localAddress = localAddress
        self.configuration = configuration
        self.halfOpenLimitPerListener = max(halfOpenLimitPerListener, 0)
        self.synCookiesEnabled = synCookiesEnabled
        slots = [TCPConnectionSlot](repeating: TCPConnectionSlot(), count: capacity)
        storage = TCPConnectionStorage(capacity: capacity)
        freeSlots = []
        freeSlots.reserveCapacity(capacity)
        // Each slot is listed once, but a refused one is listed again before the walk drops
        // the entries it consumed: one more, so the list never grows on the packet path.
        deferredSlots.reserveCapacity(capacity + 1)
        wheelScratch.reserveCapacity(capacity)
        // Pushed in reverse so the first IDs handed out are 0, 1, 2, ...
        var index = capacity - 1
        while index >= 0 { freeSlots.append(UInt16(index)); index -= 1 }
        var bucketCount = 1
        while bucketCount < capacity { bucketCount <<= 1 }
        buckets = [Int32](repeating: -1, count: bucketCount)
        bucketMask = bucketCount - 1
        bucketKey = secretKey.derived(label: 0x6275_636B_6574_7331)   // "buckets1"
        portKey = secretKey.derived(label: 0x706F_7274_7331_0000)     // "ports1"
        initialSequenceNumbers = InitialSequenceNumberGenerator(secretKey: secretKey)
        synCookies = SynCookieGenerator(secretKey: secretKey)
        listeners = [TCPListener](repeating: TCPListener(), count: max(listenerCapacity, 1))
        listeningPorts = [TCPListeningPort](repeating: TCPListeningPort(), count: max(listenerCapacity, 1))
        synchronizeAnswer = TCPSynchronizeAnswer.learn(configuration: configuration, localAddress: localAddress,
                                                       bufferPool: self.bufferPool)
    }

    // MARK: - Counters and metrics

    /// The counters, with the statistics of live and finished connections summed in.
    public var counters: TCPCounters {
        var result = tableCounters
        result.connections = finishedStatistics
        for index in slots.indices where slots[index].isUsed {
            result.connections.add(connections[index].statistics)
        }
        return result
    }

    /// How many connections are in each state (every allocated slot, released or not).
    public func connectionCounts() -> TCPConnectionCounts {
        var counts = TCPConnectionCounts()
        for index in slots.indices where slots[index].isUsed {
            counts[connections[index].state] += 1
            if slots[index].isReleased { counts.released += 1 }
        }
        return counts
    }

    /// What one slot costs outside the buffer pool, in bytes: its connection record and slot,
    /// the two `ByteRing` objects of a filled slot (with their heap block headers), and its
    /// share of the hash buckets, free list, deferred list and wheel scratch. The kernel
    /// divides memory by it to size the table.
    public static var bytesPerSlot: Int {
        MemoryLayout<TCPConnection>.stride + MemoryLayout<TCPConnectionSlot>.stride + 2 * 96
            + 2 * MemoryLayout<Int32>.stride + 3 * MemoryLayout<UInt16>.stride + MemoryLayout<Int32>.stride
    }

    /// The number of allocated slots.
    public var allocatedCount: Int { capacity - freeSlots.count }

    // MARK: - Four-tuple hash (chained through the slots; no allocation)

    /// The bucket of a four-tuple. Our address is the same for every connection, so only the
    /// local port and the remote endpoint are hashed.
    @inline(__always)
    func bucket(localPort: UInt16, remote: TCPEndpoint) -> Int {
        var word = UInt64(remote.address.rawValue) | UInt64(localPort) << 32 | UInt64(remote.port) << 48
        let hash = withUnsafeBytes(of: &word) { raw in
            SipHash24.hash(ByteReader(start: raw.baseAddress!, count: 8), key: bucketKey)
        }
        return Int(truncatingIfNeeded: hash) & bucketMask
    }

    /// The slot of the connection with this four-tuple, if any (CLOSED connections are not hashed).
    @inline(__always)
    func lookup(localPort: UInt16, remote: TCPEndpoint) -> Int? {
        var index = buckets[bucket(localPort: localPort, remote: remote)]
        while index >= 0 {
            let slot = Int(index)
            // The slot's own copy of the four-tuple: reading it does not touch (or copy) the TCB.
            if slots[slot].isUsed && slots[slot].localPort == localPort && slots[slot].remote == remote {
                return slot
            }
            index = slots[slot].bucketNext
        }
        return nil
    }

    mutating func linkHash(_ index: Int) {
        guard !slots[index].isHashed, slots[index].isUsed else { return }
        let head = bucket(localPort: slots[index].localPort, remote: slots[index].remote)
        slots[index].bucketNext = buckets[head]
        buckets[head] = Int32(index)
        slots[index].isHashed = true
    }

    mutating func unlinkHash(_ index: Int) {
        guard slots[index].isHashed, slots[index].isUsed else { return }
        let head = bucket(localPort: slots[index].localPort, remote: slots[index].remote)
        if buckets[head] == Int32(index) {
            buckets[head] = slots[index].bucketNext
        } else {
            var previous = Int(buckets[head])
            while previous >= 0 && slots[previous].bucketNext != Int32(index) { previous = Int(slots[previous].bucketNext) }
            if previous >= 0 { slots[previous].bucketNext = slots[index].bucketNext }
        }
        slots[index].bucketNext = -1
        slots[index].isHashed = false
    }

    // MARK: - Slots

    /// A free slot, reclaiming the oldest released TIME-WAIT connection when there is none.
    mutating func allocateSlot() -> Int? {
        if let free = freeSlots.popLast() { return Int(free) }
        // Of all TIME-WAIT connections, the one that entered it first has waited longest for
        // stray segments to die out (RFC 9293 §3.4.2): ending it early costs the least. Only
        // released ones qualify: an owner's ID must stay valid. The list is in entry order, so
        // the walk stops at the first released one (unreleased ones are rare: an owner holds
        // an ID it no longer uses).
        var index = timeWaitHead
        while index >= 0 && !slots[Int(index)].isReleased { index = slots[Int(index)].timeWaitNext }
        guard index >= 0 else { return nil }
        tableCounters.timeWaitReclaimed &+= 1
        freeSlot(Int(index))
        return freeSlots.popLast().map { Int($0) }
    }

    /// Appends slot `index` to the TIME-WAIT list (it just entered TIME-WAIT).
    mutating func linkTimeWait(_ index: Int) {
        slots[index].isInTimeWaitList = true
        slots[index].timeWaitPrevious = timeWaitTail
        slots[index].timeWaitNext = -1
        if timeWaitTail >= 0 { slots[Int(timeWaitTail)].timeWaitNext = Int32(index) } else { timeWaitHead = Int32(index) }
        timeWaitTail = Int32(index)
    }

    /// Takes slot `index` out of the TIME-WAIT list, if it is in it.
    mutating func unlinkTimeWait(_ index: Int) {
        guard slots[index].isInTimeWaitList else { return }
        let previous = slots[index].timeWaitPrevious
        let next = slots[index].timeWaitNext
        if previous >= 0 { slots[Int(previous)].timeWaitNext = next } else { timeWaitHead = next }
        if next >= 0 { slots[Int(next)].timeWaitPrevious = previous } else { timeWaitTail = previous }
        slots[index].timeWaitPrevious = -1
        slots[index].timeWaitNext = -1
        slots[index].isInTimeWaitList = false
    }

    /// Empties a slot: its statistics go to the finished sum, it leaves the hash, the event
    /// FIFO and the half-open count, and its buffers are freed with the connection.
    mutating func freeSlot(_ index: Int) {
        guard slots[index].isUsed else { return }
        finishedStatistics.add(connections[index].statistics)
        unlinkTimeWait(index)
        unlinkHash(index)
        unqueueEvents(index)
        leaveHalfOpen(index)
        unlinkTimer(index)
        storage.remove(at: index)
        slots[index] = TCPConnectionSlot()
        freeSlots.append(UInt16(index))
    }

    /// Fills slot `index` with a new CLOSED connection to `remote` from `localPort`.
    mutating func fillSlot(_ index: Int, localPort: UInt16, remote: TCPEndpoint, owner: Int, isPassive: Bool,
                           initialSequenceNumbers generator: InitialSequenceNumberGenerator) {
        var slot = TCPConnectionSlot()
        slot.owner = owner
        slot.isPassive = isPassive
        slot.isAnnounced = !isPassive
        slot.isUsed = true
        slot.localPort = localPort
        slot.remote = remote
        slots[index] = slot
        storage.store(TCPConnection(local: TCPEndpoint(address: localAddress, port: localPort), remote: remote,
                                    initialSequenceNumbers: generator, configuration: configuration,
                                    bufferPool: bufferPool), at: index)
        linkHash(index)
    }

    /// The slot of `id` when its owner may use it: allocated, shown to the owner, not released.
    @inline(__always)
    func ownedSlot(_ id: TCPConnectionID) -> Int? {
        let index = Int(id)
        guard index < capacity, slots[index].isUsed, slots[index].isAnnounced, !slots[index].isReleased else { return nil }
        return index
    }

    /// The level values compared before and after an operation to find edge events.
    @inline(__always)
    func snapshot(_ index: Int) -> TCPSlotSnapshot {
        guard slots[index].isUsed else { return TCPSlotSnapshot(readable: 0, writable: 0, returned: 0) }
        return TCPSlotSnapshot(readable: connections[index].readableCount, writable: connections[index].writableCount,
                               returned: connections[index].sendBuffer.returnedCount)
    }

    /// After anything that may have changed slot `index`'s connection: keeps the hash, the
    /// half-open count and the timestamps in step with its state, raises events, resets data
    /// nobody will read, and frees the slot when it is done.
    mutating func settle<Output: TCPSegmentTransmitter>(_ index: Int, before: TCPSlotSnapshot, now: UInt64, output: inout Output) {
        // Every read below goes through `connections[index]` in place: binding the TCB
        // to a `let` would copy the whole structure (and retain its buffers) on every segment.
        guard slots[index].isUsed else { return }
        if connections[index].transmitBlocked || connections[index].acknowledgmentHeld {
            // The NIC refused a segment (backpressure: try again on the next pass), or an ACK
            // waits for the pass's last transmit (`holdsAcknowledgmentsForThePass`).
            connections[index].transmitBlocked = false
            connections[index].acknowledgmentHeld = false
            deferTransmit(index)
        }
        let state = connections[index].state
        if state != .synchronizeReceived { leaveHalfOpen(index) }
        if state == .timeWait {
            if !slots[index].isInTimeWaitList { linkTimeWait(index) }
        } else {
            unlinkTimeWait(index)
        }
        if state == .finishWait2 {
            if slots[index].finishWait2Since == nil { slots[index].finishWait2Since = now }
        } else {
            slots[index].finishWait2Since = nil
        }

        if !slots[index].hasEstablished && state.hasEstablished {
            slots[index].hasEstablished = true
            if slots[index].isPassive {
                guard handOver(index, now: now, output: &output) else { return }
            } else {
                post(.connected, to: index)
            }
        }

        if slots[index].isReleased {
            // Data arriving for a connection nobody will read: RFC 9293 §3.10.4 / RFC 2525
            // §2.17 — reset rather than acknowledge bytes that are thrown away.
            if connections[index].readableCount > 0, connections[index].state != .closed {
                connections[index].abort(output: &output)
            }
        } else if slots[index].isAnnounced {
            // Before ESTABLISHED there is nothing to read and `connected` says "writable".
            if slots[index].hasEstablished {
                if connections[index].readableCount > before.readable { post(.readable, to: index) }
                // Also when send space did not grow but bytes were handed back (after a
                // shutdown the connection takes no more, yet its lent bytes still come back).
                if connections[index].writableCount > before.writable
                    || connections[index].sendBuffer.returnedCount > before.returned { post(.writable, to: index) }
            }
            if connections[index].peerFinished && !slots[index].peerFinishAnnounced {
                slots[index].peerFinishAnnounced = true
                post(.peerFinished, to: index)
            }
            if connections[index].state == .closed && !slots[index].closeAnnounced {
                slots[index].closeAnnounced = true
                post(.closed, to: index)
            }
        }

        if slots[index].isUsed && connections[index].state == .closed {
            unlinkHash(index)
            if slots[index].isReleased || !slots[index].isAnnounced { freeSlot(index) }
        }
        // Whatever changed, the connection's next timer may have: back into the wheel.
        if slots[index].isUsed { scheduleTimer(index) }
    }

    /// A passive connection just reached ESTABLISHED: shows it to its owner (`accepted`). If
    /// the owner stopped listening on the port meanwhile, another member of the group takes
    /// it; with nobody listening any more it is reset. Returns whether the slot is still live.
    mutating func handOver<Output: TCPSegmentTransmitter>(_ index: Int, now: UInt64, output: inout Output) -> Bool {
        guard slots[index].isUsed else { return false }
        let port = slots[index].localPort
        if !isListening(port: port, owner: slots[index].owner) {
            guard let owner = chooseOwner(port: port) else {
                connections[index].abort(output: &output)
                freeSlot(index)
                return false
            }
            slots[index].owner = owner
        }
        slots[index].isAnnounced = true
        tableCounters.passiveOpens &+= 1
        post(.accepted, to: index)
        return true
    }

    /// Stops counting slot `index` as half-open.
    mutating func leaveHalfOpen(_ index: Int) {
        guard slots[index].countsAsHalfOpen else { return }
        slots[index].countsAsHalfOpen = false
        if slots[index].isUsed, let entry = listeningPortIndex(slots[index].localPort) {
            listeningPorts[entry].halfOpen -= 1
        }
    }

    // MARK: - Events (a FIFO threaded through the slots: each slot at most once)

    mutating func post(_ events: TCPConnectionEvents, to index: Int) {
        slots[index].pendingEvents.formUnion(events)
        guard !slots[index].isQueued else { return }
        slots[index].isQueued = true
        slots[index].eventPrevious = eventTail
        slots[index].eventNext = -1
        if eventTail >= 0 { slots[Int(eventTail)].eventNext = Int32(index) } else { eventHead = Int32(index) }
        eventTail = Int32(index)
    }

    mutating func unqueueEvents(_ index: Int) {
        slots[index].pendingEvents = []
        guard slots[index].isQueued else { return }
        let previous = slots[index].eventPrevious, next = slots[index].eventNext
        if previous >= 0 { slots[Int(previous)].eventNext = next } else { eventHead = next }
        if next >= 0 { slots[Int(next)].eventPrevious = previous } else { eventTail = previous }
        slots[index].isQueued = false
        slots[index].eventPrevious = -1
        slots[index].eventNext = -1
    }

    /// Takes the oldest connection with pending events, or `nil` when there is none. Events of
    /// a connection are merged while it waits, so the FIFO holds at most `capacity` entries.
    public mutating func nextEvent() -> TCPConnectionEvent? {
        guard eventHead >= 0 else { return nil }
        let index = Int(eventHead)
        let events = slots[index].pendingEvents
        unqueueEvents(index)
        return TCPConnectionEvent(id: TCPConnectionID(index), events: events)
    }

    /// Whether any connection has pending events.
    public var hasEvents: Bool { eventHead >= 0 }
}

/// One slot: a connection (or nothing) and what the table knows about it.
struct TCPConnectionSlot {
    /// Whether the slot holds a connection (then it is the table's `connections[index]`).
    var isUsed = false
    /// The connection's local port and peer, kept here for the hash lookup.
    var localPort: UInt16 = 0
    var remote = TCPEndpoint(address: .any, port: 0)
    /// The program (channel) number the connection belongs to.
    var owner = 0
    /// Created by a SYN to a listener (else by `connect`).
    var isPassive = false
    /// The owner knows the ID: from `connect`, or since the `accepted` event.
    var isAnnounced = false
    /// The owner is done with the ID.
    var isReleased = false
    /// The connection has been ESTABLISHED (or later).
    var hasEstablished = false
    var peerFinishAnnounced = false
    var closeAnnounced = false
    /// Counted in its listening port's half-open number.
    var countsAsHalfOpen = false
    /// In `deferredSlots`: queued bytes, or segments a full NIC queue refused, wait for
    /// `transmitDeferred`.
    var transmitDeferred = false
    /// The timing wheel slot the connection is in (-1: none), and its neighbours there.
    var wheelSlot: Int16 = -1
    var wheelNext: Int32 = -1
    var wheelPrevious: Int32 = -1
    /// In the four-tuple hash.
    var isHashed = false
    /// The next slot in the same hash chain, or -1.
    var bucketNext: Int32 = -1
    /// In the table's TIME-WAIT list (in entry order, for reclaiming the oldest), with these
    /// neighbours there.
    var isInTimeWaitList = false
    var timeWaitNext: Int32 = -1
    var timeWaitPrevious: Int32 = -1
    /// When the table first saw it in FIN-WAIT-2 (released connections time out there).
    var finishWait2Since: UInt64?
    /// Events not yet taken, and the slot's links in the event FIFO.
    var pendingEvents: TCPConnectionEvents = []
    var isQueued = false
    var eventPrevious: Int32 = -1
    var eventNext: Int32 = -1
}

/// Readable, writable and handed-back byte counts before an operation.
struct TCPSlotSnapshot {
    var readable: Int
    var writable: Int
    var returned: Int
}

/// One owner listening on one port.
struct TCPListener {
    /// 0 for an empty entry.
    var port: UInt16 = 0
    var owner = 0
    /// When it was last given a connection (round-robin takes the least recent).
    var lastChosen: UInt64 = 0
}

/// A port somebody listens on, with its half-open connections.
struct TCPListeningPort {
    /// 0 for an empty entry.
    var port: UInt16 = 0
    var halfOpen = 0
}

extension TCPState {
    /// Whether a connection in this state has completed its handshake.
    var hasEstablished: Bool {
        switch self {
        case .closed, .listen, .synchronizeSent, .synchronizeReceived: return false
        default: return true
        }
    }
}

/// What a SYN-ACK from one of our connections carries, so that a cookie SYN-ACK (sent by the
/// table without a connection) says the same and the connection later rebuilt from the cookie
/// agrees with it.
struct TCPSynchronizeAnswer {
    /// The window of the SYN-ACK (never scaled — RFC 7323 §2.2).
    var window: UInt16
    /// The MSS we announce.
    var maximumSegmentSize: UInt16?
    /// Our shift count, sent only when the peer's SYN offered window scaling (RFC 7323 §1.3).
    var windowScale: UInt8?

    /// Asks a throw-away connection in LISTEN what it answers to a SYN offering MSS and window
    /// scaling, instead of duplicating the connection's rules here. Run once, in the table's
    /// `init` (it allocates the connection's buffers once).
    static func learn(configuration: TCPConnectionConfiguration, localAddress: IPv4Address, bufferPool: BufferPool) -> TCPSynchronizeAnswer {
        var probe = TCPConnection(local: TCPEndpoint(address: localAddress, port: 1), remote: TCPEndpoint(address: IPv4Address(rawValue: 1), port: 1),
                                  initialSequenceNumbers: .fixed(SequenceNumber(0)), configuration: configuration,
                                  bufferPool: bufferPool)
        probe.listen()
        let synchronize = TCPSegment.synthesized(
            header: TCPHeader(sourcePort: 1, destinationPort: 1, sequenceNumber: SequenceNumber(0),
                              acknowledgmentNumber: SequenceNumber(0), flags: [.synchronize], window: 65535),
            options: TCPOptions(maximumSegmentSize: 1460, windowScale: 0))
        var recorder = TCPSynchronizeRecorder()
        probe.receive(segment: synchronize, now: 0, output: &recorder)
        return TCPSynchronizeAnswer(window: recorder.header?.window ?? UInt16(min(configuration.initialReceiveBufferCapacity, 0xFFFF)),
                                    maximumSegmentSize: recorder.options.maximumSegmentSize ?? configuration.maximumSegmentSize,
                                    windowScale: recorder.options.windowScale)
    }
}

extension TCPSegment {
    /// A segment made from parts rather than received, with no data: the SYN a connection is
    /// fed when it is rebuilt from a cookie. `TCPSegment` is only made by parsing, so a bare
    /// header is built into a buffer on the stack, parsed, and given the wanted fields.
    static func synthesized(header: TCPHeader, options: TCPOptions) -> TCPSegment {
        var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let blank = TCPHeader(sourcePort: 1, destinationPort: 1, sequenceNumber: SequenceNumber(0),
                              acknowledgmentNumber: SequenceNumber(0), flags: [], window: 0)
        var segment = withUnsafeMutableBytes(of: &storage) { raw -> TCPSegment in
            let length = (try? TCPSegment.build(header: blank, options: TCPOptions(), payload: ByteReader(),
                                                source: .any, destination: .any, into: raw)) ?? 0
            // A 20-byte header built by `build` always parses: the check cannot fail.
            return try! TCPSegment(parsing: ByteReader(start: UnsafeRawPointer(raw.baseAddress!), count: length),
                                   source: .any, destination: .any)
        }
        segment.header = header
        segment.options = options
        segment.payload = ByteReader()
        return segment
    }
}

/// Keeps the first segment a connection emits instead of sending it: the probe's SYN-ACK, and
/// the SYN-ACK a connection rebuilt from a cookie emits (the peer already has the cookie one).
struct TCPSynchronizeRecorder: TCPSegmentTransmitter {
    var header: TCPHeader?
    var options = TCPOptions()
    var count = 0

    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool {
        if header == nil {
            header = segment.header
            options = segment.options
        }
        count += 1
        return true
    }
}

/// Passes segments on to the network core's transmitter, counting them, the RSTs among them,
/// and the ones the NIC refused.
struct TCPCountingTransmitter<Base: TCPSegmentTransmitter>: TCPSegmentTransmitter {
    let base: UnsafeMutablePointer<Base>
    var segments: UInt64 = 0
    var resets: UInt64 = 0
    var refused: UInt64 = 0

    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool {
        guard base.pointee.transmit(segment) else {
            refused &+= 1
            return false
        }
        // A segment the NIC cuts (TSO) counts as the segments it becomes on the wire.
        segments &+= UInt64(segment.wireSegmentCount)
        if segment.header.flags.contains(.reset) { resets &+= 1 }
        return true
    }

    mutating func largestPayload() -> Int { base.pointee.largestPayload() }
}

/// Runs `body` with a counting wrapper around `output` (by pointer: the transmitter is not copied).
func withCountingTransmitter<Base: TCPSegmentTransmitter, Result>(
    _ output: inout Base, _ body: (inout TCPCountingTransmitter<Base>) -> Result
) -> Result {
    withUnsafeMutablePointer(to: &output) { pointer in
        var counting = TCPCountingTransmitter(base: pointer)
        return body(&counting)
    }
}

extension TCPConnectionTable {
    /// Adds what a counting transmitter saw to the counters.
    mutating func record<Base>(_ counting: TCPCountingTransmitter<Base>) {
        tableCounters.segmentsSent &+= counting.segments
        tableCounters.resetsSent &+= counting.resets
        tableCounters.transmitRefusals &+= counting.refused
    }
}
