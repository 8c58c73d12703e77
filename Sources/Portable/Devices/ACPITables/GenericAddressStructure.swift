// The ACPI Generic Address Structure: where a register lives (memory, I/O port, PCI config...).

import RawBytes

/// Generic Address Structure — ACPI 6.5 §5.2.3.2 (Table 5.1), 12 bytes: Address Space ID 0,
/// Register Bit Width 1, Register Bit Offset 2, Access Size 3, Address 4 (u64).
public struct GenericAddressStructure: Equatable {
    /// Size of the structure in bytes.
    public static let size = 12

    /// Address Space ID values — ACPI 6.5 §5.2.3.2.
    public enum AddressSpace: Equatable {
        /// System memory (0).
        case systemMemory
        /// System I/O ports (1).
        case systemIO
        /// PCI configuration space (2).
        case pciConfiguration
        /// Any other address space, raw value kept.
        case other(UInt8)

        /// Decodes an Address Space ID.
        public init(rawValue: UInt8) {
            switch rawValue {
            case 0: self = .systemMemory
            case 1: self = .systemIO
            case 2: self = .pciConfiguration
            default: self = .other(rawValue)
            }
        }
    }

    /// The address space the register is in.
    public let addressSpace: AddressSpace
    /// Size of the register in bits.
    public let registerBitWidth: UInt8
    /// Bit offset of the register at `address`.
    public let registerBitOffset: UInt8
    /// Access size: 0 undefined, 1 byte, 2 word, 3 dword, 4 qword.
    public let accessSize: UInt8
    /// Address of the register in its address space.
    public let address: UInt64

    /// Creates a structure from its fields.
    public init(
        addressSpace: AddressSpace, registerBitWidth: UInt8, registerBitOffset: UInt8, accessSize: UInt8, address: UInt64
    ) {
        self.addressSpace = addressSpace
        self.registerBitWidth = registerBitWidth
        self.registerBitOffset = registerBitOffset
        self.accessSize = accessSize
        self.address = address
    }

    /// Decodes the structure at `offset` of `bytes`; `nil` when out of range.
    public init?(_ bytes: ByteReader, at offset: Int) {
        guard let space = bytes.u8(at: offset), let width = bytes.u8(at: offset + 1),
              let bitOffset = bytes.u8(at: offset + 2), let access = bytes.u8(at: offset + 3),
              let address = bytes.u64(at: offset + 4)
        else { return nil }
        self.addressSpace = AddressSpace(rawValue: space)
        self.registerBitWidth = width
        self.registerBitOffset = bitOffset
        self.accessSize = access
        self.address = address
    }
}
