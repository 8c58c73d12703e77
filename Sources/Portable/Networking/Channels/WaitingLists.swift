// First-in first-out lists of small numbers, each number in at most one list: who waits for what, found without a scan.

/// Several FIFO lists over the numbers 0..<`capacity` (connection numbers), each number in at
/// most one list at a time, with append, removal from anywhere and pop from the front all in
/// constant time.
///
/// It holds what waits on a condition, one list per condition (a channel's room in its
/// completion ring, its posted receive buffers): a pass looks at each condition once and takes
/// from its list only as many as can go on, instead of visiting every waiter to find it still
/// blocked. With a thousand HTTP connections and 128 posted buffers that visiting was a fifth
/// of the network core (`docs/experiments.md`, "Waiting connections").
///
/// The links run through arrays indexed by number (intrusive doubly linked lists), so
/// membership costs no allocation after `init`. Not thread-safe: one CPU owns it.
public struct WaitingLists {
    /// Numbers run from 0 to this − 1.
    public let capacity: Int
    /// Lists run from 0 to this − 1.
    public let listCount: Int
    /// No number, no list: the end of a chain, or a number in no list.
    private static let none: UInt16 = 0xFFFF
    private let next: UnsafeMutablePointer<UInt16>
    private let previous: UnsafeMutablePointer<UInt16>
    /// The list each number is in, `none` if it is in none.
    private let listOf: UnsafeMutablePointer<UInt16>
    private let heads: UnsafeMutablePointer<UInt16>
    private let tails: UnsafeMutablePointer<UInt16>
    /// How many numbers all the lists hold together: a pass with nobody waiting looks at this
    /// and at no list.
    public private(set) var totalCount = 0

    /// `listCount` empty lists over the numbers 0..<`capacity` (1 to 65,535, so that `none`
    /// is never a number), in memory of their own.
    public init(capacity: Int, listCount: Int) {
        precondition(capacity >= 1 && capacity < Int(Self.none), "numbers must fit 16 bits")
        precondition(listCount >= 1 && listCount < Int(Self.none), "lists must fit 16 bits")
        self.capacity = capacity
        self.listCount = listCount
        next = .allocate(capacity: capacity)
        next.initialize(repeating: Self.none, count: capacity)
        previous = .allocate(capacity: capacity)
        previous.initialize(repeating: Self.none, count: capacity)
        listOf = .allocate(capacity: capacity)
        listOf.initialize(repeating: Self.none, count: capacity)
        heads = .allocate(capacity: listCount)
        heads.initialize(repeating: Self.none, count: listCount)
        tails = .allocate(capacity: listCount)
        tails.initialize(repeating: Self.none, count: listCount)
    }

    /// The list `number` is in; nil if none (or `number` is out of range).
    public func list(of number: Int) -> Int? {
        guard number >= 0, number < capacity, listOf[number] != Self.none else { return nil }
        return Int(listOf[number])
    }

    /// How many numbers `list` holds, counted along it (for tests and diagnostics: the pass
    /// needs only `isEmpty` and `totalCount`).
    public func count(of list: Int) -> Int {
        var count = 0
        var entry = heads[list]
        while entry != Self.none {
            count += 1
            entry = next[Int(entry)]
        }
        return count
    }

    /// Whether `list` holds nothing.
    public func isEmpty(_ list: Int) -> Bool { heads[list] == Self.none }

    /// Puts `number` at the back of `list`, taking it out of the list it was in first (even
    /// the same one: it goes to the back). False, and nothing changes, when `number` or `list`
    /// is out of range.
    @discardableResult
    public mutating func append(_ number: Int, to list: Int) -> Bool {
        guard number >= 0, number < capacity, list >= 0, list < listCount else { return false }
        remove(number)
        let entry = UInt16(number)
        let tail = tails[list]
        previous[number] = tail
        next[number] = Self.none
        if tail == Self.none { heads[list] = entry } else { next[Int(tail)] = entry }
        tails[list] = entry
        listOf[number] = UInt16(list)
        totalCount += 1
        return true
    }

    /// Takes `number` out of its list; returns the list, nil if it was in none.
    @discardableResult
    public mutating func remove(_ number: Int) -> Int? {
        guard let list = list(of: number) else { return nil }
        let before = previous[number], after = next[number]
        if before == Self.none { heads[list] = after } else { next[Int(before)] = after }
        if after == Self.none { tails[list] = before } else { previous[Int(after)] = before }
        next[number] = Self.none
        previous[number] = Self.none
        listOf[number] = Self.none
        totalCount -= 1
        return list
    }

    /// The number at the front of `list`, taken out of it; nil when the list is empty.
    public mutating func popFirst(of list: Int) -> Int? {
        let head = heads[list]
        guard head != Self.none else { return nil }
        remove(Int(head))
        return Int(head)
    }
}
