/// The book's `path:name` references (docs/**/*.md) name files that exist and declarations those files still hold.
import Foundation
import XCTest

/// Every reference of the form `` `Sources/…/File.swift:name` `` (also `Tests/…` and
/// `` `boot/file.asm:label` ``) in any Markdown file under docs/ must name an existing file
/// that declares `name`, so that the tour and the other chapters break loudly when code moves.
/// `Type.name` checks that the file declares both `Type` and `name`.
final class TourNamesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fewest references the tour must hold: a tour that lost its names is no tour.
    static let minimumTourReferences = 20

    func testEveryReferenceInTheDocsNamesAnExistingDeclaration() throws {
        let documents = try Self.markdownFiles()
        XCTAssertFalse(documents.isEmpty, "no Markdown files under docs/")
        var checked = 0
        for document in documents {
            let text = try String(contentsOf: Self.root.appendingPathComponent(document), encoding: .utf8)
            for reference in DocReference.all(in: text) {
                checked += 1
                if let problem = reference.problem(root: Self.root) {
                    XCTFail("\(document):\(reference.line): `\(reference.text)`: \(problem)")
                }
            }
        }
        XCTAssertGreaterThan(checked, 0, "no path:name references found under docs/")
    }

    func testTheTourHasEnoughReferences() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/tour.md"), encoding: .utf8)
        let references = DocReference.all(in: text)
        XCTAssertGreaterThanOrEqual(references.count, Self.minimumTourReferences,
                                    "docs/tour.md has \(references.count) path:name references")
    }

    /// The checker itself fails on what it should: a missing file, a missing name, a type the
    /// file does not declare, a missing assembly label; and passes the good forms.
    func testTheCheckerRejectsBrokenReferences() throws {
        let document = """
            A step: `Sources/Kernel/Boot/Kernel.swift:kmain` and, on line 2, `Sources/Kernel/Boot/Kernel.swift:noSuchFunction`.
            `Sources/NoSuchDirectory/Missing.swift:kmain`
            `Sources/Kernel/Network/VirtioNetDevice.swift:TransmitPath.flush` `Sources/Kernel/Network/VirtioNetDevice.swift:NoSuchType.flush`
            `boot/multiboot2.asm:boot_entry` `boot/multiboot2.asm:no_such_label`
            `Sources/Kernel/Boot/Kernel.swift` alone is not a reference, nor `kmain`.
            """
        let references = DocReference.all(in: document)
        XCTAssertEqual(references.map(\.text), [
            "Sources/Kernel/Boot/Kernel.swift:kmain",
            "Sources/Kernel/Boot/Kernel.swift:noSuchFunction",
            "Sources/NoSuchDirectory/Missing.swift:kmain",
            "Sources/Kernel/Network/VirtioNetDevice.swift:TransmitPath.flush",
            "Sources/Kernel/Network/VirtioNetDevice.swift:NoSuchType.flush",
            "boot/multiboot2.asm:boot_entry",
            "boot/multiboot2.asm:no_such_label",
        ])
        XCTAssertEqual(references.map(\.line), [1, 1, 2, 3, 3, 4, 4])
        let problems = references.map { $0.problem(root: Self.root) }
        XCTAssertNil(problems[0])
        XCTAssertEqual(problems[1], "Sources/Kernel/Boot/Kernel.swift declares no `noSuchFunction`")
        XCTAssertEqual(problems[2], "no file Sources/NoSuchDirectory/Missing.swift")
        XCTAssertNil(problems[3])
        XCTAssertEqual(problems[4], "Sources/Kernel/Network/VirtioNetDevice.swift declares no type `NoSuchType`")
        XCTAssertNil(problems[5])
        XCTAssertEqual(problems[6], "boot/multiboot2.asm has no label `no_such_label:`")
    }

    /// Every declaration form the checker accepts.
    func testDeclarationForms() {
        let swift = """
            /// A comment that mentions func ghost() does not declare it.
            public struct Widget<Element>: Sendable {
                static let size = 4
                var count = 0
                public init?(raw: Int) { nil }
                mutating func grow(by amount: Int) {}
            }
            extension Gadget { }
            enum Mode { case fast, slow }
            typealias Alias = Int
            protocol Shape {}
            final class Holder {}
            """
        for name in ["Widget", "size", "count", "init", "grow", "Gadget", "Mode", "fast", "slow", "Alias", "Shape", "Holder"] {
            XCTAssertTrue(DocReference.swiftSource(swift, declares: name), name)
        }
        for name in ["ghost", "amount", "Element", "raw", "Sendable"] {
            XCTAssertFalse(DocReference.swiftSource(swift, declares: name), name)
        }
        XCTAssertTrue(DocReference.swiftSource(swift, declaresType: "Widget"))
        XCTAssertTrue(DocReference.swiftSource(swift, declaresType: "Gadget"))
        XCTAssertFalse(DocReference.swiftSource(swift, declaresType: "size"))
        XCTAssertTrue(DocReference.assemblySource("bits 64\nglobal entry\nentry:\n    ret\n", declares: "entry"))
        XCTAssertFalse(DocReference.assemblySource("    call entry\n", declares: "entry"))
    }

    /// The Markdown files under docs/, as paths relative to the package root, sorted.
    static func markdownFiles() throws -> [String] {
        let docs = root.appendingPathComponent("docs")
        guard let files = FileManager.default.enumerator(atPath: docs.path) else { return [] }
        var found: [String] = []
        for case let file as String in files where file.hasSuffix(".md") { found.append("docs/" + file) }
        return found.sorted()
    }
}

/// One `` `path:name` `` reference in a document.
struct DocReference: Equatable {
    /// What stands between the backticks.
    var text: String
    /// Its line in the document, from 1.
    var line: Int
    /// The file, relative to the package root.
    var path: String
    /// The declaration: a name, or `Type.name`.
    var name: String

    /// `Sources/…`, `Tests/…` or `boot/…`, a `.swift` or `.asm` file, a colon, then an
    /// identifier or a dotted chain of them — alone between backticks.
    private static let pattern = try! NSRegularExpression(
        pattern: #"`((?:Sources|Tests|boot)/[A-Za-z0-9_./+-]+\.(?:swift|asm)):([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`"#)

    /// Every reference in `document`, in order.
    static func all(in document: String) -> [DocReference] {
        var references: [DocReference] = []
        for (index, line) in document.components(separatedBy: "\n").enumerated() {
            let range = NSRange(line.startIndex..., in: line)
            for match in pattern.matches(in: line, range: range) {
                guard let whole = Range(match.range, in: line), let path = Range(match.range(at: 1), in: line),
                      let name = Range(match.range(at: 2), in: line) else { continue }
                references.append(DocReference(text: String(line[whole].dropFirst().dropLast()), line: index + 1,
                                               path: String(line[path]), name: String(line[name])))
            }
        }
        return references
    }

    /// Why the reference is broken, or nil when its file exists and declares its name.
    func problem(root: URL) -> String? {
        let url = root.appendingPathComponent(path)
        guard let source = try? String(contentsOf: url, encoding: .utf8) else { return "no file \(path)" }
        let components = name.split(separator: ".").map(String.init)
        let last = components[components.count - 1]
        if path.hasSuffix(".asm") {
            guard components.count == 1 else { return "an assembly label has no type: write `\(path):\(last)`" }
            return Self.assemblySource(source, declares: last) ? nil : "\(path) has no label `\(last):`"
        }
        if components.count > 1 {
            let type = components[components.count - 2]
            guard Self.swiftSource(source, declaresType: type) else { return "\(path) declares no type `\(type)`" }
        }
        return Self.swiftSource(source, declares: last) ? nil : "\(path) declares no `\(last)`"
    }

    /// Whether Swift `source` declares `name` outside comments: `func`, `var`, `let`, `case`
    /// (one name of an enum's case list too), a type (`struct`, `enum`, `class`, `actor`,
    /// `protocol`, `typealias`), `extension`, or — for `init` — an initializer.
    static func swiftSource(_ source: String, declares name: String) -> Bool {
        let code = withoutComments(source)
        let escaped = NSRegularExpression.escapedPattern(for: name)
        let patterns = name == "init"
            ? [#"\binit[?!]?\s*[(<]"#]
            : [#"\b(?:func|var|let|struct|enum|class|actor|protocol|typealias|extension)\s+"# + escaped + #"\b"#,
               #"\bcase\s+(?:[A-Za-z_][A-Za-z0-9_]*(?:\([^)]*\))?\s*,\s*)*"# + escaped + #"\b(?!\s*[:.])"#]
        return patterns.contains { matches($0, code) }
    }

    /// Whether Swift `source` declares or extends the type `name`.
    static func swiftSource(_ source: String, declaresType name: String) -> Bool {
        let pattern = #"\b(?:struct|enum|class|actor|protocol|typealias|extension)\s+"#
            + NSRegularExpression.escapedPattern(for: name) + #"\b"#
        return matches(pattern, withoutComments(source))
    }

    /// Whether nasm `source` has the label `name:` at the start of a line.
    static func assemblySource(_ source: String, declares name: String) -> Bool {
        matches(#"(?m)^\s*"# + NSRegularExpression.escapedPattern(for: name) + ":", source)
    }

    /// `source` without `//` comments (doc comments mention names they do not declare). A `//`
    /// inside a string literal cuts the rest of that line too, which only hides declarations
    /// that follow a URL on the same line.
    static func withoutComments(_ source: String) -> String {
        source.components(separatedBy: "\n").map { line in
            guard let start = line.range(of: "//") else { return line }
            return String(line[..<start.lowerBound])
        }.joined(separator: "\n")
    }

    private static func matches(_ pattern: String, _ text: String) -> Bool {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
