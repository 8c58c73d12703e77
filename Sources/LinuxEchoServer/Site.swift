// The static site served over HTTP: every file under a directory, read once at start, with its response prebuilt.

#if canImport(Glibc)
import Glibc
#endif

/// One file of the site: the whole GET response (head and body) in one buffer, so a request
/// costs a lookup and a copy into the connection's output; HEAD sends the head part only.
struct SiteFile {
    let path: [UInt8]
    let response: UnsafeRawBufferPointer
    let headLength: Int
}

/// The files of the site by URL path ("/index.html"), looked up without allocating: an
/// open-addressing table keyed by the FNV-1a hash of the path bytes.
final class Site {
    private(set) var files: [SiteFile] = []
    private var table: [Int32]
    private let mask: Int
    /// The responses for errors, prebuilt the same way.
    let notFound: SiteFile
    let methodNotAllowed: SiteFile
    let badRequest: SiteFile
    let tooLarge: SiteFile

    /// Reads every regular file under `directory` (following subdirectories); a missing
    /// directory gives an empty site (every path 404), reported by the caller.
    init(directory: String) {
        var found: [(path: [UInt8], contents: [UInt8])] = []
        Site.walk(directory: directory, prefix: "", into: &found)
        var size = 16
        while size < found.count * 4 { size *= 2 }
        table = [Int32](repeating: -1, count: size)
        mask = size - 1
        notFound = Site.response(status: "404 Not Found", type: "text/plain; charset=utf-8", body: Array("Not Found\n".utf8), path: [])
        methodNotAllowed = Site.response(status: "405 Method Not Allowed", type: "text/plain; charset=utf-8",
                                         body: Array("Method Not Allowed\n".utf8), path: [], extra: "Allow: GET, HEAD\r\n")
        badRequest = Site.response(status: "400 Bad Request", type: "text/plain; charset=utf-8", body: Array("Bad Request\n".utf8),
                                   path: [], extra: "Connection: close\r\n")
        tooLarge = Site.response(status: "413 Content Too Large", type: "text/plain; charset=utf-8",
                                 body: Array("Content Too Large\n".utf8), path: [], extra: "Connection: close\r\n")
        for (path, contents) in found {
            let file = Site.response(status: "200 OK", type: Site.contentType(path), body: contents, path: path)
            insert(file)
            // A directory's index.html also answers for the directory ("/docs/" and "/").
            let suffix = Array("/index.html".utf8)
            if path.count >= suffix.count && Array(path.suffix(suffix.count)) == suffix {
                insert(SiteFile(path: Array(path.dropLast(suffix.count - 1)), response: file.response, headLength: file.headLength))
            }
        }
    }

    private func insert(_ file: SiteFile) {
        var slot = Int(truncatingIfNeeded: file.path.withUnsafeBytes { Site.hash($0) }) & mask
        while table[slot] >= 0 { slot = (slot + 1) & mask }
        table[slot] = Int32(files.count)
        files.append(file)
    }

    /// The file at the decoded `path`, or nil.
    func lookup(_ path: UnsafeRawBufferPointer) -> SiteFile? {
        var slot = Int(truncatingIfNeeded: Site.hash(path)) & mask
        while table[slot] >= 0 {
            let file = files[Int(table[slot])]
            if file.path.count == path.count
                && (path.isEmpty || file.path.withUnsafeBytes({ memcmp($0.baseAddress!, path.baseAddress!, path.count) == 0 })) {
                return file
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    /// The media type by extension, the same names as Swiglet's HTTP module (Sources/HTTP/ContentType.swift).
    static func contentType(_ path: [UInt8]) -> String {
        let name = String(decoding: path, as: UTF8.self)
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "txt": return "text/plain; charset=utf-8"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "svg": return "image/svg+xml"
        case "json": return "application/json"
        case "ico": return "image/x-icon"
        default: return "application/octet-stream"
        }
    }

    /// A prebuilt response: the same fields as Swiglet's (Server, Content-Type, Content-Length).
    static func response(status: String, type: String, body: [UInt8], path: [UInt8], extra: String = "") -> SiteFile {
        let head = Array("HTTP/1.1 \(status)\r\nServer: linux\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n\(extra)\r\n".utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: head.count + body.count, alignment: 16)
        head.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: head.count) }
        if !body.isEmpty { body.withUnsafeBytes { (buffer.baseAddress! + head.count).copyMemory(from: $0.baseAddress!, byteCount: body.count) } }
        return SiteFile(path: path, response: UnsafeRawBufferPointer(buffer), headLength: head.count)
    }

    private static func walk(directory: String, prefix: String, into found: inout [(path: [UInt8], contents: [UInt8])]) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let full = directory + "/" + name
            var status = stat()
            guard stat(full, &status) == 0 else { continue }
            if status.st_mode & S_IFMT == S_IFDIR {
                walk(directory: full, prefix: prefix + "/" + name, into: &found)
            } else if status.st_mode & S_IFMT == S_IFREG, let contents = readFile(full, size: Int(status.st_size)) {
                found.append((Array((prefix + "/" + name).utf8), contents))
            }
        }
    }

    private static func readFile(_ path: String, size: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var contents = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = contents.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            done += count
        }
        return contents
    }
}
