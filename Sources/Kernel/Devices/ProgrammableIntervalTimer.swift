/// The 8254 PIT, used once at boot as the reference for calibrating the TSC and APIC timer.
import Timekeeping

/// PIT channel 2, whose gate and output appear in port 0x61, can be polled without
/// interrupts — Intel 8254 data sheet; port 0x61 layout from the IBM PC/AT reference.
enum PITChannel2 {
    private static let control = IOPort(0x61)
    private static let mode = IOPort(0x43)
    private static let data = IOPort(0x42)

    /// Counts `nanoseconds` (at most about 54 ms) and calls `atStart` right after the count
    /// begins; returns when the count has run out.
    static func wait(nanoseconds: UInt64, atStart: () -> Void) {
        let reload = ProgrammableIntervalTimer.reloadValue(forNanoseconds: nanoseconds) ?? UInt16.max
        // Gate on (bit 0), speaker off (bit 1).
        control.write((control.read() & ~0x02) | 0x01)
        // Channel 2, low byte then high byte, mode 0 (interrupt on terminal count), binary.
        mode.write(0b1011_0000)
        data.write(UInt8(truncatingIfNeeded: reload))
        data.write(UInt8(truncatingIfNeeded: reload >> 8))
        // Restart the count by toggling the gate.
        let gateOff = control.read() & ~0x01
        control.write(gateOff)
        control.write(gateOff | 0x01)
        atStart()
        while control.read() & 0x20 == 0 { Processor.relax() }   // bit 5: OUT2 high at terminal count
    }
}
