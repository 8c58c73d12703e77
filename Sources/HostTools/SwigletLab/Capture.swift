/// The pcap of a boot: kept only when one of its runs failed, and then only its first megabytes.

import ExperimentKit
import Foundation

enum Capture {
    /// A kept capture is cut to at most this many bytes (at a frame boundary).
    static let limit = 5 << 20
    /// Bytes of each frame filter-dump keeps: every header and the start of an HTTP answer,
    /// not whole bodies (which would write hundreds of megabytes to the disk during a run).
    static let frameBytes = 256

    /// Deletes the capture at `path` when `keep` is false; else cuts it to `limit` bytes.
    /// Returns what happened, for the log.
    @discardableResult
    static func finish(_ path: String, keep: Bool) -> String {
        let manager = FileManager.default
        guard manager.fileExists(atPath: path) else { return "no capture" }
        guard keep else {
            try? manager.removeItem(atPath: path)
            return "capture deleted (every run ok)"
        }
        let size = (try? manager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > limit else { return "capture kept: \(path)" }
        guard let handle = FileHandle(forUpdatingAtPath: path) else { return "capture kept uncut: \(path)" }
        defer { try? handle.close() }
        // Enough to find the last frame that ends within the limit.
        let head = [UInt8](handle.readData(ofLength: limit + PcapTrim.recordHeaderSize + 65536))
        guard let length = PcapTrim.cutLength(head, limit: limit) else {
            try? handle.close()
            try? manager.removeItem(atPath: path)
            return "capture was no pcap: deleted"
        }
        try? handle.truncate(atOffset: UInt64(length))
        return "capture cut from \(size) to \(length) bytes: \(path)"
    }
}
