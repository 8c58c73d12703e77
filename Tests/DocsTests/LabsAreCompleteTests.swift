/// Every lab of docs/labs is complete: a README with its goal, hints and check, and a `check` file whose lines name checkers that exist.
import Foundation
import XCTest

final class LabsAreCompleteTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func labs() throws -> [String] {
        let directory = root.appendingPathComponent("docs/labs")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/check").path) }
            .sorted()
    }

    func testThereAreAtLeastFiveLabs() throws {
        let labs = try Self.labs()
        XCTAssertGreaterThanOrEqual(labs.count, 5, "docs/labs holds \(labs)")
    }

    func testEachLabHasAGoalHintsAndACheck() throws {
        for lab in try Self.labs() {
            let readme = try String(contentsOf: Self.root.appendingPathComponent("docs/labs/\(lab)/README.md"), encoding: .utf8)
            XCTAssertTrue(readme.hasPrefix("# "), "\(lab): the README starts with its title")
            for section in ["## Goal", "## Hints", "## Check"] {
                XCTAssertTrue(readme.contains(section), "\(lab): README has \(section)")
            }
            XCTAssertTrue(readme.contains("make lab-check LAB=\(lab)"), "\(lab): README says how to check it")
        }
    }

    /// Each `check` line names something that exists: a LabChecks test class, a SystemTests
    /// class named Lab..., or a file path in the tree (files a student writes need not exist).
    func testEachCheckLineNamesAnExistingChecker() throws {
        let testSources = try Self.sources(in: "Tests/LabChecks") + Self.sources(in: "Tests/SystemTests")
        for lab in try Self.labs() {
            let check = try String(contentsOf: Self.root.appendingPathComponent("docs/labs/\(lab)/check"), encoding: .utf8)
            let lines = check.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            XCTAssertFalse(lines.isEmpty, "\(lab): check names at least one checker")
            for line in lines {
                let words = line.split(separator: " ", maxSplits: 1).map(String.init)
                XCTAssertEqual(words.count, 2, "\(lab): '\(line)'")
                guard words.count == 2 else { continue }
                switch words[0] {
                case "test", "system":
                    if words[0] == "system" { XCTAssertTrue(words[1].hasPrefix("Lab"), "\(lab): QEMU checkers are named Lab... so make test skips them") }
                    XCTAssertTrue(testSources.contains("class \(words[1]): XCTestCase"), "\(lab): no test class \(words[1])")
                case "file": XCTAssertFalse(words[1].hasPrefix("/"), "\(lab): file paths are relative to the tree")
                default: XCTFail("\(lab): unknown check line '\(line)'")
                }
            }
        }
    }

    /// The checker script refuses a lab that does not exist, naming it, and lists the labs.
    func testLabCheckRefusesAnUnknownLab() throws {
        let process = Process()
        process.executableURL = Self.root.appendingPathComponent("scripts/lab-check.sh")
        process.arguments = ["no-such-lab"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(text.contains("no lab named 'no-such-lab'"), text)
        for lab in try Self.labs() { XCTAssertTrue(text.contains(lab), "the message lists \(lab): \(text)") }
    }

    static func sources(in directory: String) throws -> String {
        let url = root.appendingPathComponent(directory)
        guard let files = FileManager.default.enumerator(atPath: url.path) else { return "" }
        var text = ""
        for case let file as String in files where file.hasSuffix(".swift") {
            text += try String(contentsOf: url.appendingPathComponent(file), encoding: .utf8)
        }
        return text
    }
}
