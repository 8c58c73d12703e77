/// 16550 UART driver (COM1) for the kernel console: polled output and input, no interrupts.

/// A 16550-compatible serial port — register map from the PC16550D data sheet, table 2.
struct SerialPort {
    /// Register offsets from the port's base (with DLAB = 0 unless noted).
    enum Register: UInt16 {
        case data = 0                 // receive buffer / transmit holding; divisor low with DLAB
        case interruptEnable = 1      // divisor high with DLAB
        case fifoControl = 2
        case lineControl = 3
        case modemControl = 4
        case lineStatus = 5
    }
    /// Line status register bits (§8.6.3).
    struct LineStatus: OptionSet {
        let rawValue: UInt8
        static let dataReady = LineStatus(rawValue: 1 << 0)
        static let transmitHoldingEmpty = LineStatus(rawValue: 1 << 5)
    }
    /// Line control register: 8 data bits, no parity, 1 stop bit, and the divisor latch bit.
    enum LineControl {
        static let eightNoParityOneStop: UInt8 = 0b0000_0011
        static let divisorLatchAccess: UInt8 = 1 << 7
    }

    /// COM1, where QEMU's `-serial stdio` and GRUB's console are.
    static let com1 = SerialPort(base: 0x3F8)
    let base: UInt16

    private func port(_ register: Register) -> IOPort { IOPort(base + register.rawValue) }

    /// Programs 115200 baud 8N1 with FIFOs on and the port's interrupts off.
    func initialize() {
        port(.interruptEnable).write(0)
        port(.lineControl).write(LineControl.divisorLatchAccess)
        port(.data).write(1)               // divisor 1 = 115200 baud
        port(.interruptEnable).write(0)
        port(.lineControl).write(LineControl.eightNoParityOneStop)
        port(.fifoControl).write(0b1100_0111)  // enable, clear both FIFOs, 14-byte threshold
        port(.modemControl).write(0b0000_0011) // DTR, RTS
    }

    private var lineStatus: LineStatus { LineStatus(rawValue: port(.lineStatus).read()) }

    /// Writes one byte, waiting for room in the transmitter.
    func write(_ byte: UInt8) {
        while !lineStatus.contains(.transmitHoldingEmpty) { Processor.relax() }
        port(.data).write(byte)
    }

    /// Reads one byte if one has arrived.
    func read() -> UInt8? {
        lineStatus.contains(.dataReady) ? port(.data).read() : nil
    }
}
