/// Ends QEMU with a status through the isa-debug-exit device (used by the test harness).

/// `-device isa-debug-exit,iobase=0xf4,iosize=0x04`: writing v makes QEMU exit with status
/// (v << 1) | 1. Without the device the write does nothing and the kernel halts instead.
enum QEMUDebugExit {
    /// QEMU exits 1: the tests passed.
    static func pass() -> Never { exit(code: 0) }
    /// QEMU exits 3: a test failed.
    static func fail() -> Never { exit(code: 1) }

    private static func exit(code: UInt32) -> Never {
        IOPort(0xF4).write32(code)
        Processor.stop()
    }
}
