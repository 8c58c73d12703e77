// scripts/pack-site.sh, run with bash on temporary directories, checked by StaticSite.

import Foundation
import HTTP
import RawBytes
import TestSupport
import XCTest

final class PackSiteTests: XCTestCase {
    /// The repository root, from this file's path (Tests/HTTPTests/PackSiteTests.swift).
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var bash: String? { ["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) } }

    /// Runs the packer; returns its exit status and standard error.
    func pack(_ site: URL, into output: URL) throws -> (status: Int32, errors: String) {
        guard let bash else { throw XCTSkip("bash is not installed: pack-site.sh cannot be tested") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bash)
        process.arguments = [root.appendingPathComponent("scripts/pack-site.sh").path, site.path, output.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pack-site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func write(_ bytes: [UInt8], to path: String, in directory: URL) throws {
        let file = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
    }

    func testPackedDirectoryParsesAndFindsEveryFile() throws {
        let directory = try temporaryDirectory()
        let site = directory.appendingPathComponent("site")
        var random = SplitMix64(seed: 7)
        let files: [String: [UInt8]] = [
            "index.html": ascii("<h1>packed</h1>\n"),
            "a.b": [],
            "a/b/c.txt": ascii("deep"),
            "a-b.css": ascii("x{}"),
            "Z.png": (0..<5000).map { _ in UInt8.random(in: 0...255, using: &random) },   // every byte value, NULs included
            "~user@x:y+z,w;v=1!$&'()*.json": ascii("{}"),
        ]
        for (path, bytes) in files { try write(bytes, to: path, in: site) }
        try write(ascii("hidden"), to: ".git/config", in: site)
        try write(ascii("hidden"), to: "a/.hidden", in: site)
        let output = directory.appendingPathComponent("site.bin")
        let result = try pack(site, into: output)
        XCTAssertEqual(result.status, 0, result.errors)
        let archive = GuardedBuffer(Array(try Data(contentsOf: output)))
        let parsed = try StaticSite(archive.reader)
        XCTAssertEqual(parsed.count, files.count)
        for (path, bytes) in files {
            let file = guarded("/" + path) { parsed.lookup($0) }
            XCTAssertEqual(file.map { bytesOf($0.data) }, bytes, path)
        }
        XCTAssertNil(guarded("/.git/config") { parsed.lookup($0) })
        XCTAssertEqual(guarded("/") { parsed.lookup($0) }.map { bytesOf($0.data) }, files["index.html"])

        // Deterministic: packing again gives the same bytes.
        let again = directory.appendingPathComponent("again.bin")
        XCTAssertEqual(try pack(site, into: again).status, 0)
        XCTAssertEqual(try Data(contentsOf: again), try Data(contentsOf: output))
    }

    func testEmptyDirectoryPacksAnEmptySite() throws {
        let directory = try temporaryDirectory()
        let output = directory.appendingPathComponent("empty.bin")
        let site = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        XCTAssertEqual(try pack(site, into: output).status, 0)
        let archive = GuardedBuffer(Array(try Data(contentsOf: output)))
        XCTAssertEqual(try StaticSite(archive.reader).count, 0)
    }

    func testUnsupportedNamesAreRefused() throws {
        for name in ["with space.html", "percent%20.html", "quote\".txt", "caf\u{e9}.txt"] {
            let directory = try temporaryDirectory()
            let site = directory.appendingPathComponent("site")
            try write(ascii("x"), to: name, in: site)
            let output = directory.appendingPathComponent("out.bin")
            let result = try pack(site, into: output)
            XCTAssertNotEqual(result.status, 0, name)
            XCTAssertTrue(result.errors.contains("unsupported file name"), result.errors)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), name)
        }
    }

    /// The repository's own site packs and holds what the HTTP server program serves.
    func testRepositorySitePacks() throws {
        let directory = try temporaryDirectory()
        let output = directory.appendingPathComponent("site.bin")
        let result = try pack(root.appendingPathComponent("site"), into: output)
        XCTAssertEqual(result.status, 0, result.errors)
        let archive = GuardedBuffer(Array(try Data(contentsOf: output)))
        let site = try StaticSite(archive.reader)
        XCTAssertEqual(guarded("/") { site.lookup($0) }?.contentType, .html)
        XCTAssertEqual(guarded("/data/100k.txt") { site.lookup($0) }?.data.count, 102_400)
        XCTAssertNotNil(guarded("/style.css") { site.lookup($0) })
    }
}
