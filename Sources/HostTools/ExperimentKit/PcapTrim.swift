/// Where to cut a pcap file so that it keeps whole frames: failed runs keep their capture, but not more than a few megabytes of it.

/// The classic pcap format (libpcap, "pcap-savefile"(5)): a 24-byte file header, then for each
/// frame a 16-byte record header whose bytes 8–11 are the captured length, then the frame.
/// Both byte orders exist (the magic number says which); QEMU's filter-dump writes the host's.
public enum PcapTrim {
    public static let fileHeaderSize = 24
    public static let recordHeaderSize = 16

    /// The largest length of at most `limit` bytes that ends on a record boundary of `bytes`
    /// (a pcap's first bytes; they may end mid-record): the file cut there reads cleanly. Nil
    /// when `bytes` is not a pcap. A file within `limit` keeps its whole length.
    public static func cutLength(_ bytes: [UInt8], limit: Int) -> Int? {
        guard bytes.count >= fileHeaderSize else { return nil }
        let magic = Array(bytes[0..<4])
        let littleEndian: Bool
        switch magic {
        case [0xD4, 0xC3, 0xB2, 0xA1], [0x4D, 0x3C, 0xB2, 0xA1]: littleEndian = true   // µs, ns
        case [0xA1, 0xB2, 0xC3, 0xD4], [0xA1, 0xB2, 0x3C, 0x4D]: littleEndian = false
        default: return nil
        }
        var offset = fileHeaderSize
        while offset + recordHeaderSize <= bytes.count {
            let field = bytes[(offset + 8)..<(offset + 12)].map(Int.init)
            let captured = littleEndian ? field[0] | field[1] << 8 | field[2] << 16 | field[3] << 24
                                        : field[3] | field[2] << 8 | field[1] << 16 | field[0] << 24
            let next = offset + recordHeaderSize + captured
            guard next <= bytes.count, next <= limit else { break }
            offset = next
        }
        return min(offset, max(limit, fileHeaderSize))
    }
}
