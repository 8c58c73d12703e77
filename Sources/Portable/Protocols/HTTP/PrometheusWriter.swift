// Prometheus text exposition format 0.0.4, written into a fixed caller buffer.

import RawBytes

/// The metric types this writer declares — exposition format 0.0.4, "# TYPE".
public enum MetricType: Equatable, Sendable {
    /// A monotonically increasing count (names conventionally end in `_total`).
    case counter
    /// A value that goes up and down.
    case gauge
}

/// Why the metrics text is unusable.
public enum PrometheusError: Error, Equatable, Sendable {
    /// The text did not fit the buffer.
    case overflow
    /// A metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`, or a label name not
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (or starts with the reserved "__").
    case invalidName
    /// `label` or `endSample` without `beginSample`, or `beginSample` twice.
    case misuse
}

/// Writes metrics in the Prometheus text exposition format 0.0.4
/// (https://github.com/prometheus/docs/blob/main/content/docs/instrumenting/exposition_formats.md):
///
///     # HELP swiglet_frames_received_total Frames the NIC delivered.
///     # TYPE swiglet_frames_received_total counter
///     swiglet_frames_received_total 1027
///     swiglet_drops_total{reason="checksum"} 3
///
/// into a fixed buffer, never allocating. Label values are escaped (`\` → `\\`, `"` → `\"`,
/// newline → `\n`), help texts too (`\` and newline). The first problem (overflow, bad name,
/// misuse) is kept and `finish` reports it, so a truncated text is never served. Values are
/// integers (no floating point in the kernel).
public struct PrometheusWriter {
    /// The text so far.
    public private(set) var writer: TextWriter
    /// The first problem, if any.
    public private(set) var error: PrometheusError? = nil
    /// Labels written in the open sample (nil: no sample open).
    var labelsInSample: Int? = nil

    /// A writer filling `buffer` from its start.
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        writer = TextWriter(buffer)
    }

    /// Writes `# HELP name help` and `# TYPE name type` for a metric family; its samples follow.
    public mutating func family(_ name: StaticString, type: MetricType, help: StaticString) {
        guard checkMetricName(name) else { return }
        writer.append("# HELP ")
        writer.append(name)
        writer.append(byte: .space)
        for byte in UnsafeRawBufferPointer(start: help.utf8Start, count: help.utf8CodeUnitCount) {
            switch byte {
            case UInt8(ascii: "\\"): writer.append("\\\\")
            case .lineFeed: writer.append("\\n")
            default: writer.append(byte: byte)
            }
        }
        writer.append("\n# TYPE ")
        writer.append(name)
        writer.append(type == .counter ? " counter\n" : " gauge\n")
    }

    /// Writes the sample `name value` (no labels).
    public mutating func sample(_ name: StaticString, value: UInt64) {
        beginSample(name)
        endSample(value: value)
    }

    /// Writes the sample `name{label="labelValue"} value`.
    public mutating func sample(_ name: StaticString, label: StaticString, _ labelValue: StaticString, value: UInt64) {
        beginSample(name)
        self.label(label, labelValue)
        endSample(value: value)
    }

    /// Opens a sample: its name; labels and the value follow.
    public mutating func beginSample(_ name: StaticString) {
        guard labelsInSample == nil else { return record(.misuse) }
        guard checkMetricName(name) else { return }
        writer.append(name)
        labelsInSample = 0
    }

    /// Adds `name="value"` to the open sample.
    public mutating func label(_ name: StaticString, _ value: StaticString) {
        label(name, value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Adds `name="value"` to the open sample, escaping the value's bytes (taken as UTF-8).
    public mutating func label(_ name: StaticString, value: UnsafeRawBufferPointer) {
        guard let labels = labelsInSample else { return record(.misuse) }
        guard Self.isValidLabelName(name) else { return record(.invalidName) }
        writer.append(byte: labels == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
        writer.append(name)
        writer.append("=\"")
        for byte in value {
            switch byte {
            case UInt8(ascii: "\\"): writer.append("\\\\")
            case UInt8(ascii: "\""): writer.append("\\\"")
            case .lineFeed: writer.append("\\n")
            default: writer.append(byte: byte)
            }
        }
        writer.append(byte: UInt8(ascii: "\""))
        labelsInSample = labels + 1
    }

    /// Closes the open sample with an unsigned value.
    public mutating func endSample(value: UInt64) {
        guard closeLabels() else { return }
        writer.append(decimal: value)
        writer.append(byte: .lineFeed)
    }

    /// Closes the open sample with a duration counted in nanoseconds, written in seconds (the
    /// base unit Prometheus asks for) with all nine decimals: `1500000000` → `1.500000000`.
    public mutating func endSample(nanosecondsAsSeconds nanoseconds: UInt64) {
        guard closeLabels() else { return }
        writer.append(decimal: nanoseconds / 1_000_000_000)
        writer.append(byte: UInt8(ascii: "."))
        let fraction = nanoseconds % 1_000_000_000
        var scale: UInt64 = 100_000_000
        while scale > 0 {   // leading zeros of the fraction
            writer.append(byte: UInt8(ascii: "0") + UInt8(fraction / scale % 10))
            scale /= 10
        }
        writer.append(byte: .lineFeed)
    }

    /// Closes the open sample with a signed value (a gauge).
    public mutating func endSample(value: Int64) {
        guard closeLabels() else { return }
        writer.append(decimal: value)
        writer.append(byte: .lineFeed)
    }

    /// The complete text, or the first problem.
    public func finish() -> Result<UnsafeRawBufferPointer, PrometheusError> {
        if let error { return .failure(error) }
        if writer.overflowed { return .failure(.overflow) }
        if labelsInSample != nil { return .failure(.misuse) }
        return .success(writer.written)
    }

    // MARK: Checks

    mutating func closeLabels() -> Bool {
        guard let labels = labelsInSample else {
            record(.misuse)
            return false
        }
        writer.append(labels == 0 ? " " : "} ")
        labelsInSample = nil
        return true
    }

    mutating func record(_ problem: PrometheusError) {
        if error == nil { error = problem }
    }

    mutating func checkMetricName(_ name: StaticString) -> Bool {
        guard Self.isValidName(name, allowColon: true) else {
            record(.invalidName)
            return false
        }
        return true
    }

    static func isValidLabelName(_ name: StaticString) -> Bool {
        guard isValidName(name, allowColon: false) else { return false }
        return !(name.utf8CodeUnitCount >= 2 && name.utf8Start[0] == UInt8(ascii: "_") && name.utf8Start[1] == UInt8(ascii: "_"))
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric names) or without ":" (label names).
    static func isValidName(_ name: StaticString, allowColon: Bool) -> Bool {
        let count = name.utf8CodeUnitCount
        guard count > 0 else { return false }
        for index in 0..<count {
            let byte = name.utf8Start[index]
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            let allowed = byte.isASCIILetterOrDigit || byte == UInt8(ascii: "_") || (allowColon && byte == UInt8(ascii: ":"))
            guard allowed, !(index == 0 && isDigit) else { return false }
        }
        return true
    }
}
