/// The first pass over an experiment file: lines into sections of `key = value` entries, with line numbers.

/// One `key = value` line.
struct ExperimentFileEntry: Equatable {
    var key: String
    var value: String
    var line: Int
}

/// A `[machine]`, `[target NAME]` or `[load NAME]` section and its entries, in file order.
struct ExperimentFileSection: Equatable {
    enum Kind: String, CaseIterable {
        case machine, target, load
    }

    var kind: Kind
    /// The name after the kind; nil for `[machine]`.
    var name: String?
    /// The header's line.
    var line: Int
    var entries: [ExperimentFileEntry] = []

    /// How error messages name it: `[load keepalive]`.
    var title: String { name.map { "[\(kind.rawValue) \($0)]" } ?? "[\(kind.rawValue)]" }
}

/// The file's shape before any key is understood: the entries before the first section, then
/// the sections. Duplicate keys and sections are refused here, where the lines are known.
struct ExperimentFileSyntax: Equatable {
    var topLevel: [ExperimentFileEntry] = []
    var sections: [ExperimentFileSection] = []

    /// Splits `text` into entries and sections. `file` only names the file in errors.
    static func read(_ text: String, file: String) throws(ExperimentFileError) -> ExperimentFileSyntax {
        var syntax = ExperimentFileSyntax()
        // Where each key of the current scope (top level or a section) was set, for duplicates.
        var keysSeen: [String: Int] = [:]
        var sectionsSeen: [String: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> ExperimentFileError {
                ExperimentFileError(file: file, line: lineNumber, message: message)
            }
            let line = withoutComment(rawLine).trimmingSpaces
            if line.isEmpty { continue }

            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("a section header must end with ']': '\(line)'") }
                let words = line.dropFirst().dropLast().split(whereSeparator: \.isWhitespace).map(String.init)
                guard let first = words.first else { throw fail("empty section header '[]'") }
                guard let kind = ExperimentFileSection.Kind(rawValue: first) else {
                    throw fail("unknown section '[\(first)]' (sections are [machine], [target NAME] and [load NAME])")
                }
                let section: ExperimentFileSection
                switch (kind, words.count) {
                case (.machine, 1):
                    section = ExperimentFileSection(kind: kind, name: nil, line: lineNumber)
                case (.machine, _):
                    throw fail("[machine] takes no name")
                case (_, 2):
                    guard isName(words[1]) else {
                        throw fail("bad \(kind.rawValue) name '\(words[1])' (letters, digits, '-', '_' and '.', starting with a letter or digit)")
                    }
                    section = ExperimentFileSection(kind: kind, name: words[1], line: lineNumber)
                default:
                    throw fail("[\(kind.rawValue) NAME] needs exactly one name")
                }
                if let earlier = sectionsSeen[section.title] {
                    throw fail("\(section.title) is already defined on line \(earlier)")
                }
                sectionsSeen[section.title] = lineNumber
                syntax.sections.append(section)
                keysSeen = [:]
                continue
            }

            guard let equals = line.firstIndex(of: "=") else {
                throw fail("expected 'key = value' or a [section], found '\(line)'")
            }
            let key = line[..<equals].trimmingSpaces
            let value = line[line.index(after: equals)...].trimmingSpaces
            guard !key.isEmpty else { throw fail("a line starts with '=' and names no key") }
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { throw fail("bad key '\(key)'") }
            guard !value.isEmpty else { throw fail("'\(key)' has no value") }
            if let earlier = keysSeen[key] {
                throw fail("'\(key)' is already set on line \(earlier)")
            }
            keysSeen[key] = lineNumber
            let entry = ExperimentFileEntry(key: key, value: value, line: lineNumber)
            if syntax.sections.isEmpty {
                syntax.topLevel.append(entry)
            } else {
                syntax.sections[syntax.sections.count - 1].entries.append(entry)
            }
        }
        return syntax
    }

    /// The line up to a `#` that starts it or follows a space or tab: `path = /a#b` keeps its
    /// `#`, `cpus = 2, 4  # small` loses the comment.
    private static func withoutComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for index in line.indices {
            if line[index] == "#" && (previous == " " || previous == "\t") { return line[..<index] }
            previous = line[index]
        }
        return line
    }

    /// Whether `text` may name a target or load: it becomes part of run keys, CSV cells and
    /// file names, so no spaces, slashes, commas or quotes.
    static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCIILetterOrDigit else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCIILetterOrDigit || $0 == "-" || $0 == "_" || $0 == "." }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetterOrDigit: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and carriage returns (files written on Windows).
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
