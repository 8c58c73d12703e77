// When an IPI can skip writing its destination: the APIC still holds it from the last one.

/// What this CPU last wrote to the high half of its local APIC's interrupt command register
/// (ICR, Intel SDM vol 3A §11.6.1, figure 11-12): bits 56–63, the destination. Writing the
/// low half is what sends an IPI; the high half keeps its value between sends, and only the
/// CPU itself writes it. So an IPI to the same CPU as the last one need not write it again.
///
/// Why it matters: under QEMU every APIC access is an exit that waits for the emulator's global
/// lock, which its I/O thread holds while it moves packets. A network core wakes the same
/// program CPU again and again (doorbells), paying two writes and a read per IPI; with the
/// destination remembered it pays one write and the read.
///
/// The shadow is right only if every write of the high half goes through it, on its own CPU,
/// with interrupts off from the check to the sending write (an interrupt handler that sends an
/// IPI to another CPU in between would change the register under the check). Zeroed memory is
/// "not known": the first IPI writes both halves, whatever firmware left in the register.
public struct InterruptCommandShadow: Equatable, Sendable {
    /// Whether `high` holds what the register holds.
    private var known = false
    private var high: UInt32 = 0

    public init() {}

    /// About to send an IPI whose high half is `value`. True: write `value` to the high half
    /// first (it is remembered from now on); false: the register holds it already.
    public mutating func needsHighWrite(_ value: UInt32) -> Bool {
        if known && high == value { return false }
        known = true
        high = value
        return true
    }
}
