/// The error a bad text file gets (an experiment file, a CSV file): where, and what is wrong, in words.

/// Why an experiment file was refused. `description` reads like a compiler's message:
/// `experiments/http.exp:12: unknown key 'conections' in [load keepalive]`.
public typealias ExperimentFileError = TextFileError

/// Why a CSV file cannot be read back (the line counts lines inside quoted fields).
public typealias CSVError = TextFileError

/// A file that was refused, the 1-based line at fault, and why.
public struct TextFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as it was given (a path or a bare name).
    public var file: String
    /// The 1-based line at fault, or nil when the file as a whole is (no targets, no loads).
    public var line: Int?
    /// What is wrong, naming the key or value.
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(file):\(line): \(message)" } else { "\(file): \(message)" }
    }
}
