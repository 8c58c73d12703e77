// Frames held back by link impairment: a fixed number of frame-sized slots allocated once, released when due.

/// Bookkeeping for one slot of a delay line.
struct HeldFrame {
    /// Whether the slot holds a frame.
    var inUse: Bool
    /// The frame's length in bytes.
    var length: Int
    /// When it becomes due.
    var deadline: HoldDeadline
    /// Holding order: due frames leave in the order they were held.
    var sequence: UInt64
    /// The delay line's delivery count when the frame was held (for `HoldDeadline.overtakenBy`).
    var deliveriesAtHold: UInt64

    static let empty = HeldFrame(inUse: false, length: 0, deadline: HoldDeadline(earliest: 0), sequence: 0,
                                 deliveriesAtHold: 0)
}

/// What a delay line did.
public struct DelayLineCounters: Equatable, Sendable {
    /// Frames copied into a slot.
    public var held: UInt64 = 0
    /// Held frames delivered when due.
    public var released: UInt64 = 0
    /// Frames that should have been held but were passed on at once: every slot was taken.
    public var passedBecauseFull: UInt64 = 0
    /// Frames that should have been held but were passed on at once: longer than a slot.
    public var passedBecauseTooLong: UInt64 = 0
    /// The most slots ever in use at once.
    public var highWater: Int = 0

    /// Creates zeroed counters.
    public init() {}
}

/// A bounded set of held frames. `init` allocates every slot (a copy of a frame of up to
/// `slotSize` bytes each); `hold` and `releaseDue` never allocate. It also counts every
/// frame delivered in its direction (`deliveries`: its own releases plus `noteDelivered()`
/// for frames that went past it), the clock of `HoldDeadline.overtakenBy`. Copies of the
/// struct share the slots.
public struct DelayLine {
    /// The default slot size: a maximum Ethernet frame with room for a 12-byte virtio-net
    /// header in front (virtio 1.2 §5.1.6), rounded up to 16.
    public static let defaultSlotSize = EthernetHeader.maximumFrameSize + 18

    private let slots: UnsafeMutablePointer<HeldFrame>
    private let frames: UnsafeMutableRawPointer
    /// The number of slots.
    public let capacity: Int
    /// The largest frame a slot holds.
    public let slotSize: Int
    /// Slots in use.
    public private(set) var count = 0
    /// Frames delivered in this direction, held or not.
    public private(set) var deliveries: UInt64 = 0
    /// What it did.
    public private(set) var counters = DelayLineCounters()
    private var nextSequence: UInt64 = 0
    /// No held frame is due before this time (a lower bound, so that `releaseDue` returns at
    /// once between deadlines).
    private var earliestDue: UInt64 = .max

    /// Allocates `capacity` slots (at least one) of `slotSize` bytes (at least 64) each.
    public init(capacity: Int, slotSize: Int = DelayLine.defaultSlotSize) {
        self.capacity = max(capacity, 1)
        self.slotSize = max(slotSize, 64)
        slots = UnsafeMutablePointer<HeldFrame>.allocate(capacity: self.capacity)
        slots.initialize(repeating: .empty, count: self.capacity)
        frames = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * self.slotSize, alignment: 16)
    }

    /// Copies `frame` into a free slot until `deadline`. Returns false when it cannot (every
    /// slot taken, or the frame longer than a slot; counted): the caller then delivers the
    /// frame at once (and calls `noteDelivered()`).
    public mutating func hold(_ frame: UnsafeRawBufferPointer, until deadline: HoldDeadline) -> Bool {
        guard frame.count <= slotSize else {
            counters.passedBecauseTooLong &+= 1
            return false
        }
        guard count < capacity else {
            counters.passedBecauseFull &+= 1
            return false
        }
        for index in 0..<capacity where !slots[index].inUse {
            if let base = frame.baseAddress, frame.count > 0 {
                (frames + index * slotSize).copyMemory(from: base, byteCount: frame.count)
            }
            slots[index] = HeldFrame(inUse: true, length: frame.count, deadline: deadline, sequence: nextSequence,
                                     deliveriesAtHold: deliveries)
            nextSequence &+= 1
            count += 1
            counters.held &+= 1
            counters.highWater = max(counters.highWater, count)
            earliestDue = min(earliestDue, deadline.earliest)
            return true
        }
        return false  // unreachable: count < capacity means a slot is free
    }

    /// Counts a frame of this direction that was delivered without being held (it may be one
    /// that a reordered frame waits to be overtaken by).
    public mutating func noteDelivered() {
        deliveries &+= 1
    }

    /// Delivers every held frame that is due at `now`, oldest hold first, and frees its slot.
    /// Each delivery can make a reordered frame due, so this repeats until nothing is due.
    /// `deliver` must not use this delay line.
    public mutating func releaseDue(now: UInt64, deliver: (UnsafeRawBufferPointer) -> Void) {
        guard count > 0, now >= earliestDue else { return }
        while true {
            var chosen = -1
            for index in 0..<capacity where slots[index].inUse {
                let slot = slots[index]
                guard slot.deadline.isDue(now: now, deliveredSince: deliveries &- slot.deliveriesAtHold) else { continue }
                if chosen < 0 || slot.sequence < slots[chosen].sequence { chosen = index }
            }
            guard chosen >= 0 else { break }
            deliver(UnsafeRawBufferPointer(start: frames + chosen * slotSize, count: slots[chosen].length))
            slots[chosen].inUse = false
            count -= 1
            deliveries &+= 1
            counters.released &+= 1
        }
        earliestDue = .max
        for index in 0..<capacity where slots[index].inUse {
            earliestDue = min(earliestDue, slots[index].deadline.earliest)
        }
    }

    /// Delivers every held frame now, oldest hold first (e.g. when impairment is switched off).
    public mutating func releaseAll(deliver: (UnsafeRawBufferPointer) -> Void) {
        releaseDue(now: .max, deliver: deliver)
    }
}

/// One direction of an impaired link: the verdicts of a `LinkImpairment` applied with a
/// `DelayLine`. The network core gives it every frame of that direction (`submit`) and calls
/// `releaseDue` on each pass, so that delayed frames leave when due even without new frames.
public struct ImpairedLinkDirection {
    /// The verdicts and their counters.
    public private(set) var impairment: LinkImpairment
    /// The held frames and their counters.
    public private(set) var delayLine: DelayLine

    /// Creates one direction; `delaySlots` frames at most are held at once.
    public init(settings: LinkImpairmentSettings, seed: UInt64, stream: UInt64, delaySlots: Int,
                slotSize: Int = DelayLine.defaultSlotSize) {
        impairment = LinkImpairment(settings: settings, seed: seed, stream: stream)
        delayLine = DelayLine(capacity: delaySlots, slotSize: slotSize)
    }

    /// Whether this direction changes anything (when not, the core can skip it entirely).
    public var isActive: Bool { impairment.settings.isActive }

    /// Applies the verdict on `frame`: `deliver` gets it zero, one or two times now, or the
    /// copies are held (when the delay line cannot hold one, it is delivered now). Then
    /// releases whatever became due (a held frame may be waiting to be overtaken by this one).
    public mutating func submit(_ frame: UnsafeRawBufferPointer, now: UInt64,
                                deliver: (UnsafeRawBufferPointer) -> Void) {
        let verdict = impairment.judge(now: now)
        for _ in 0..<verdict.copies {
            if let deadline = verdict.hold, delayLine.hold(frame, until: deadline) { continue }
            delayLine.noteDelivered()
            deliver(frame)
        }
        delayLine.releaseDue(now: now, deliver: deliver)
    }

    /// Delivers the held frames that are due at `now`.
    public mutating func releaseDue(now: UInt64, deliver: (UnsafeRawBufferPointer) -> Void) {
        delayLine.releaseDue(now: now, deliver: deliver)
    }
}
