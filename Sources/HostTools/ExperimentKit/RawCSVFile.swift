/// raw.csv on disk: opened (or created) for appending one row per run, the rows already there read back.

import Foundation

/// An experiment's raw.csv, opened to append to. Opening reads the runs already recorded so that
/// a resumed experiment skips them (`completedKeys`), writes the header into a new or empty
/// file, and cuts off a last row that an interrupted writer left without its line break, so
/// the next row starts on a line of its own. Each `append` writes one whole row at once.
public struct RawCSVFile: Sendable {
    public let path: String
    /// Every record in the file: those there at opening, then those appended.
    public private(set) var records: [RunRecord]
    /// The partial row cut off at opening, if there was one (for the runner to report).
    public let discardedRow: String?

    /// Opens `path`, creating it with the header if it does not exist or is empty.
    public init(path: String) throws(CSVError) {
        self.path = path
        let (records, incomplete) = try RawCSV.read(path: path)
        self.records = records
        discardedRow = incomplete
        do {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw CSVError(file: path, line: nil, message: "cannot create the file")
                }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            var end = try handle.seekToEnd()
            if let incomplete {
                end -= UInt64(incomplete.utf8.count)
                try handle.truncate(atOffset: end)
            }
            if end == 0 {
                // A new or empty file, or one holding only part of its header.
                try handle.write(contentsOf: Data(RawCSV.header.utf8))
            }
        } catch let error as CSVError {
            throw error
        } catch {
            throw CSVError(file: path, line: nil, message: "cannot open for appending: \(error.localizedDescription)")
        }
    }

    /// The run keys recorded, ok or failed: what a resumed experiment skips.
    public var completedKeys: Set<String> { Set(records.map(\.runKey)) }

    /// Writes `record` as the file's last row.
    public mutating func append(_ record: RunRecord) throws(CSVError) {
        let row = try RawCSV.row(record)
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(row.utf8))
        } catch {
            throw CSVError(file: path, line: nil, message: "cannot append: \(error.localizedDescription)")
        }
        records.append(record)
    }
}
