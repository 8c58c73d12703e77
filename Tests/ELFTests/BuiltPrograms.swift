/// The programs of the image, as the Makefile's PROGRAMS line names them and `make programs` built them into images/programs.
import Foundation
import XCTest

enum BuiltPrograms {
    /// The package's root directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// Where `make programs` puts NAME.elf.
    static func path(of name: String) -> URL { root.appendingPathComponent("images/programs/\(name).elf") }

    /// The names on the Makefile's `PROGRAMS :=` line (the one list of the image's programs).
    static func names() throws -> [String] {
        let makefile = try String(contentsOf: root.appendingPathComponent("Makefile"), encoding: .utf8)
        guard let line = makefile.split(separator: "\n").first(where: { $0.hasPrefix("PROGRAMS :=") }) else {
            throw XCTSkip("no PROGRAMS := line in the Makefile")
        }
        return line.dropFirst("PROGRAMS :=".count).split(separator: " ").map(String.init)
    }
}
