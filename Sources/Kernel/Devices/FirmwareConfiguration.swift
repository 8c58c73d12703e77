/// QEMU's fw_cfg device: reads named blobs such as `opt/swiglet/cmdline` without rebuilding.
import RawBytes

/// fw_cfg through its x86 I/O ports — QEMU docs/specs/fw_cfg.rst: write a 16-bit selector to
/// port 0x510, then read the item's bytes one at a time from port 0x511.
enum FirmwareConfiguration {
    private static let selectorPort = IOPort(0x510), dataPort = IOPort(0x511)
    private enum Selector: UInt16 { case signature = 0x0000, fileDirectory = 0x0019 }

    /// A file directory entry — fw_cfg.rst "FWCfgFile": big-endian size, select, reserved, name.
    struct FileEntry {
        var size: UInt32
        var selector: UInt16
        var name: InlineArray<56, UInt8>
    }

    private static func select(_ selector: UInt16) { selectorPort.write16(selector) }
    private static func readByte() -> UInt8 { dataPort.read() }
    private static func readBigEndian32() -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(readByte()) }
        return value
    }

    /// Whether QEMU's fw_cfg is there (its signature reads "QEMU").
    static var isPresent: Bool {
        select(Selector.signature.rawValue)
        return readByte() == UInt8(ascii: "Q") && readByte() == UInt8(ascii: "E")
            && readByte() == UInt8(ascii: "M") && readByte() == UInt8(ascii: "U")
    }

    /// Finds the file `name` in the directory.
    static func find(_ name: StaticString) -> FileEntry? {
        guard isPresent else { return nil }
        select(Selector.fileDirectory.rawValue)
        let count = readBigEndian32()
        for _ in 0..<min(count, 4096) {
            var entry = FileEntry(size: readBigEndian32(), selector: 0, name: InlineArray(repeating: 0))
            entry.selector = UInt16(truncatingIfNeeded: readBigEndian32() >> 16)   // select, then 2 reserved bytes
            for index in 0..<56 { entry.name[index] = readByte() }
            if matches(entry.name, name) { return entry }
        }
        return nil
    }

    /// Reads up to `buffer.count` bytes of `file`; returns how many were read.
    static func read(_ file: FileEntry, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        select(file.selector)
        let count = min(Int(file.size), buffer.count)
        for index in 0..<count { buffer[index] = readByte() }
        return count
    }

    private static func matches(_ entryName: InlineArray<56, UInt8>, _ name: StaticString) -> Bool {
        name.withUTF8Buffer { wanted in
            guard wanted.count < 56 else { return false }
            for index in 0..<wanted.count where entryName[index] != wanted[index] { return false }
            return entryName[wanted.count] == 0
        }
    }
}
