/// The samples of a Prometheus text page (Swiglet's /metrics), read just far enough to take deltas.

/// One sample line: `name{label="value",...} number`.
public struct PrometheusSample: Equatable, Sendable {
    public var name: String
    public var labels: [String: String]
    public var value: Double

    public init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// A parsed /metrics page.
///
/// The exposition format (Prometheus, "Exposition formats", text format 0.0.4): `#` lines are
/// help and type, every other non-empty line is a sample, a name, optional labels in braces
/// with quoted values (`\\`, `\"` and `\n` escaped), a value and an optional timestamp.
/// Lines that do not read as a sample are skipped rather than fatal: a page cut short by a
/// failed fetch then simply lacks the counters, and the caller sees them missing.
public struct PrometheusSamples: Equatable, Sendable {
    public var samples: [PrometheusSample]

    public init(samples: [PrometheusSample]) {
        self.samples = samples
    }

    /// Parses the page's text.
    public init(text: String) {
        samples = text.split(whereSeparator: \.isNewline).compactMap { Self.sample(String($0)) }
    }

    /// The samples of family `name` whose labels include every pair of `matching`.
    public func values(_ name: String, matching: [String: String] = [:]) -> [PrometheusSample] {
        samples.filter { sample in
            sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value }
        }
    }

    /// The sum of family `name` over the samples matching `matching`, nil when there is none.
    public func sum(_ name: String, matching: [String: String] = [:]) -> Double? {
        let found = values(name, matching: matching)
        return found.isEmpty ? nil : found.reduce(0) { $0 + $1.value }
    }

    private static func sample(_ line: String) -> PrometheusSample? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard !trimmed.isEmpty, trimmed.first != "#" else { return nil }
        var index = trimmed.startIndex
        while index < trimmed.endIndex, trimmed[index] != "{", trimmed[index] != " " { index = trimmed.index(after: index) }
        let name = String(trimmed[..<index])
        guard !name.isEmpty else { return nil }
        var labels: [String: String] = [:]
        if index < trimmed.endIndex, trimmed[index] == "{" {
            index = trimmed.index(after: index)
            // label="value" pairs until the closing brace.
            while index < trimmed.endIndex, trimmed[index] != "}" {
                if trimmed[index] == "," || trimmed[index] == " " { index = trimmed.index(after: index); continue }
                guard let equals = trimmed[index...].firstIndex(of: "=") else { return nil }
                let key = String(trimmed[index..<equals])
                var cursor = trimmed.index(after: equals)
                guard cursor < trimmed.endIndex, trimmed[cursor] == "\"" else { return nil }
                cursor = trimmed.index(after: cursor)
                var value = ""
                var closed = false
                while cursor < trimmed.endIndex {
                    let character = trimmed[cursor]
                    if character == "\\" {
                        let next = trimmed.index(after: cursor)
                        guard next < trimmed.endIndex else { return nil }
                        value.append(trimmed[next] == "n" ? "\n" : trimmed[next])
                        cursor = trimmed.index(after: next)
                        continue
                    }
                    if character == "\"" { closed = true; cursor = trimmed.index(after: cursor); break }
                    value.append(character)
                    cursor = trimmed.index(after: cursor)
                }
                guard closed else { return nil }
                labels[key] = value
                index = cursor
            }
            guard index < trimmed.endIndex else { return nil }
            index = trimmed.index(after: index)
        }
        let rest = trimmed[index...].split(separator: " ", omittingEmptySubsequences: true)
        guard let first = rest.first, let value = Double(first) ?? special(first) else { return nil }
        return PrometheusSample(name: name, labels: labels, value: value)
    }

    /// `+Inf`, `-Inf` and `NaN` as the format writes them.
    private static func special(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: nil
        }
    }
}
