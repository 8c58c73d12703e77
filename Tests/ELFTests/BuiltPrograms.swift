/// The programs of the image, as Sources/UserSpace/Programs/programs.list names them and `make programs` built them into images/programs.
import Foundation
import XCTest

enum BuiltPrograms {
    /// The package's root directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// Where `make programs` puts NAME.elf.
    static func path(of name: String) -> URL { root.appendingPathComponent("images/programs/\(name).elf") }

    /// The names in `Sources/UserSpace/Programs/programs.list` (the one list of the image's
    /// programs): the first word of each line that is not a comment.
    static func names() throws -> [String] {
        let list = try String(contentsOf: root.appendingPathComponent("Sources/UserSpace/Programs/programs.list"), encoding: .utf8)
        return list.split(separator: "\n").compactMap { line in
            guard let first = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first, !first.hasPrefix("#") else { return nil }
            return String(first)
        }
    }
}
