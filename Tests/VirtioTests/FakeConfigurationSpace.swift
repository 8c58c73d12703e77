/// A fake PCI configuration space for host tests: functions as byte arrays, BARs that honour
/// the all-ones size probe, and a log of every write.
import PCI

/// One fake function's 256 bytes of configuration space.
final class FakeFunction {
    var bytes = [UInt8](repeating: 0, count: 256)
    /// For each BAR dword index (0–5): the bits software can write. Address bits below the
    /// size and the read-only type bits are 0, so writing all ones reads back the size mask.
    var barWritableMask = [UInt32](repeating: 0, count: 6)

    init(vendor: UInt16, device: UInt16, classCode: UInt8 = 0, subclass: UInt8 = 0,
         headerType: UInt8 = 0, multiFunction: Bool = false) {
        store16(vendor, at: 0x00)
        store16(device, at: 0x02)
        bytes[0x0B] = classCode
        bytes[0x0A] = subclass
        bytes[0x0E] = headerType | (multiFunction ? 0x80 : 0)
    }

    func store16(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    func store32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    func load32(at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    /// A 32-bit memory BAR at slot `index`.
    func memoryBar32(_ index: Int, address: UInt32, size: UInt32, prefetchable: Bool = false) {
        store32(address | (prefetchable ? 0x8 : 0), at: 0x10 + 4 * index)
        barWritableMask[index] = ~(size - 1) & 0xFFFF_FFF0
    }

    /// A 64-bit memory BAR at slots `index` and `index + 1`.
    func memoryBar64(_ index: Int, address: UInt64, size: UInt64, prefetchable: Bool = true) {
        store32(UInt32(truncatingIfNeeded: address) | 0x4 | (prefetchable ? 0x8 : 0), at: 0x10 + 4 * index)
        store32(UInt32(truncatingIfNeeded: address >> 32), at: 0x10 + 4 * (index + 1))
        let mask = ~(size - 1)
        barWritableMask[index] = UInt32(truncatingIfNeeded: mask) & 0xFFFF_FFF0
        barWritableMask[index + 1] = UInt32(truncatingIfNeeded: mask >> 32)
    }

    /// An I/O BAR at slot `index`; as on many devices the upper 16 bits are hardwired to 0.
    func ioBar(_ index: Int, port: UInt16, size: UInt32) {
        store32(UInt32(port) | 0x1, at: 0x10 + 4 * index)
        barWritableMask[index] = ~(size - 1) & 0x0000_FFFC
    }

    /// Writes a capability list: `capabilities` is (offset, id, extra bytes after id/next).
    func capabilities(_ list: [(offset: Int, id: UInt8, next: UInt8)]) {
        bytes[0x06] |= 0x10          // status: capability list
        bytes[0x34] = UInt8(list.first?.offset ?? 0)
        for entry in list {
            bytes[entry.offset] = entry.id
            bytes[entry.offset + 1] = entry.next
        }
    }
}

/// A configuration space holding fake functions; absent functions read all ones.
final class FakeConfigurationSpace: ConfigurationSpace {
    var functions: [Int: FakeFunction] = [:]
    /// Every write, in order.
    var writes: [(address: PCIAddress, offset: UInt8, value: UInt32)] = []
    /// Reads of absent functions (to count probing).
    var readCount = 0
    /// The command register value seen at each BAR write (decode must be off while probing).
    var commandDuringBarWrites: [UInt16] = []
    /// When set, every function number of this (bus, device) answers as its function 0 —
    /// what some single-function devices do.
    var aliasedDevice: (bus: UInt8, device: UInt8)?

    static func key(_ address: PCIAddress) -> Int {
        Int(address.bus) << 8 | Int(address.device) << 3 | Int(address.function)
    }

    func add(_ function: FakeFunction, bus: UInt8, device: UInt8, function number: UInt8) {
        functions[Self.key(PCIAddress(bus: bus, device: device, function: number))] = function
    }

    func function(_ address: PCIAddress) -> FakeFunction? {
        if let alias = aliasedDevice, alias.bus == address.bus, alias.device == address.device {
            return functions[Self.key(PCIAddress(bus: address.bus, device: address.device, function: 0))]
        }
        return functions[Self.key(address)]
    }

    func read32(_ address: PCIAddress, offset: UInt8) -> UInt32 {
        readCount += 1
        guard let function = function(address) else { return 0xFFFF_FFFF }
        return function.load32(at: Int(offset & 0xFC))
    }

    func write32(_ address: PCIAddress, offset: UInt8, value: UInt32) {
        writes.append((address, offset, value))
        guard let function = function(address) else { return }
        let dword = Int(offset & 0xFC)
        switch dword {
        case 0x04:
            // Command is read/write; status bits are write-one-to-clear.
            function.store16(UInt16(truncatingIfNeeded: value), at: 0x04)
            let status = UInt16(function.bytes[0x06]) | UInt16(function.bytes[0x07]) << 8
            function.store16(status & ~UInt16(truncatingIfNeeded: value >> 16), at: 0x06)
        case 0x10..<0x28:
            let index = (dword - 0x10) / 4
            commandDuringBarWrites.append(UInt16(function.bytes[0x04]) | UInt16(function.bytes[0x05]) << 8)
            let mask = function.barWritableMask[index]
            let current = function.load32(at: dword)
            function.store32((value & mask) | (current & ~mask), at: dword)
        default:
            function.store32(value, at: dword)
        }
    }
}
