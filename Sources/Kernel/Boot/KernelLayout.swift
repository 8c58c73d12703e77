/// Where the linker put the kernel's sections, stacks and per-CPU blocks (from boot/layout.asm).

@_extern(c, "kernel_layout_table_address") func kernel_layout_table_address() -> UnsafePointer<UInt64>

/// Addresses fixed at link time, in the order of `kernel_layout_table` in boot/layout.asm.
struct KernelLayout {
    let image: ClosedOpenRange
    let text: ClosedOpenRange
    let readOnlyData: ClosedOpenRange
    let data: ClosedOpenRange
    /// The unmapped page under the boot CPU's stack.
    let bootStackGuard: UInt64
    let bootStack: ClosedOpenRange
    let trampolineImage: ClosedOpenRange
    let interruptStubTable: UnsafePointer<UInt64>
    let cpuBlocks: UInt64
    let maximumCPUs: Int
    let cpuBlockBytes: Int
    /// The boot CPU's descriptor tables (two pages) and its interrupt stacks: three times
    /// [guard page][stack of `bootInterruptStackBytes`].
    let bootDescriptorTables: UInt64
    let bootInterruptStacks: UInt64
    let bootInterruptStackBytes: UInt64

    /// A half-open address range [start, end).
    struct ClosedOpenRange {
        let start: UInt64, end: UInt64
        var length: UInt64 { end - start }
    }

    static var current: KernelLayout {
        let table = kernel_layout_table_address()
        func range(_ index: Int) -> ClosedOpenRange { ClosedOpenRange(start: table[index], end: table[index + 1]) }
        return KernelLayout(
            image: range(0), text: range(2), readOnlyData: range(4), data: range(6),
            bootStackGuard: table[8], bootStack: range(9), trampolineImage: range(11),
            interruptStubTable: UnsafePointer(bitPattern: UInt(table[13]))!,
            cpuBlocks: table[14], maximumCPUs: Int(table[15]), cpuBlockBytes: Int(table[16]),
            bootDescriptorTables: table[17], bootInterruptStacks: table[18], bootInterruptStackBytes: table[19])
    }
}
