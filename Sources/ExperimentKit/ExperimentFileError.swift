/// The error a bad experiment file gets: where, and what is wrong, in words.

/// Why an experiment file was refused. `description` reads like a compiler's message:
/// `experiments/http.exp:12: unknown key 'conections' in [load keepalive]`.
public struct ExperimentFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as it was given to the parser (a path or a bare name).
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
