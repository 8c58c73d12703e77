// Helpers of the HTTP tests: archives built in memory, and conversations with a session.

import HTTP
import RawBytes
import TestSupport
import XCTest

/// Builds a StaticSite archive (the format documented on `StaticSite`) from files in the
/// given order (the packer sorts; tests may not, to check validation).
func buildArchive(_ files: [(path: String, data: [UInt8])]) -> [UInt8] {
    var bytes = ascii("SWGSITE1")
    bytes.appendLittleEndian(UInt32(files.count))
    bytes.appendLittleEndian(UInt32(0))   // total length, patched below
    var offset = 16 + 16 * files.count
    var pathOffsets: [Int] = []
    for file in files {
        pathOffsets.append(offset)
        offset += file.path.utf8.count
    }
    var dataOffsets: [Int] = []
    for file in files {
        dataOffsets.append(offset)
        offset += file.data.count
    }
    for (index, file) in files.enumerated() {
        bytes.appendLittleEndian(UInt32(pathOffsets[index]))
        bytes.appendLittleEndian(UInt32(file.path.utf8.count))
        bytes.appendLittleEndian(UInt32(dataOffsets[index]))
        bytes.appendLittleEndian(UInt32(file.data.count))
    }
    for file in files { bytes += ascii(file.path) }
    for file in files { bytes += file.data }
    bytes.storeLittleEndian(UInt32(bytes.count), at: 12)
    return bytes
}

/// The site most tests serve.
let sampleFiles: [(path: String, data: [UInt8])] = [
    ("/about.txt", ascii("about\n")),
    ("/data/big.bin", (0..<3000).map { UInt8($0 & 0xFF) }),
    ("/docs/index.html", ascii("<p>docs</p>")),
    ("/index.html", ascii("<h1>hi</h1>")),
    ("/style.css", ascii("body{}")),
]

/// A site over guarded memory (kept alive by the returned buffer).
func makeSite(_ files: [(path: String, data: [UInt8])] = sampleFiles) throws -> (StaticSite, GuardedBuffer) {
    let memory = GuardedBuffer(buildArchive(files))
    let site = try StaticSite(memory.reader)
    return (site, memory)
}

/// A content source that always fails (for 500).
struct FailingSource: HTTPContentSource {
    mutating func content(for path: ByteReader) -> HTTPContentLookup { .failed }
}

/// What a connection saw: every response byte in order, the statuses, and whether the session
/// asked to close.
struct Conversation {
    var output: [UInt8] = []
    var statuses: [UInt16] = []
    var closed = false
    var text: String { String(decoding: output, as: UTF8.self) }
}

/// Feeds `input` to `session` in pieces ending at `splits` (offsets into `input`), the way the
/// server program does: after each response, the unconsumed rest is fed again.
func converse<Source: HTTPContentSource>(_ session: inout HTTPServerSession<Source>, _ input: [UInt8],
                                         splits: [Int] = []) -> Conversation {
    var conversation = Conversation()
    var head = [UInt8](repeating: 0, count: HTTPResponseHead.maximumLength)
    var pending: [UInt8] = []
    var start = 0
    for end in splits + [input.count] where end >= start {
        pending += input[start..<end]
        start = end
        while true {
            let (consumed, response) = pending.withUnsafeBytes { bytes in
                head.withUnsafeMutableBytes { session.receive(bytes, headBuffer: $0) }
            }
            XCTAssert(consumed <= pending.count)
            pending.removeFirst(consumed)
            guard let response else {
                XCTAssertTrue(pending.isEmpty, "the session left input without answering")
                break
            }
            conversation.output += Array(response.head)
            conversation.output += Array(response.body)
            conversation.statuses.append(response.status.rawValue)
            if response.closesConnection {
                conversation.closed = true
                return conversation
            }
        }
    }
    return conversation
}

/// One conversation with a fresh session over the sample site.
func serve(_ request: String, splits: [Int] = [], limits: HTTPLimits = HTTPLimits()) throws -> Conversation {
    let (site, memory) = try makeSite()
    var session = HTTPServerSession(source: site, limits: limits)
    let conversation = converse(&session, ascii(request), splits: splits)
    withExtendedLifetime(memory) {}
    return conversation
}

/// Calls `body` with `text`'s bytes in guarded memory, kept alive during the call.
func guarded<Result>(_ text: String, _ body: (ByteReader) -> Result) -> Result {
    let memory = GuardedBuffer(ascii(text))
    return withExtendedLifetime(memory) { body(memory.reader) }
}
