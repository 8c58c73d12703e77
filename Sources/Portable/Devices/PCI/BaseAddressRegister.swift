/// What one base address register decodes: a memory range, an I/O port range, or nothing.

/// A decoded base address register — PCI Local Bus 3.0 §6.2.5.1.
public enum BaseAddressRegister: Equatable, Sendable {
    /// A memory range at `address` of `size` bytes (a power of two). `is64Bit` BARs use the
    /// next slot for the upper half of the address; that slot reads as `unused`.
    case memory(address: UInt64, size: UInt64, prefetchable: Bool, is64Bit: Bool)
    /// An I/O port range at `port` of `size` ports.
    case io(port: UInt16, size: UInt32)
    /// Not implemented by the function, or the upper half of the previous 64-bit BAR.
    case unused
}

/// The six BARs of a type 0 header, stored inline so that reading them never allocates.
public struct BaseAddressRegisters: Equatable, Sendable {
    /// The number of BARs in a type 0 header.
    public static var count: Int { 6 }

    private var slot0 = BaseAddressRegister.unused
    private var slot1 = BaseAddressRegister.unused
    private var slot2 = BaseAddressRegister.unused
    private var slot3 = BaseAddressRegister.unused
    private var slot4 = BaseAddressRegister.unused
    private var slot5 = BaseAddressRegister.unused

    /// Six unused BARs.
    public init() {}

    /// BAR `index`, 0 to 5.
    public subscript(index: Int) -> BaseAddressRegister {
        get {
            switch index {
            case 0: return slot0
            case 1: return slot1
            case 2: return slot2
            case 3: return slot3
            case 4: return slot4
            case 5: return slot5
            default: preconditionFailure("BAR index above 5")
            }
        }
        set {
            switch index {
            case 0: slot0 = newValue
            case 1: slot1 = newValue
            case 2: slot2 = newValue
            case 3: slot3 = newValue
            case 4: slot4 = newValue
            case 5: slot5 = newValue
            default: preconditionFailure("BAR index above 5")
            }
        }
    }
}

/// The bits of a BAR's low dword — PCI Local Bus 3.0 §6.2.5.1, figures 6-5 and 6-6.
enum BaseAddressBit {
    /// Bit 0: 1 for an I/O BAR, 0 for a memory BAR.
    static let ioSpace: UInt32 = 1 << 0
    /// Bits 2:1 of a memory BAR: 00 32-bit, 10 64-bit (01 was "below 1 MiB", treated as 32-bit).
    static let memoryType: UInt32 = 0b110
    /// The memory type value of a 64-bit BAR.
    static let memoryType64: UInt32 = 0b100
    /// Bit 3 of a memory BAR: prefetchable.
    static let prefetchable: UInt32 = 1 << 3
    /// The address bits of a memory BAR's low dword.
    static let memoryAddress: UInt32 = 0xFFFF_FFF0
    /// The address bits of an I/O BAR.
    static let ioAddress: UInt32 = 0xFFFF_FFFC
}

/// Decodes and sizes the six BARs of the type 0 function at `address`.
///
/// Sizing is the standard probe (§6.2.5.1): write all ones, read back which address bits
/// stuck, restore the original value; the lowest writable address bit is the size. Decoding
/// is switched off in the command register meanwhile, so the device never answers at the
/// temporary all-ones address, and restored afterwards. Call it before drivers use the device.
public func readBaseAddressRegisters<Space: ConfigurationSpace>(_ space: Space, _ address: PCIAddress) -> BaseAddressRegisters {
    let command = space.readCommand(address)
    space.writeCommand(address, command.subtracting(CommandRegister.ioSpace.union(.memorySpace)))
    var result = BaseAddressRegisters()
    var index = 0
    while index < BaseAddressRegisters.count {
        let offset = HeaderRegister.baseAddress0.rawValue + UInt8(index * 4)
        let original = space.read32(address, offset: offset)
        let probed = probe(space, address, offset: offset, original: original)
        if original & BaseAddressBit.ioSpace != 0 {
            let mask = probed & BaseAddressBit.ioAddress
            if mask != 0 {
                result[index] = .io(port: UInt16(truncatingIfNeeded: original & BaseAddressBit.ioAddress),
                                    size: mask & (0 &- mask))
            }
            index += 1
        } else if original & BaseAddressBit.memoryType == BaseAddressBit.memoryType64 {
            // The upper half lives in the next slot; a 64-bit BAR in slot 5 is malformed.
            guard index + 1 < BaseAddressRegisters.count else { break }
            let upperOffset = offset + 4
            let originalUpper = space.read32(address, offset: upperOffset)
            let probedUpper = probe(space, address, offset: upperOffset, original: originalUpper)
            let mask = UInt64(probedUpper) << 32 | UInt64(probed & BaseAddressBit.memoryAddress)
            if mask != 0 {
                result[index] = .memory(
                    address: UInt64(originalUpper) << 32 | UInt64(original & BaseAddressBit.memoryAddress),
                    size: mask & (0 &- mask),
                    prefetchable: original & BaseAddressBit.prefetchable != 0,
                    is64Bit: true)
            }
            index += 2
        } else {
            let mask = probed & BaseAddressBit.memoryAddress
            if mask != 0 {
                result[index] = .memory(address: UInt64(original & BaseAddressBit.memoryAddress),
                                        size: UInt64(mask & (0 &- mask)),
                                        prefetchable: original & BaseAddressBit.prefetchable != 0,
                                        is64Bit: false)
            }
            index += 1
        }
    }
    space.writeCommand(address, command)
    return result
}

/// Writes all ones to the BAR at `offset`, returns what reads back, and restores `original`.
private func probe<Space: ConfigurationSpace>(_ space: Space, _ address: PCIAddress, offset: UInt8, original: UInt32) -> UInt32 {
    space.write32(address, offset: offset, value: 0xFFFF_FFFF)
    let probed = space.read32(address, offset: offset)
    space.write32(address, offset: offset, value: original)
    return probed
}
