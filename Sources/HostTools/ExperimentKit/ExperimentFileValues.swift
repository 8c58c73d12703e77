/// Reading the values of an experiment file's entries: numbers, lists, names, each with its own error message.

/// Turns one entry's value into a typed value, or an error naming the key, the value and the line.
struct EntryValueReader {
    let file: String
    let entry: ExperimentFileEntry

    func fail(_ message: String) -> ExperimentFileError {
        ExperimentFileError(file: file, line: entry.line, message: message)
    }

    /// The value as it is written.
    var text: String { entry.value }

    /// A whole number in `range`.
    func integer(in range: ClosedRange<Int>) throws(ExperimentFileError) -> Int {
        try integer(entry.value, in: range)
    }

    /// A comma-separated list of whole numbers in `range`, none twice (a repeated value would
    /// make two identical points). `byteSuffixes` also accepts `64K`, `1M`, `1G` (powers of 1024).
    func integerList(in range: ClosedRange<Int>, byteSuffixes: Bool = false) throws(ExperimentFileError) -> [Int] {
        var values: [Int] = []
        for item in try items() {
            let value = try integer(item, in: range, byteSuffixes: byteSuffixes)
            guard !values.contains(value) else { throw fail("'\(entry.key)' lists \(item) twice") }
            values.append(value)
        }
        return values
    }

    /// A number (decimals allowed) in `range`.
    func number(in range: ClosedRange<Double>) throws(ExperimentFileError) -> Double {
        guard let value = Double(entry.value), value.isFinite else {
            throw fail("'\(entry.key)' must be a number, not '\(entry.value)'")
        }
        guard range.contains(value) else {
            throw fail("'\(entry.key)' must be between \(range.lowerBound.shortText) and \(range.upperBound.shortText), not \(entry.value)")
        }
        return value
    }

    /// One of `choices`' raw values.
    func choice<Choice: RawRepresentable & CaseIterable>(_: Choice.Type) throws(ExperimentFileError) -> Choice
    where Choice.RawValue == String {
        guard let value = Choice(rawValue: entry.value) else {
            let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("'\(entry.key)' must be one of \(names), not '\(entry.value)'")
        }
        return value
    }

    /// A comma-separated list of `Choice` raw values, none twice.
    func choiceList<Choice: RawRepresentable & CaseIterable & Hashable>(_: Choice.Type) throws(ExperimentFileError) -> Set<Choice>
    where Choice.RawValue == String {
        var values: Set<Choice> = []
        for item in try items() {
            guard let value = Choice(rawValue: item) else {
                let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("'\(entry.key)' takes \(names), not '\(item)'")
            }
            guard values.insert(value).inserted else { throw fail("'\(entry.key)' lists \(item) twice") }
        }
        return values
    }

    /// Words separated by spaces, as QEMU gets them. Quotes are refused rather than half
    /// understood: the runner passes arguments without a shell.
    func arguments() throws(ExperimentFileError) -> [String] {
        guard !entry.value.contains("\""), !entry.value.contains("'") else {
            throw fail("'\(entry.key)' cannot contain quotes: its words are passed to QEMU as they are, split on spaces")
        }
        return entry.value.split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// The comma-separated items of a list, trimmed; an empty item (`1,,4` or `1, 4,`) is an error.
    private func items() throws(ExperimentFileError) -> [String] {
        let items = entry.value.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingSpaces)
        guard !items.contains(where: \.isEmpty) else { throw fail("'\(entry.key)' has an empty item in '\(entry.value)'") }
        return items
    }

    private func integer(_ text: String, in range: ClosedRange<Int>, byteSuffixes: Bool = false) throws(ExperimentFileError) -> Int {
        var digits = Substring(text)
        var multiplier = 1
        if byteSuffixes, let last = digits.last, let power = ["K": 1, "M": 2, "G": 3][String(last).uppercased()] {
            digits = digits.dropLast()
            multiplier = 1 << (10 * power)
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let value = Int(digits),
              value.multipliedReportingOverflow(by: multiplier).overflow == false else {
            throw fail("'\(entry.key)' must be a whole number\(byteSuffixes ? " (or with K, M, G)" : ""), not '\(text)'")
        }
        let scaled = value * multiplier
        guard range.contains(scaled) else {
            throw fail("'\(entry.key)' must be between \(range.lowerBound) and \(range.upperBound), not \(text)")
        }
        return scaled
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Double {
    /// `10` rather than `10.0`, `0.5` as it is: for messages.
    var shortText: String {
        rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}

/// The known key closest to a misspelt one, if it is close enough to be a likely typo.
func closestKey(to key: String, among known: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    let scored = known.map { ($0, distance(Array(key), Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= Swift.max(1, key.count / 3) else { return nil }
    return best.0
}
