// A seeded fault injector for one direction of a link: drop, duplicate, reorder and delay frames.

/// What to do to one direction of a link. Probabilities are in hundredths of a percent (basis
/// points, 0...10_000: 150 is 1.5 %), so a boot option such as `drop=1.5` maps to them exactly
/// without floating point.
public struct LinkImpairmentSettings: Equatable, Sendable {
    /// The most any probability may be: 100 %.
    public static let certain: UInt16 = 10_000
    /// The most frames a reordered frame may be held behind.
    public static let maximumReorderGap = 64
    /// The longest delay, in microseconds (one second).
    public static let maximumDelayMicroseconds = 1_000_000

    /// Chance that a frame is dropped.
    public var dropBasisPoints: UInt16
    /// Chance that a frame (not dropped) is delivered twice.
    public var duplicateBasisPoints: UInt16
    /// Chance that a frame (not dropped) is held back and delivered after the next
    /// `reorderGap` frames.
    public var reorderBasisPoints: UInt16
    /// How many later frames overtake a reordered frame (1...`maximumReorderGap`).
    public var reorderGap: Int
    /// How long every frame is held before delivery, in microseconds (0: not delayed).
    public var delayMicroseconds: Int

    /// Settings that change nothing: every frame passes at once.
    public static let none = LinkImpairmentSettings()

    /// Creates settings; each probability is clamped to 0...10_000 basis points, the gap to
    /// 1...`maximumReorderGap` and the delay to 0...`maximumDelayMicroseconds`.
    public init(dropBasisPoints: UInt16 = 0, duplicateBasisPoints: UInt16 = 0, reorderBasisPoints: UInt16 = 0,
                reorderGap: Int = 2, delayMicroseconds: Int = 0) {
        self.dropBasisPoints = min(dropBasisPoints, Self.certain)
        self.duplicateBasisPoints = min(duplicateBasisPoints, Self.certain)
        self.reorderBasisPoints = min(reorderBasisPoints, Self.certain)
        self.reorderGap = min(max(reorderGap, 1), Self.maximumReorderGap)
        self.delayMicroseconds = min(max(delayMicroseconds, 0), Self.maximumDelayMicroseconds)
    }

    /// Whether these settings can change any frame.
    public var isActive: Bool {
        dropBasisPoints > 0 || duplicateBasisPoints > 0 || reorderBasisPoints > 0 || delayMicroseconds > 0
    }
}

/// When a held frame becomes due: once `earliest` has passed and `overtakenBy` other frames
/// have been delivered in its direction since it was held, or at `latest` whatever happened.
/// A delayed frame has only times; a reordered one waits for the frames that overtake it.
public struct HoldDeadline: Equatable, Sendable {
    /// Monotonic nanoseconds before which the frame is never due.
    public var earliest: UInt64
    /// Frames of the same direction that must be delivered before this one (0: none).
    public var overtakenBy: Int
    /// Monotonic nanoseconds at which the frame is due even if fewer frames overtook it.
    public var latest: UInt64

    /// Creates a deadline.
    public init(earliest: UInt64, overtakenBy: Int = 0, latest: UInt64? = nil) {
        self.earliest = earliest
        self.overtakenBy = max(overtakenBy, 0)
        self.latest = max(latest ?? earliest, earliest)
    }

    /// Whether the frame is due at `now` when `deliveredSince` frames were delivered after it was held.
    public func isDue(now: UInt64, deliveredSince: UInt64) -> Bool {
        now >= latest || (now >= earliest && deliveredSince >= UInt64(overtakenBy))
    }
}

/// The fate of one frame: how many copies to deliver (0 dropped, 1 normal, 2 duplicated) and
/// whether they wait in a `DelayLine` first (nil: deliver them now).
public struct ImpairmentVerdict: Equatable, Sendable {
    /// Copies of the frame to deliver: 0, 1 or 2.
    public var copies: Int
    /// When the copies are due, if they must be held.
    public var hold: HoldDeadline?

    /// Creates a verdict.
    public init(copies: Int, hold: HoldDeadline? = nil) {
        self.copies = copies
        self.hold = hold
    }

    /// Deliver the frame once, now.
    public static let pass = ImpairmentVerdict(copies: 1)
    /// Do not deliver the frame.
    public static let drop = ImpairmentVerdict(copies: 0)
}

/// What a `LinkImpairment` decided, by kind. A frame can be both duplicated and delayed, or
/// both reordered and delayed, so the kinds need not add up to `judged`.
public struct LinkImpairmentCounters: Equatable, Sendable {
    /// Frames judged.
    public var judged: UInt64 = 0
    /// Frames dropped.
    public var dropped: UInt64 = 0
    /// Frames delivered twice.
    public var duplicated: UInt64 = 0
    /// Frames held back behind later frames.
    public var reordered: UInt64 = 0
    /// Frames held for the configured delay.
    public var delayed: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}
}

/// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014): 64 bits of state, good enough statistics for fault injection, no allocation.
public struct ImpairmentRandomGenerator: Sendable {
    private var state: UInt64

    /// Creates a generator whose sequence depends only on `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// True with probability `basisPoints` / 10_000 (always false for 0, always true for 10_000).
    public mutating func chance(basisPoints: UInt16) -> Bool {
        guard basisPoints > 0 else { return false }
        guard basisPoints < LinkImpairmentSettings.certain else { return true }
        // The top 32 bits scaled to 0..<10_000 (Lemire's multiply-shift, bias below 10^-5).
        return ((next() >> 32) &* 10_000) >> 32 < UInt64(basisPoints)
    }
}

/// The fault injector of one direction of a link. The network core asks it for a verdict on
/// each frame (receive: frames from the NIC before the stack; transmit: frames the stack sends)
/// and applies it, holding frames in a `DelayLine`. Deterministic: the same seed and the same
/// sequence of calls give the same verdicts. Never allocates.
///
/// Per frame, in this order: drop (with `dropBasisPoints`; nothing else happens); duplicate
/// (with `duplicateBasisPoints`: two copies); reorder (with `reorderBasisPoints`: held until
/// `reorderGap` later frames have been delivered, or `reorderTimeLimit` past its delay, so the
/// last frame of a burst is not held forever); delay (every frame is held for
/// `delayMicroseconds`). `ImpairedLinkDirection` puts a `LinkImpairment` and a `DelayLine`
/// together.
public struct LinkImpairment: Sendable {
    /// The longest a reordered frame waits for the frames that should overtake it, beyond the
    /// configured delay: 10 ms.
    public static let reorderTimeLimit: UInt64 = 10_000_000

    /// What this direction does.
    public let settings: LinkImpairmentSettings
    /// What it did.
    public private(set) var counters = LinkImpairmentCounters()
    private var random: ImpairmentRandomGenerator

    /// Creates the injector of one direction. Give each direction its own seed (or `stream`)
    /// so their decisions are independent.
    public init(settings: LinkImpairmentSettings, seed: UInt64, stream: UInt64 = 0) {
        self.settings = settings
        // Mix the stream in so that seeds 1 and 2 of streams 0 and 1 do not overlap.
        var mixer = ImpairmentRandomGenerator(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        random = ImpairmentRandomGenerator(seed: mixer.next())
    }

    /// Decides the fate of the next frame; `now` is monotonic nanoseconds.
    public mutating func judge(now: UInt64) -> ImpairmentVerdict {
        counters.judged &+= 1
        guard settings.isActive else { return .pass }
        if random.chance(basisPoints: settings.dropBasisPoints) {
            counters.dropped &+= 1
            return .drop
        }
        var verdict = ImpairmentVerdict.pass
        if random.chance(basisPoints: settings.duplicateBasisPoints) {
            counters.duplicated &+= 1
            verdict.copies = 2
        }
        let delay = UInt64(settings.delayMicroseconds) &* 1000
        if random.chance(basisPoints: settings.reorderBasisPoints) {
            counters.reordered &+= 1
            if delay > 0 { counters.delayed &+= 1 }
            verdict.hold = HoldDeadline(earliest: now &+ delay, overtakenBy: settings.reorderGap,
                                        latest: now &+ delay &+ Self.reorderTimeLimit)
        } else if delay > 0 {
            counters.delayed &+= 1
            verdict.hold = HoldDeadline(earliest: now &+ delay)
        }
        return verdict
    }
}
