/// The CMOS real-time clock: an independent seconds counter to check the kernel clock against.

/// MC146818-compatible RTC behind ports 0x70 (index) and 0x71 (data).
enum RealTimeClock {
    private static let index = IOPort(0x70), data = IOPort(0x71)
    private enum Register: UInt8 { case seconds = 0x00, statusA = 0x0A, statusB = 0x0B }

    private static func read(_ register: Register) -> UInt8 {
        index.write(0x80 | register.rawValue)   // bit 7 keeps NMIs disabled as firmware left them
        return data.read()
    }

    /// The seconds register, decoded from BCD when status B says so, read outside an update
    /// cycle (status A bit 7 clear) so it is never torn.
    static func seconds() -> UInt8 {
        while read(.statusA) & 0x80 != 0 { Processor.relax() }
        let raw = read(.seconds)
        let binary = read(.statusB) & 0x04 != 0
        return binary ? raw : (raw >> 4) * 10 + (raw & 0x0F)
    }
}
