// A first-in first-out queue of small numbers in which each number is at most once: the "who has work" lists of the network core and of programs.

/// A FIFO of the numbers 0..<`capacity` (connection numbers, program slots, …) that holds each
/// number at most once, so that it can never overflow and never needs more than `capacity`
/// entries.
///
/// It is how a pass visits only the items that have work instead of scanning every number: an
/// item is pushed when it gets work (pushing one already queued does nothing) and popped when
/// served; if it still has work it is pushed again, behind the others, so items take turns.
/// An item whose work went away while queued is popped like any other and found idle.
///
/// Its memory is allocated once, in `init`, or given by the owner (`init(memory:capacity:)`,
/// `byteCount(capacity:)`), never on the way. Not thread-safe: one CPU owns it.
public struct UniqueNumberQueue {
    /// Numbers run from 0 to this − 1.
    public let capacity: Int
    private let entries: UnsafeMutablePointer<UInt16>
    private let queued: UnsafeMutablePointer<Bool>
    private var head = 0
    /// How many numbers are queued.
    public private(set) var count = 0

    /// The bytes `init(memory:capacity:)` needs (8-byte aligned).
    public static func byteCount(capacity: Int) -> Int {
        (capacity * MemoryLayout<UInt16>.stride + capacity * MemoryLayout<Bool>.stride + 7) & ~7
    }

    /// An empty queue for the numbers 0..<`capacity` (1 to 65536), in memory of its own.
    public init(capacity: Int) {
        self.init(memory: UnsafeMutableRawPointer.allocate(byteCount: max(Self.byteCount(capacity: capacity), 8), alignment: 8),
                  capacity: capacity)
    }

    /// An empty queue in `memory` (`byteCount(capacity:)` bytes, 8-byte aligned, owned by the caller).
    public init(memory: UnsafeMutableRawPointer, capacity: Int) {
        precondition(capacity >= 1 && capacity <= 1 << 16, "numbers must fit 16 bits")
        self.capacity = capacity
        entries = memory.bindMemory(to: UInt16.self, capacity: capacity)
        entries.initialize(repeating: 0, count: capacity)
        queued = (memory + capacity * MemoryLayout<UInt16>.stride).bindMemory(to: Bool.self, capacity: capacity)
        queued.initialize(repeating: false, count: capacity)
    }

    /// Whether `number` is queued.
    public func contains(_ number: Int) -> Bool { number >= 0 && number < capacity && queued[number] }

    /// Queues `number` at the back unless it is queued already (or out of range); returns
    /// whether it was added.
    @discardableResult
    public mutating func push(_ number: Int) -> Bool {
        guard number >= 0, number < capacity, !queued[number] else { return false }
        queued[number] = true
        // No `%`: a division is a helper call under TCG, and this runs per event.
        let slot = head + count
        entries[slot < capacity ? slot : slot - capacity] = UInt16(number)
        count += 1
        return true
    }

    /// The oldest queued number, taken off the queue; nil when it is empty.
    public mutating func pop() -> Int? {
        guard count > 0 else { return nil }
        let number = Int(entries[head])
        head = head + 1 == capacity ? 0 : head + 1
        count -= 1
        queued[number] = false
        return number
    }
}
