// When re-arming a one-shot timer can be skipped: it already fires no later than asked.

/// The deadline a one-shot timer (the local APIC's) is armed for, kept so that arming it again
/// costs nothing when it already fires by the time asked. Under QEMU every timer register write
/// is an exit that waits for the emulator's global lock, and a program's CPU re-arms for a `wait`
/// timeout (moved ~100 ms ahead by every sleep) and again in each doorbell's handler.
///
/// The rule keeps the timer's one promise, "an interrupt no later than the latest deadline
/// asked", and gives up "no earlier": an interrupt that comes before what is now wanted is
/// safe wherever the handler re-reads the clock and arms again for what is still to come.
/// Clocks are nanoseconds of one monotonic clock; 0 means stopped or fired.
public struct OneShotDeadline: Equatable, Sendable {
    /// When the timer fires (0: stopped, or it fired).
    public private(set) var deadline: UInt64 = 0

    public init() {}

    /// Asks for an interrupt at most `nanoseconds` after `now`. True: write the timer (and
    /// `deadline` is now `now + nanoseconds`); false: it already fires by then, leave it.
    public mutating func arm(now: UInt64, nanoseconds: UInt64) -> Bool {
        let due = now &+ nanoseconds
        if deadline > now && deadline <= due { return false }
        deadline = due
        return true
    }

    /// The timer was stopped, or its interrupt came: the next `arm` writes.
    public mutating func clear() {
        deadline = 0
    }
}
