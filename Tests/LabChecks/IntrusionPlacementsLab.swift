/// The checker of the lab docs/labs/intrusion-placements: answer.md names a real swiglet-lab run of both placements, quotes its numbers, and answers every question.
import Foundation
import XCTest

/// Reads `docs/labs/intrusion-placements/answer.md` and the results directory it names. What
/// it can check is the form, not the reasoning (a teacher reads that): the answer has every
/// section the README asks for, each with a few sentences; it names a directory
/// `results/NAME/DATE-COMMIT` that holds swiglet-lab's `summary.csv` and `metadata.json` for a
/// dedicated and a symmetric target with measured numbers, and a figure; it names the run's
/// commit and a figure of that directory; and it quotes at least one number of `summary.csv`.
final class IntrusionPlacementsLab: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let answerPath = "docs/labs/intrusion-placements/answer.md"
    static let readme = " (docs/labs/intrusion-placements/README.md)"

    /// The sections the README asks for, in its words: a `## ` heading each.
    static let sections = ["The run", "The figure", "Interrupts on application CPUs", "CPU time for networking",
                           "The ratio", "What it means"]
    /// Words a section must have, so that a heading alone does not pass.
    static let minimumWords = 25

    func testTheAnswerExplainsARunOfBothPlacements() throws {
        let answerURL = Self.root.appendingPathComponent(Self.answerPath)
        guard let answer = try? String(contentsOf: answerURL, encoding: .utf8), !answer.isEmpty else {
            return XCTFail("\(Self.answerPath) is missing or empty: run the experiment and write it\(Self.readme)")
        }

        // Every question answered, in its own section.
        let bodies = Self.sectionBodies(answer)
        for section in Self.sections {
            guard let body = Self.body(of: section, in: bodies) else {
                XCTFail("answer.md has no section '## \(section)'\(Self.readme)")
                continue
            }
            let words = body.split(whereSeparator: { $0.isWhitespace }).count
            XCTAssertGreaterThanOrEqual(words, Self.minimumWords, "'## \(section)' has \(words) words: answer it in a few sentences")
        }
        // A ratio is given with its spread: the ratio and two bounds at least.
        if let ratio = Self.body(of: "The ratio", in: bodies) {
            XCTAssertGreaterThanOrEqual(Self.numbers(in: ratio).count, 3, "'## The ratio' gives a ratio with its spread (low and high)")
        }

        // The run: a swiglet-lab results directory that exists.
        let named = Self.resultsDirectories(in: answer)
        guard let directory = named.first(where: { Self.isResultsDirectory($0) }) else {
            return XCTFail("answer.md names no results/NAME/DATE-COMMIT directory holding summary.csv and metadata.json "
                           + "(it names \(named.isEmpty ? "none" : named.joined(separator: ", ")))\(Self.readme)")
        }
        let base = Self.root.appendingPathComponent(directory)
        let metadata = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("metadata.json"))) as? [String: Any],
            "\(directory)/metadata.json is not a JSON object")
        let rows = try Self.csvRows(String(contentsOf: base.appendingPathComponent("summary.csv"), encoding: .utf8))

        // Both placements, each with at least one measured number.
        let bootOptions = metadata["bootOptions"] as? [String: String] ?? [:]
        var measured: [String: Int] = [:]
        for row in rows where ["ok", "partial"].contains(row["status"] ?? "") && !(row["median"] ?? "").isEmpty {
            if let target = row["target"], let placement = Self.placement(target: target, bootOptions: bootOptions) {
                measured[placement, default: 0] += 1
            }
        }
        for placement in ["dedicated", "symmetric"] {
            XCTAssertGreaterThan(measured[placement] ?? 0, 0, "\(directory)/summary.csv has no measured \(placement) target "
                                 + "(targets: \(Set(rows.compactMap { $0["target"] }).sorted()), boot options: \(bootOptions))")
        }

        // Named: the commit (its short hash) and a figure of the run that exists.
        if let commit = metadata["commit"] as? String, commit.count >= 7 {
            XCTAssertTrue(answer.contains(commit.prefix(7)), "answer.md names the run's commit \(commit.prefix(7))")
        }
        let figures = (try? FileManager.default.contentsOfDirectory(atPath: base.path))?
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".svg") || $0.hasSuffix(".pdf") } ?? []
        XCTAssertFalse(figures.isEmpty, "\(directory) has no figure: draw it with scripts/plot-experiment.py \(directory)")
        XCTAssertTrue(figures.contains { answer.contains($0) }, "answer.md names a figure of \(directory) (\(figures.sorted()))")

        // At least one number quoted from summary.csv.
        let values = rows.flatMap { row in
            ["median", "min", "max", "mean", "ci95_low", "ci95_high"].compactMap { row[$0].flatMap(Double.init) }
        }
        let quoted = Self.numbers(in: answer).filter { number in values.contains { number.quotes($0) } }
        XCTAssertFalse(quoted.isEmpty, "answer.md quotes no number of \(directory)/summary.csv (a median, min, max or bound, "
                       + "rounded as you like; shares may be given in %)")
    }

    /// The text under each `## ` heading (up to the next heading of level 1 or 2), by the heading in lower case.
    static func sectionBodies(_ markdown: String) -> [String: String] {
        var bodies: [String: String] = [:]
        var current: String?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                current = line.dropFirst(3).trimmingCharacters(in: .whitespaces).lowercased()
                bodies[current!] = ""
            } else if line.hasPrefix("# ") {
                current = nil
            } else if let heading = current {
                bodies[heading]! += line + "\n"
            }
        }
        return bodies
    }

    /// The text of the section whose heading starts with `section` (any case), so that
    /// `## The ratio: dedicated over symmetric` answers "The ratio".
    static func body(of section: String, in bodies: [String: String]) -> String? {
        bodies.first { $0.key.hasPrefix(section.lowercased()) }?.value
    }

    /// Every `results/NAME/DIR` the text names (a trailing `/` or punctuation left out).
    static func resultsDirectories(in text: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"results/[A-Za-z0-9._+-]+/[A-Za-z0-9._+-]*[A-Za-z0-9]"#)
        let range = NSRange(text.startIndex..., in: text)
        return pattern.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } }
    }

    static func isResultsDirectory(_ path: String) -> Bool {
        let base = root.appendingPathComponent(path)
        return ["summary.csv", "metadata.json"].allSatisfy { FileManager.default.fileExists(atPath: base.appendingPathComponent($0).path) }
    }

    /// The placement a target measured: the `net-mode=` of its boot options, else its name when
    /// that is a placement's (nil for Linux and anything else).
    static func placement(target: String, bootOptions: [String: String]) -> String? {
        for option in (bootOptions[target] ?? "").split(separator: " ") where option.hasPrefix("net-mode=") {
            return String(option.dropFirst("net-mode=".count))
        }
        return ["dedicated", "symmetric"].contains(target) ? target : nil
    }

    /// A number as written in the answer: its value, its decimals, and whether a `%` follows.
    struct WrittenNumber {
        var value: Double
        var decimals: Int
        var digits: Int
        var percent: Bool

        /// Whether this is `value` rounded to the digits written: as it is, or as a share in %
        /// (0.72 written `72%`). A plain integer needs 3 digits, so that a CPU count or a
        /// connection count does not pass for a quoted result.
        func quotes(_ measured: Double) -> Bool {
            let scale = pow(10, Double(decimals))
            func rounds(_ x: Double) -> Bool { abs((x * scale).rounded() - value * scale) < 0.5 }
            if percent { return rounds(measured * 100) || (digits >= 3 && rounds(measured)) }
            return (digits >= 3 || decimals > 0) && rounds(measured)
        }
    }

    /// The numbers of `text` (`13,416`, `1.50`, `72%`), those inside a results path or a commit left out.
    static func numbers(in text: String) -> [WrittenNumber] {
        var cleaned = text
        for path in resultsDirectories(in: text) { cleaned = cleaned.replacingOccurrences(of: path, with: " ") }
        let pattern = try! NSRegularExpression(pattern: #"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(\s?%)?(?![\w])"#)
        return pattern.matches(in: cleaned, range: NSRange(cleaned.startIndex..., in: cleaned)).compactMap { match in
            guard let whole = Range(match.range(at: 1), in: cleaned) else { return nil }
            let integer = cleaned[whole].replacingOccurrences(of: ",", with: "")
            let fraction = Range(match.range(at: 2), in: cleaned).map { String(cleaned[$0]) } ?? ""
            guard let value = Double(fraction.isEmpty ? integer : integer + "." + fraction) else { return nil }
            let significant = (integer + fraction).drop { $0 == "0" }.count
            return WrittenNumber(value: value, decimals: fraction.count, digits: significant,
                                 percent: match.range(at: 3).location != NSNotFound)
        }
    }

    /// The rows of a CSV file with a header line, as column → field (quoted fields allowed).
    static func csvRows(_ text: String) throws -> [[String: String]] {
        var records: [[String]] = []
        var record: [String] = [], field = "", quoted = false
        var characters = text.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? characters.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    let next = characters.next()
                    if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                } else { field.append(character) }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                record.append(field); field = ""
            } else if character == "\n" || character == "\r\n" {
                record.append(field); records.append(record); record = []; field = ""
            } else if character != "\r" {
                field.append(character)
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        guard let header = records.first else { return [] }
        return records.dropFirst().filter { $0 != [""] }.map { fields in
            Dictionary(zip(header, fields).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
        }
    }
}
