/// How a program waits when a socket operation would block: its own choice, supplied to the library.

/// What the library does while a blocking operation (`bind`, `receive(waitingWith:)`) has
/// to wait for the network core. The program chooses: spin on its own CPU (lowest
/// latency — the CPU is the program's anyway), pause, or call the kernel's slow-path wait.
/// Generic, not existential, so `wait()` inlines.
public protocol WaitPolicy {
    /// Called each time the operation finds nothing yet; returns when it is worth looking
    /// again. Returning false makes the operation give up with `wouldBlock`.
    mutating func wait() -> Bool
}

/// Spins: looks again at once, forever. Right for a program that owns its CPU.
public struct SpinWait: WaitPolicy {
    /// A spinning policy.
    public init() {}
    /// Always look again.
    @inline(__always)
    public mutating func wait() -> Bool { true }
}

/// Spins at most `limit` times, then gives up with `wouldBlock`: a timeout in polls.
public struct BoundedSpinWait: WaitPolicy {
    /// Looks left before giving up.
    public var remaining: Int
    /// Gives up after `limit` waits.
    public init(limit: Int) { remaining = limit }
    /// Counts one wait down.
    public mutating func wait() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        return true
    }
}
