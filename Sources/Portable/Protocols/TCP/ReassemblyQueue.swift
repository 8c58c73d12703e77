// The received intervals beyond RCV.NXT: a small fixed list that tells which out-of-order bytes the receive ring already holds.

/// One run of received sequence numbers `[start, end)` beyond RCV.NXT.
public struct ReceivedInterval: Equatable, Sendable {
    /// The first sequence number held.
    public var start: SequenceNumber
    /// One past the last sequence number held.
    public var end: SequenceNumber

    /// Creates an interval.
    public init(start: SequenceNumber, end: SequenceNumber) {
        self.start = start
        self.end = end
    }
}

/// Which out-of-order data a connection keeps — RFC 9293 §3.10.7.4 "seventh" lets a receiver
/// hold segments beyond RCV.NXT for later delivery.
///
/// The bytes themselves live in the receive `ByteRing`'s free space at their offset from
/// RCV.NXT (`ByteRing.write(_:atTailOffset:)`), so nothing is allocated or copied twice; this
/// queue only remembers which runs are there. It holds at most `capacity` disjoint,
/// non-touching runs, sorted by sequence number, inline (no heap). A segment that would need
/// one run more is refused: the caller drops it (and counts it), the peer sends it again.
public struct ReassemblyQueue: Sendable {
    /// The most runs held: enough for a burst of losses in one window, small enough to scan.
    public static let capacity = 8

    /// The runs; only the first `count` are meaningful.
    private var intervals = InlineArray<8, ReceivedInterval>(repeating: ReceivedInterval(start: SequenceNumber(0), end: SequenceNumber(0)))
    /// How many runs are held.
    public private(set) var count = 0

    /// An empty queue.
    public init() {}

    /// Whether no out-of-order data is held.
    public var isEmpty: Bool { count == 0 }

    /// The run at `index` (0 is the lowest).
    public subscript(index: Int) -> ReceivedInterval { intervals[index] }

    /// Records that `[start, end)` (beyond RCV.NXT, non-empty) is now held, merging it with the
    /// runs it overlaps or touches. Returns false, changing nothing, when that would take more
    /// than `capacity` runs.
    @discardableResult
    public mutating func insert(start: SequenceNumber, end: SequenceNumber) -> Bool {
        guard start < end else { return true }
        // The first run that overlaps or touches the new one, or lies after it.
        var first = 0
        while first < count && intervals[first].end < start { first += 1 }
        // One past the last run that overlaps or touches the new one.
        var last = first
        while last < count && intervals[last].start <= end { last += 1 }
        if first == last {
            guard count < Self.capacity else { return false }
            var index = count
            while index > first {
                intervals[index] = intervals[index - 1]
                index -= 1
            }
            intervals[first] = ReceivedInterval(start: start, end: end)
            count += 1
            return true
        }
        let merged = ReceivedInterval(start: intervals[first].start < start ? intervals[first].start : start,
                                      end: intervals[last - 1].end > end ? intervals[last - 1].end : end)
        intervals[first] = merged
        let removed = last - first - 1
        if removed > 0 {
            var index = first + 1
            while index + removed < count {
                intervals[index] = intervals[index + removed]
                index += 1
            }
            count -= removed
        }
        return true
    }

    /// RCV.NXT reached `receiveNext`: removes every run that now starts at or before it and
    /// returns the new RCV.NXT (the end of the contiguous data).
    public mutating func advance(from receiveNext: SequenceNumber) -> SequenceNumber {
        var next = receiveNext
        var consumed = 0
        while consumed < count && intervals[consumed].start <= next {
            if intervals[consumed].end > next { next = intervals[consumed].end }
            consumed += 1
        }
        if consumed > 0 {
            var index = 0
            while index + consumed < count {
                intervals[index] = intervals[index + consumed]
                index += 1
            }
            count -= consumed
        }
        return next
    }

    /// Forgets everything (the connection closed).
    public mutating func removeAll() { count = 0 }
}
