/// The `streamSend` buffers the network core holds, one FIFO per connection, in network-core-private memory.

/// The buffers of `streamSend` requests the network core holds, kept in request order per
/// connection, plus each connection's deferred shutdown and close.
///
/// A buffer passes two marks. It is *taken* as the connection's send buffer accepts its bytes
/// (a TCP send buffer may be full when a request arrives, and the requests after it on the same
/// connection must not overtake it), and *returned* as the connection hands those bytes back —
/// at once when it copied them, when the peer acknowledges them when it borrowed them in place
/// (`ChannelRequestHandler.streamWrite`). Only a buffer wholly returned goes back to the program.
/// So each queue has two positions: `head`, the oldest buffer not wholly returned, and
/// `cursor`, the oldest not wholly taken. A shutdown or close waits until everything before it
/// is taken.
///
/// The FIFOs are linked through the buffers: one `PendingSend` per buffer of the pool (a
/// buffer is in at most one queue, `BufferOwnership` sees to that) and one `ConnectionQueue` per
/// connection number. Everything lives in memory the program cannot reach; nothing allocates.
public struct StreamSendQueues {
    /// One held buffer: the part of it to send, how much is taken and returned, and its request's cookie.
    public struct PendingSend {
        /// The next buffer of the same connection, `StreamSendQueues.none` at the tail.
        public var next: UInt32
        /// The request's `offset`.
        public var offset: UInt32
        /// The request's `length`.
        public var length: UInt32
        /// How many of those bytes the send buffer has taken so far.
        public var taken: UInt32
        /// How many of the taken bytes the connection has handed back.
        public var returned: UInt32
        /// Its bytes were copied, not lent (decided at its first take, for the whole buffer):
        /// they count as returned when taken, and lent bytes handed back skip it.
        public var copied = false
        /// The request had `ChannelRequest.postAfterSend`: once wholly returned the buffer is
        /// posted for receive instead of going back with `streamSent`.
        public var postsAfterSend = false
        /// The request's cookie, for the `streamSent` completion.
        public var cookie: UInt64
    }

    /// One connection's queue and deferred requests.
    public struct ConnectionQueue {
        /// The oldest held buffer (not wholly returned), `StreamSendQueues.none` when empty.
        public var head: UInt32
        /// The newest held buffer.
        public var tail: UInt32
        /// The oldest buffer not wholly taken, `StreamSendQueues.none` when all are.
        public var cursor: UInt32
        /// A `streamShutdown` waits behind the queue.
        public var shutdownPending: Bool
        /// A `streamClose` waits behind the queue (nothing may be queued after it).
        public var closePending: Bool
        /// The cookie of the waiting shutdown.
        public var shutdownCookie: UInt64
        /// The cookie of the waiting close.
        public var closeCookie: UInt64
        /// The shutdown ran: no more sends (the connection would refuse them while still
        /// sending, and perhaps reading, the bytes before).
        public var shutDown = false
        /// The connection ended (`StreamSendProgress.ended`, or a refused write): it holds none
        /// of the program's bytes, and every buffer still queued goes back with this error.
        public var ended: ChannelError?

        /// Whether anything waits.
        public var hasWork: Bool { head != StreamSendQueues.none || shutdownPending || closePending }
    }

    /// "No buffer".
    public static let none = UInt32.max

    /// The bytes of private memory for `bufferCount` buffers and `connectionCapacity` connections.
    public static func byteCount(bufferCount: UInt32, connectionCapacity: Int) -> Int {
        Int(bufferCount) * MemoryLayout<PendingSend>.stride + connectionCapacity * MemoryLayout<ConnectionQueue>.stride
            + UniqueNumberQueue.byteCount(capacity: connectionCapacity)
    }

    private let sends: UnsafeMutablePointer<PendingSend>
    private let queues: UnsafeMutablePointer<ConnectionQueue>
    /// The busy ring: connection numbers that may have work, each at most once, oldest first,
    /// so a pump visits those and not every connection number (the work of a pass follows the
    /// work there is). An entry whose queue emptied meanwhile is skipped when it comes up.
    private var busy: UniqueNumberQueue
    /// Entries in the busy ring: 0 when no connection has anything waiting (so a pass with
    /// none costs one compare).
    public var busyListed: Int { busy.count }
    /// The number of buffers.
    public let bufferCount: UInt32
    /// Connection numbers run from 0 to `connectionCapacity` − 1.
    public let connectionCapacity: Int

    /// Empty queues in `memory` (`byteCount` bytes, 8-byte aligned, private to the network core).
    public init(memory: UnsafeMutableRawPointer, bufferCount: UInt32, connectionCapacity: Int) {
        self.bufferCount = bufferCount
        self.connectionCapacity = connectionCapacity
        sends = memory.bindMemory(to: PendingSend.self, capacity: Int(bufferCount))
        sends.initialize(repeating: PendingSend(next: Self.none, offset: 0, length: 0, taken: 0, returned: 0, copied: false,
                                                postsAfterSend: false, cookie: 0),
                         count: Int(bufferCount))
        let queueMemory = memory + Int(bufferCount) * MemoryLayout<PendingSend>.stride
        queues = queueMemory.bindMemory(to: ConnectionQueue.self, capacity: connectionCapacity)
        queues.initialize(repeating: ConnectionQueue(head: Self.none, tail: Self.none, cursor: Self.none, shutdownPending: false,
                                                     closePending: false, shutdownCookie: 0, closeCookie: 0),
                          count: connectionCapacity)
        busy = UniqueNumberQueue(memory: queueMemory + connectionCapacity * MemoryLayout<ConnectionQueue>.stride,
                                 capacity: connectionCapacity)
    }

    /// Lists `connection` in the busy ring (nothing when it is listed already).
    public mutating func listBusy(_ connection: UInt16) {
        busy.push(Int(connection))
    }

    /// The oldest listed connection, taken off the ring (list it again if it still has work
    /// after serving it); nil when none is listed.
    public mutating func takeBusy() -> UInt16? {
        busy.pop().map { UInt16($0) }
    }

    /// Connection `connection`'s queue (the caller checked the number is below the capacity).
    public func queue(_ connection: UInt16) -> ConnectionQueue {
        precondition(Int(connection) < connectionCapacity, "connection number out of range")
        return queues[Int(connection)]
    }

    /// The held buffer `index`.
    public func pending(_ index: UInt32) -> PendingSend {
        precondition(index < bufferCount, "buffer index out of range")
        return sends[Int(index)]
    }

    /// Appends buffer `index` (now held by the network core) to `connection`'s queue.
    public mutating func append(_ index: UInt32, offset: UInt32, length: UInt32, postsAfterSend: Bool = false, cookie: UInt64,
                                to connection: UInt16) {
        precondition(Int(connection) < connectionCapacity, "connection number out of range")
        sends[Int(index)] = PendingSend(next: Self.none, offset: offset, length: length, taken: 0, returned: 0, copied: false,
                                        postsAfterSend: postsAfterSend, cookie: cookie)
        if queues[Int(connection)].head == Self.none {
            queues[Int(connection)].head = index
        } else {
            sends[Int(queues[Int(connection)].tail)].next = index
        }
        queues[Int(connection)].tail = index
        if queues[Int(connection)].cursor == Self.none { queues[Int(connection)].cursor = index }
        listBusy(connection)
    }

    /// Records that `count` more bytes of the cursor's buffer were taken — copied (free at
    /// once) or lent; the cursor moves on when the buffer is taken whole.
    public mutating func advanceCursor(of connection: UInt16, by count: UInt32, copied: Bool) {
        let cursor = queue(connection).cursor
        precondition(cursor != Self.none, "nothing left to take")
        if sends[Int(cursor)].taken == 0 { sends[Int(cursor)].copied = copied }
        sends[Int(cursor)].taken += count
        if sends[Int(cursor)].copied { sends[Int(cursor)].returned += count }
        precondition(sends[Int(cursor)].taken <= sends[Int(cursor)].length, "took more than the buffer holds")
        if sends[Int(cursor)].taken == sends[Int(cursor)].length { queues[Int(connection)].cursor = sends[Int(cursor)].next }
    }

    /// Records that the connection handed back `count` more lent bytes, oldest first (copied
    /// buffers are skipped: theirs came back when taken); returns how many of them matched
    /// lent bytes (all, unless the connection miscounted).
    @discardableResult
    public mutating func markReturned(_ count: Int, of connection: UInt16) -> Int {
        var remaining = count
        var index = queue(connection).head
        while remaining > 0 && index != Self.none {
            if sends[Int(index)].copied {
                if sends[Int(index)].taken < sends[Int(index)].length { break }
                index = sends[Int(index)].next
                continue
            }
            let open = Int(sends[Int(index)].taken - sends[Int(index)].returned)
            let piece = min(open, remaining)
            sends[Int(index)].returned += UInt32(piece)
            remaining -= piece
            // Only a wholly taken buffer passes returned bytes on to the next one.
            if sends[Int(index)].taken < sends[Int(index)].length { break }
            index = sends[Int(index)].next
        }
        return count - remaining
    }

    /// Marks every taken byte of `connection`'s buffers returned (the connection copied or
    /// forgot them all).
    public mutating func markAllReturned(of connection: UInt16) {
        var index = queue(connection).head
        while index != Self.none {
            sends[Int(index)].returned = sends[Int(index)].taken
            index = sends[Int(index)].next
        }
    }

    /// Removes the head buffer and returns it (the cursor moves past it if it was there).
    public mutating func popHead(of connection: UInt16) -> UInt32 {
        let head = queue(connection).head
        precondition(head != Self.none, "no buffer queued")
        queues[Int(connection)].head = sends[Int(head)].next
        if queues[Int(connection)].cursor == head { queues[Int(connection)].cursor = sends[Int(head)].next }
        if queues[Int(connection)].head == Self.none { queues[Int(connection)].tail = Self.none }
        sends[Int(head)].next = Self.none
        return head
    }

    /// Defers a shutdown (`close == false`) or close behind the queue.
    public mutating func deferRequest(close: Bool, cookie: UInt64, for connection: UInt16) {
        precondition(Int(connection) < connectionCapacity, "connection number out of range")
        if close {
            queues[Int(connection)].closePending = true
            queues[Int(connection)].closeCookie = cookie
        } else {
            queues[Int(connection)].shutdownPending = true
            queues[Int(connection)].shutdownCookie = cookie
        }
        listBusy(connection)
    }

    /// Clears a deferred shutdown or close once it was carried out. After a close the number
    /// may name a new connection: the queue starts afresh.
    public mutating func clearDeferred(close: Bool, for connection: UInt16) {
        precondition(Int(connection) < connectionCapacity, "connection number out of range")
        if close {
            queues[Int(connection)].closePending = false
            queues[Int(connection)].shutDown = false
            queues[Int(connection)].ended = nil
        } else {
            queues[Int(connection)].shutdownPending = false
            queues[Int(connection)].shutDown = true
        }
    }

    /// Records that `connection` ended with `error` (the first reason stays).
    public mutating func end(_ connection: UInt16, with error: ChannelError) {
        precondition(Int(connection) < connectionCapacity, "connection number out of range")
        if queues[Int(connection)].ended == nil { queues[Int(connection)].ended = error }
    }
}
