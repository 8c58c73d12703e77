/// CSV fields and rows as RFC 4180 writes them: quoting, escaping, and a reader that undoes both.

import Foundation

/// Comma-separated values — RFC 4180 §2: a field holding a comma, a double quote, a line
/// break, or spaces at either end is written between double quotes, its quotes doubled.
public enum CSV {
    /// `field` ready to stand between commas.
    public static func field(_ field: String) -> String {
        let needsQuotes = field.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || field.first == " " || field.last == " "
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One row, with its line break.
    public static func row(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }

    /// The rows of `text`, the line each starts on, and the start of a row the text ends in
    /// without its line break — what a writer interrupted mid-row leaves — which is not one of
    /// the rows. `file` only names the text in errors.
    public static func parse(_ text: String, file: String) throws(CSVError)
        -> (rows: [[String]], lines: [Int], incompleteRow: String?) {
        var rows: [[String]] = []
        var rowLines: [Int] = []
        var rowLine = 1
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false        // inside a quoted field
        var afterQuote = false    // a quoted field has just closed
        var line = 1
        var rowStart = text.unicodeScalars.startIndex
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index != scalars.endIndex {
            let scalar = scalars[index]
            let next = scalars.index(after: index)
            if quoted {
                if scalar == "\"" {
                    if next != scalars.endIndex && scalars[next] == "\"" {
                        field.append("\"")
                        index = scalars.index(after: next)
                        continue
                    }
                    quoted = false
                    afterQuote = true
                } else {
                    if scalar == "\n" { line += 1 }
                    field.append(scalar)
                }
                index = next
                continue
            }
            switch scalar {
            case ",":
                fields.append(String(field))
                field = String.UnicodeScalarView()
                afterQuote = false
            case "\r" where next != scalars.endIndex && scalars[next] == "\n":
                break  // the "\n" ends the row
            case "\n":
                fields.append(String(field))
                rows.append(fields)
                rowLines.append(rowLine)
                fields = []
                field = String.UnicodeScalarView()
                afterQuote = false
                line += 1
                rowLine = line
                rowStart = next
            case "\"" where field.isEmpty && !afterQuote:
                quoted = true
            default:
                guard !afterQuote else {
                    throw CSVError(file: file, line: line, message: "text after a closing quote")
                }
                if scalar == "\"" {
                    throw CSVError(file: file, line: line, message: "a quote inside an unquoted field")
                }
                field.append(scalar)
            }
            index = next
        }
        let tail = String(scalars[rowStart...])
        return (rows, rowLines, tail.isEmpty ? nil : tail)
    }
}
