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

/// A waiter's empty looks in a row: it should sleep only after `limit` looks found nothing
/// new, however much work came before. (Counting every empty look since the last sleep, as
/// `DoorbellWait` once did, put a busy program to sleep every `limit` looks *in total*: in the
/// middle of a stream, where the next completion was microseconds away, each sleep cost the
/// network core a doorbell IPI.)
public struct IdleLooks {
    /// Empty looks in a row before it is time to sleep.
    public let limit: Int
    /// Looks since the ring last changed.
    public private(set) var looks = 0
    /// The ring's producer index at the last look.
    var lastSeen: UInt32

    /// Counts towards sleeping after `limit` empty looks; `seen` is the producer index now.
    public init(limit: Int, seen: UInt32) {
        self.limit = max(limit, 1)
        lastSeen = seen
    }

    /// One more look, which found the producer index at `seen`: true when `limit` looks in a
    /// row have found it unchanged (the count then starts over, for after the sleep).
    public mutating func look(seen: UInt32) -> Bool {
        if seen != lastSeen {
            lastSeen = seen
            looks = 0
        }
        looks += 1
        guard looks >= limit else { return false }
        looks = 0
        return true
    }
}
