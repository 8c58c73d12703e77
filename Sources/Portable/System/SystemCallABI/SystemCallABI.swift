/// The system calls between ring-3 programs and the kernel: their numbers and result codes, the one definition both sides use.

/// A system call's number, passed in RAX. Arguments go in RDI, RSI, RDX and R10 and the result
/// comes back in RAX (`boot/usermode.asm` is the kernel's entry, `boot/program-runtime.asm`'s
/// `system_call` the programs' one stub). Channels carry the data path to the network; these
/// calls are the slow path for what they do not: ending, console text, waiting, the clock.
public enum SystemCallNumber: UInt64, Sendable {
    /// exit(status): the program ends; never returns.
    case exit = 0
    /// write(pointer, length): text for the console, checked to lie in the program's memory;
    /// returns `length`, or `SystemCallResult.refused`.
    case write = 1
    /// wait(address, expected, timeout ns): sleeps until the 32-bit word at `address` differs
    /// from `expected`, a wake-up (the network core's doorbell) arrives, or the timeout passes
    /// (at most one second a call); returns `SystemCallResult.woken` or `.timedOut`, or
    /// `.refused` for an address that is misaligned or not the program's.
    case wait = 2
    /// yield(): gives the CPU to the next ready program of this CPU, if any (then returns when
    /// this one's turn comes again); returns at once when none is ready.
    case yield = 3
    /// clock(): nanoseconds since boot (the kernel's monotonic clock, the same on every CPU).
    case clock = 4
    /// name(pointer, capacity): copies the program's name (its module's command line) into the
    /// program's buffer; returns its length, or `.refused`. One image can thus behave by the
    /// name it runs as.
    case name = 5
    /// kick(): wakes the dedicated network core that serves this program if it halted while
    /// idle (`net-idle=halt|interrupt`): a program calls it after pushing requests when the
    /// request ring's consumer-asleep word names a sleep it has not kicked yet
    /// (`ConsumerSleepWatch`). The kernel sends the IPI only when that core really is halted,
    /// once per halt, so a program that kicks needlessly costs only its own CPU. Returns
    /// `SystemCallResult.woken` when it sent the IPI, else `.timedOut` (the core was awake).
    case kick = 6
}

/// Results a system call returns besides its value.
public enum SystemCallResult {
    /// The kernel refused the call: an unknown number, or memory that is not the program's.
    public static let refused = UInt64.max
    /// `wait`: the word changed, or a wake-up came.
    public static let woken: UInt64 = 0
    /// `wait`: the timeout passed first.
    public static let timedOut: UInt64 = 1
}
