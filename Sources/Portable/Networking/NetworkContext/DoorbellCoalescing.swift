/// When a network context may hold a program's wake-up back, so that one wake-up carries several completions.

/// Doorbell coalescing: interrupt moderation for the network core's wake-up IPIs.
///
/// A completion is in the program's ring as soon as it is pushed; only the doorbell — the IPI
/// that wakes a program asleep in `wait` — may wait. While frames keep arriving (the pass took
/// some, so the next one likely will too), a channel's doorbell is held until it owes
/// `completions` completions or the oldest has waited `nanoseconds`; a pass that took no frame
/// rings at once. A lone request therefore costs at most one empty pass more, and a loaded
/// network core sends one IPI per batch rather than one per pass: each IPI is two xAPIC writes
/// that, under QEMU, wait for its global lock.
public struct DoorbellCoalescing: Equatable, Sendable {
    /// Ring once this many completions are owed (1: never hold).
    public var completions: Int
    /// Ring once the oldest owed completion is this old.
    public var nanoseconds: UInt64

    /// Every doorbell rung in the pass that owes it.
    public static let off = DoorbellCoalescing(completions: 1, nanoseconds: 0)

    public init(completions: Int, nanoseconds: UInt64) {
        self.completions = completions
        self.nanoseconds = nanoseconds
    }

    /// Whether a doorbell owing `owed` completions, the oldest owed since `since`, is held at
    /// `now`, in a pass that took frames (`framesArriving`) or not.
    public func holds(owed: UInt64, since: UInt64, now: UInt64, framesArriving: Bool) -> Bool {
        framesArriving && owed < UInt64(max(1, completions)) && now &- since < nanoseconds
    }
}
