// The static-site archive: a validated, read-only table of paths and file contents.

import RawBytes

/// Why an archive was refused. A corrupted archive is an error value, never a crash.
public enum StaticSiteError: Error, Equatable, Sendable {
    /// Shorter than the 16-byte header.
    case truncatedHeader
    /// The first 8 bytes are not `StaticSite.magic`.
    case badMagic
    /// The header's total length is not the archive's length.
    case lengthMismatch(declared: UInt32, actual: Int)
    /// The entry table does not fit in the archive.
    case tableOutOfBounds
    /// Entry `index` names path bytes outside the archive.
    case pathOutOfBounds(entry: Int)
    /// Entry `index`'s path is empty, too long, not starting with "/", has a character
    /// outside RFC 3986's path characters (no "%": paths are stored decoded), or has an
    /// empty, "." or ".." segment.
    case badPath(entry: Int)
    /// Entry `index`'s path does not sort strictly after the previous one (byte order):
    /// the table is unsorted or has a duplicate.
    case notSorted(entry: Int)
    /// Entry `index` names data bytes outside the archive.
    case dataOutOfBounds(entry: Int)
}

/// A read-only static web site packed into one archive (by `scripts/pack-site.sh`), checked
/// once by `init` so lookups never read outside it. Never allocates.
///
/// Format, all integers little-endian unsigned 32-bit:
///
///     offset  size     field
///     0       8        magic "SWGSITE1"
///     8       4        entry count N
///     12      4        total archive length in bytes
///     16      16 × N   entries: path offset, path length, data offset, data length
///                      (offsets from the start of the archive), sorted by path in byte order
///     ...              path bytes and file data, anywhere after the table
///
/// A path is the file's URL path, starting with "/" (e.g. "/index.html", "/img/logo.png"),
/// at most `HTTPRequestParser.maximumPathLength` bytes of RFC 3986 path characters, without
/// empty, "." or ".." segments.
public struct StaticSite: HTTPContentSource {
    /// The archive's first 8 bytes.
    public static let magic: StaticString = "SWGSITE1"
    /// Bytes of the header.
    public static let headerLength = 16
    /// Bytes of one table entry.
    public static let entryLength = 16

    /// A file of the site.
    public struct File: Equatable {
        /// Its URL path.
        public var path: ByteReader
        /// Its contents.
        public var data: ByteReader
        /// Its media type, from its extension.
        public var contentType: ContentType

        public static func == (left: File, right: File) -> Bool {
            left.path.baseAddress == right.path.baseAddress && left.path.count == right.path.count
                && left.data.baseAddress == right.data.baseAddress && left.data.count == right.data.count
        }
    }

    /// The whole archive.
    public let archive: ByteReader
    /// The number of files.
    public let count: Int

    /// Checks `archive` completely (header, every entry, sort order); the memory must stay
    /// mapped and unchanged while the site is used.
    public init(_ archive: ByteReader) throws(StaticSiteError) {
        guard archive.count >= Self.headerLength, let declaredCount = archive.u32(at: 8),
              let declaredLength = archive.u32(at: 12) else { throw .truncatedHeader }
        guard archive.matches(Self.magic) else { throw .badMagic }
        guard Int(declaredLength) == archive.count else {
            throw .lengthMismatch(declared: declaredLength, actual: archive.count)
        }
        let count = Int(declaredCount)
        guard count <= (archive.count - Self.headerLength) / Self.entryLength else { throw .tableOutOfBounds }
        self.archive = archive
        self.count = count
        var previous: ByteReader? = nil
        for index in 0..<count {
            let entry = Self.headerLength + index * Self.entryLength
            // The table is inside the archive (checked above), so these reads succeed.
            let pathOffset = Int(archive.u32(at: entry) ?? 0), pathLength = Int(archive.u32(at: entry + 4) ?? 0)
            let dataOffset = Int(archive.u32(at: entry + 8) ?? 0), dataLength = Int(archive.u32(at: entry + 12) ?? 0)
            guard let path = archive.slice(at: pathOffset, count: pathLength) else { throw .pathOutOfBounds(entry: index) }
            guard Self.isValidPath(path) else { throw .badPath(entry: index) }
            if let previous, Self.compare(previous, path, suffix: "") >= 0 { throw .notSorted(entry: index) }
            guard archive.slice(at: dataOffset, count: dataLength) != nil else { throw .dataOutOfBounds(entry: index) }
            previous = path
        }
    }

    /// The file at table position `index` (0..<count).
    public func file(at index: Int) -> File {
        precondition(index >= 0 && index < count, "StaticSite: file index out of range")
        let entry = Self.headerLength + index * Self.entryLength
        // Every entry was checked by init.
        let path = archive.slice(at: Int(archive.u32(at: entry)!), count: Int(archive.u32(at: entry + 4)!))!
        let data = archive.slice(at: Int(archive.u32(at: entry + 8)!), count: Int(archive.u32(at: entry + 12)!))!
        return File(path: path, data: data, contentType: ContentType(path: path))
    }

    /// The file at the decoded URL `path`; a path ending in "/" (such as "/") means its
    /// "index.html". Binary search: O(log count).
    public func lookup(_ path: ByteReader) -> File? {
        let suffix: StaticString = path.count > 0 && path.u8(at: path.count - 1) == UInt8(ascii: "/") ? "index.html" : ""
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            let candidate = file(at: middle)
            let order = Self.compare(candidate.path, path, suffix: suffix)
            if order == 0 { return candidate }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// `HTTPContentSource`: the file's data and type, or not found.
    public mutating func content(for path: ByteReader) -> HTTPContentLookup {
        guard let file = lookup(path) else { return .notFound }
        return .found(body: UnsafeRawBufferPointer(start: file.data.baseAddress, count: file.data.count),
                      type: file.contentType)
    }

    /// Byte-order comparison of `left` with `right` followed by `suffix`: negative, 0, positive.
    static func compare(_ left: ByteReader, _ right: ByteReader, suffix: StaticString) -> Int {
        let rightCount = right.count + suffix.utf8CodeUnitCount
        var index = 0
        while index < left.count && index < rightCount {
            let leftByte = left.u8(at: index)!
            let rightByte = index < right.count ? right.u8(at: index)! : suffix.utf8Start[index - right.count]
            if leftByte != rightByte { return leftByte < rightByte ? -1 : 1 }
            index += 1
        }
        return left.count - rightCount
    }

    /// Whether `path` is a well-formed archive path (see the type's documentation).
    static func isValidPath(_ path: ByteReader) -> Bool {
        guard path.count >= 2, path.count <= HTTPRequestParser.maximumPathLength,
              path.u8(at: 0) == UInt8(ascii: "/") else { return false }
        var segmentStart = 1
        var index = 1
        while index <= path.count {
            let byte = index < path.count ? path.u8(at: index)! : UInt8(ascii: "/")
            if byte == UInt8(ascii: "/") {
                let length = index - segmentStart
                if length == 0 { return false }
                let first = path.u8(at: segmentStart)
                if first == UInt8(ascii: "."), length == 1 || (length == 2 && path.u8(at: segmentStart + 1) == UInt8(ascii: ".")) {
                    return false
                }
                segmentStart = index + 1
            } else if !byte.isPathCharacter {
                return false
            }
            index += 1
        }
        return true
    }
}
