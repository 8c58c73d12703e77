/// How configuration space is reached: port I/O in the kernel, a fake in host tests.

/// The 256-byte configuration space of every PCI function, accessed a dword at a time.
///
/// The kernel implements this with ports 0xCF8/0xCFC (PCI Local Bus 3.0 §3.2.2.3.2); tests
/// implement it with a dictionary of fake registers. Only dword accesses are required: the
/// narrower reads below are built on them.
public protocol ConfigurationSpace {
    /// The dword at `offset` (rounded down to a multiple of 4) of `address`'s configuration
    /// space; 0xFFFF_FFFF when no function answers (master abort).
    func read32(_ address: PCIAddress, offset: UInt8) -> UInt32
    /// Writes the dword at `offset` (rounded down to a multiple of 4).
    func write32(_ address: PCIAddress, offset: UInt8, value: UInt32)
}

extension ConfigurationSpace {
    /// The 16-bit register at `offset` (2-byte aligned), taken from its dword.
    public func read16(_ address: PCIAddress, offset: UInt8) -> UInt16 {
        UInt16(truncatingIfNeeded: read32(address, offset: offset & 0xFC) >> (UInt32(offset & 2) * 8))
    }

    /// The byte register at `offset`, taken from its dword.
    public func read8(_ address: PCIAddress, offset: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: read32(address, offset: offset & 0xFC) >> (UInt32(offset & 3) * 8))
    }

    /// The command register (offset 0x04).
    public func readCommand(_ address: PCIAddress) -> CommandRegister {
        CommandRegister(rawValue: read16(address, offset: HeaderRegister.command.rawValue))
    }

    /// Replaces the command register. The dword written carries zero in the status half:
    /// status bits are write-one-to-clear (§6.2.3), so zeros leave them untouched — a
    /// read-modify-write of the dword would clear every pending error bit instead.
    public func writeCommand(_ address: PCIAddress, _ command: CommandRegister) {
        write32(address, offset: HeaderRegister.command.rawValue, value: UInt32(command.rawValue))
    }
}
