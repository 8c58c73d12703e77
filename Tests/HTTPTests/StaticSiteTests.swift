// StaticSite: lookups, and refusal (never a crash) of truncated and corrupted archives.

import HTTP
import RawBytes
import TestSupport
import XCTest

final class StaticSiteTests: XCTestCase {
    func site(_ bytes: [UInt8]) -> (Result<StaticSite, StaticSiteError>, GuardedBuffer) {
        let memory = GuardedBuffer(bytes)
        do {
            return (.success(try StaticSite(memory.reader)), memory)
        } catch {
            return (.failure(error), memory)
        }
    }

    func error(_ bytes: [UInt8]) -> StaticSiteError? {
        let (result, memory) = site(bytes)
        defer { withExtendedLifetime(memory) {} }
        if case .failure(let error) = result { return error }
        return nil
    }

    func testLookups() throws {
        let (site, memory) = try makeSite()
        XCTAssertEqual(site.count, 5)
        for file in sampleFiles {
            let found = guarded(file.path) { site.lookup($0) }
            XCTAssertEqual(found.map { bytesOf($0.data) }, file.data, file.path)
            XCTAssertTrue(memory.encloses(found!.data))
        }
        XCTAssertEqual(guarded("/") { site.lookup($0) }.map { bytesOf($0.data) }, ascii("<h1>hi</h1>"))
        XCTAssertEqual(guarded("/") { site.lookup($0) }?.contentType, .html)
        for missing in ["/index.htm", "/index.html/", "/abc", "/zzz", "", "/data", "/data/", "/about.tx", "/about.txtx"] {
            XCTAssertNil(guarded(missing) { site.lookup($0) }, missing)
        }
    }

    func testEmptySiteFindsNothing() throws {
        let (site, memory) = try makeSite([])
        XCTAssertEqual(site.count, 0)
        XCTAssertNil(guarded("/") { site.lookup($0) })
        withExtendedLifetime(memory) {}
    }

    func testContentTypes() {
        let expected: [(String, ContentType)] = [
            ("/a.html", .html), ("/a.HTM", .html), ("/s.css", .css), ("/x.js", .javascript), ("/t.txt", .plainText),
            ("/i.png", .png), ("/i.jpg", .jpeg), ("/i.JPEG", .jpeg), ("/i.svg", .svg), ("/d.json", .json),
            ("/favicon.ico", .icon), ("/noextension", .octetStream), ("/dir.d/file", .octetStream),
            ("/archive.tar.gz", .octetStream), ("/trailingdot.", .octetStream),
        ]
        for (path, type) in expected {
            XCTAssertEqual(guarded(path) { ContentType(path: $0) }, type, path)
        }
    }

    func testEveryTruncationIsRefused() {
        let archive = buildArchive(sampleFiles)
        for length in 0..<archive.count {
            var truncated = Array(archive[0..<length])
            // Even with the length field fixed up, a truncated table or file is refused.
            if length >= 16 { truncated.storeLittleEndian(UInt32(length), at: 12) }
            XCTAssertNotNil(error(truncated), "truncated to \(length)")
        }
        XCTAssertEqual(error(Array(archive[0..<15])), .truncatedHeader)
        XCTAssertEqual(error(Array(archive[0..<100])), .lengthMismatch(declared: UInt32(archive.count), actual: 100))
    }

    func testCorruptFieldsAreRefused() {
        let archive = buildArchive(sampleFiles)
        func corrupt(_ change: (inout [UInt8]) -> Void) -> StaticSiteError? {
            var bytes = archive
            change(&bytes)
            return error(bytes)
        }
        let entry1 = 16 + 16
        XCTAssertEqual(corrupt { $0[0] = UInt8(ascii: "X") }, .badMagic)
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32(1000), at: 8) }, .tableOutOfBounds)
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32.max, at: 8) }, .tableOutOfBounds)
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32.max, at: entry1) }, .pathOutOfBounds(entry: 1))
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32.max, at: entry1 + 4) }, .pathOutOfBounds(entry: 1))
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32(0), at: entry1 + 4) }, .badPath(entry: 1))
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32(archive.count), at: entry1 + 8) }, .dataOutOfBounds(entry: 1))
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32(archive.count - 10), at: entry1 + 8) }, .dataOutOfBounds(entry: 1))
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32.max - 2, at: entry1 + 12) }, .dataOutOfBounds(entry: 1))
        // An empty file at the very end is fine.
        XCTAssertNil(corrupt {
            $0.storeLittleEndian(UInt32(archive.count), at: entry1 + 8)
            $0.storeLittleEndian(UInt32(0), at: entry1 + 12)
        })
        // Entry 1 pointing at entry 0's path: a duplicate.
        XCTAssertEqual(corrupt { $0.storeLittleEndian(UInt32(16 + 16 * 5), at: entry1) ; $0.storeLittleEndian(UInt32(10), at: entry1 + 4) },
                       .notSorted(entry: 1))
    }

    func testBadPathsAndOrderAreRefused() {
        for path in ["index.html", "/", "//a", "/a//b", "/a/", "/../a", "/a/..", "/./a", "/a%20b", "/a b", "/a\u{0}",
                     "/" + String(repeating: "x", count: 300)] {
            XCTAssertEqual(error(buildArchive([(path, [1])])), .badPath(entry: 0), path.debugDescription)
        }
        XCTAssertNil(error(buildArchive([("/.well-known/x", [1]), ("/a..b", [2]), ("/~user/@:!$&'()*+,;=", [3])])))
        XCTAssertEqual(error(buildArchive([("/b", []), ("/a", [])])), .notSorted(entry: 1))
        XCTAssertEqual(error(buildArchive([("/a", []), ("/a", [])])), .notSorted(entry: 1))
        XCTAssertEqual(error(buildArchive([("/ab", []), ("/a", [])])), .notSorted(entry: 1))
        XCTAssertNil(error(buildArchive([("/a", []), ("/a.b", []), ("/a/b", []), ("/ab", [])])))
    }

    /// Random corruption of random bytes: init either refuses the archive or accepts one whose
    /// every file lies inside it (guard pages catch any read outside).
    func testRandomCorruptionNeverCrashes() {
        var random = SplitMix64(seed: 0x5157_4954)
        let archive = buildArchive(sampleFiles)
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = archive
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                // Mostly the header and table, where corruption matters.
                let index = Int.random(in: 0..<(Bool.random(using: &random) ? 16 + 16 * 5 : bytes.count), using: &random)
                bytes[index] = UInt8.random(in: 0...255, using: &random)
            }
            let (result, memory) = site(bytes)
            if case .success(let site) = result {
                accepted += 1
                for index in 0..<site.count {
                    let file = site.file(at: index)
                    XCTAssertTrue(memory.encloses(file.path) && memory.encloses(file.data))
                    XCTAssertEqual(site.lookup(file.path), file)
                }
            }
        }
        XCTAssertGreaterThan(accepted, 0)
    }
}
