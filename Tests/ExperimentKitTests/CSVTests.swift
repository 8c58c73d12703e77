/// Tests of CSV quoting and raw.csv: round trips with awkward values, interrupted rows, and appending to resume.
import ExperimentKit
import Foundation
import XCTest

final class CSVTests: XCTestCase {
    func testFieldsAreQuotedOnlyWhenNeeded() {
        XCTAssertEqual(CSV.field("plain"), "plain")
        XCTAssertEqual(CSV.field(""), "")
        XCTAssertEqual(CSV.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSV.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSV.field("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(CSV.field(" padded"), "\" padded\"")
        XCTAssertEqual(CSV.row(["a", "b,c", ""]), "a,\"b,c\",\n")
    }

    func testParseUndoesQuoting() throws {
        let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", "", " padded ", "\"", "crlf\r\ninside"]
        let text = CSV.row(fields) + CSV.row(["x"])
        let parsed = try CSV.parse(text, file: "t.csv")
        XCTAssertEqual(parsed.rows, [fields, ["x"]])
        XCTAssertEqual(parsed.lines, [1, 4], "the second row starts after the two line breaks inside quotes")
        XCTAssertNil(parsed.incompleteRow)
    }

    func testParseAcceptsWindowsLineEndsAndReportsAnIncompleteLastRow() throws {
        let parsed = try CSV.parse("a,b\r\nc,d\r\ne,\"f", file: "t.csv")
        XCTAssertEqual(parsed.rows, [["a", "b"], ["c", "d"]])
        XCTAssertEqual(parsed.incompleteRow, "e,\"f")
    }

    func testParseRefusesStrayQuotes() {
        XCTAssertThrowsError(try CSV.parse("a,b\"c\n", file: "t.csv")) { error in
            XCTAssertEqual((error as? CSVError)?.line, 1)
        }
        XCTAssertThrowsError(try CSV.parse("x\n\"a\"b\n", file: "t.csv")) { error in
            XCTAssertEqual((error as? CSVError)?.description, "t.csv:2: text after a closing quote")
        }
    }

    // MARK: raw.csv

    static func record(key: String = "http/cpus=2/connections=16/rate=0/r1/a", target: String = "a",
                       status: RunStatus = .ok, reason: String = "", metrics: [String: Double] = [:]) -> RunRecord {
        RunRecord(runKey: key, experiment: "test", target: target, targetKind: .swiglet, load: "http",
                  loadKind: .httpKeepAlive, cpus: 2, parameters: [.connections: 16, .rate: 0], repetition: 1,
                  started: Date(timeIntervalSince1970: 1_796_473_269.125), seconds: 10.003, requests: 84558,
                  errors: ErrorCounts(wrongLength: 1, wrongStatus: 2, timeouts: 3, connectFailed: 4, other: 5),
                  metrics: metrics, status: status, reason: reason)
    }

    func testRawRowLayout() throws {
        let record = Self.record(metrics: ["requests_per_second": 8445.12, "p50_us": 1670, "app_share_cpu1": 0.5])
        XCTAssertEqual(RawCSV.header, RawCSV.columns.joined(separator: ",") + "\n")
        XCTAssertEqual(try RawCSV.row(record),
                       "http/cpus=2/connections=16/rate=0/r1/a,test,a,swiglet,http,http-keepalive,"
                       + "http/cpus=2/connections=16/rate=0,2,16,,,0,1,2026-12-05T12:21:09.125Z,10.003,ok,,84558,"
                       + "1,2,3,4,5,app_share_cpu1=0.5;p50_us=1670.0;requests_per_second=8445.12\n")
    }

    func testRawRoundTripWithCommasQuotesAndLineBreaks() throws {
        let records = [
            Self.record(metrics: ["requests_per_second": 8445.12, "p99_us": 6750, "tiny": 1e-9, "huge": 1.5e300]),
            Self.record(key: "k2", target: "b", status: .failed,
                        reason: "errors 3.20% > 1.00%, wrk said \"Socket errors: connect 0, read 3\"\nsecond line",
                        metrics: ["requests_per_second": 1.0 / 3]),
            Self.record(key: "k3", metrics: [:]),
        ]
        let text = RawCSV.header + (try records.map { try RawCSV.row($0) }.joined())
        let parsed = try RawCSV.parse(text)
        XCTAssertEqual(parsed.records, records)
        XCTAssertNil(parsed.incompleteRow)
    }

    func testRawReaderSkipsAnInterruptedRow() throws {
        let text = RawCSV.header + (try RawCSV.row(Self.record())) + "k2,test,b,swig"
        let parsed = try RawCSV.parse(text)
        XCTAssertEqual(parsed.records.map(\.runKey), [Self.record().runKey])
        XCTAssertEqual(parsed.incompleteRow, "k2,test,b,swig")
        XCTAssertEqual(try RawCSV.parse("").records, [])
    }

    func testRawReaderRefusesAnotherFile() {
        XCTAssertThrowsError(try RawCSV.parse("a,b\n1,2\n")) { error in
            XCTAssertEqual((error as? CSVError)?.line, 1)
        }
        let short = RawCSV.header + "k,test\n"
        XCTAssertThrowsError(try RawCSV.parse(short)) { error in
            XCTAssertEqual((error as? CSVError)?.line, 2)
            XCTAssertTrue("\(error)".contains("2 fields"), "\(error)")
        }
        let badNumber = RawCSV.header + (try! RawCSV.row(Self.record())).replacingOccurrences(of: ",84558,", with: ",many,")
        XCTAssertThrowsError(try RawCSV.parse(badNumber)) { error in
            XCTAssertTrue("\(error)".contains("'requests'"), "\(error)")
        }
    }

    func testMetricNamesThatWouldNotReadBackAreRefused() {
        XCTAssertThrowsError(try RawCSV.row(Self.record(metrics: ["a=b": 1])))
        XCTAssertThrowsError(try RawCSV.row(Self.record(metrics: ["a;b": 1])))
        XCTAssertThrowsError(try RawCSV.row(Self.record(metrics: ["": 1])))
    }

    // MARK: raw.csv on disk

    private func temporaryPath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ExperimentKitTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory.appendingPathComponent("raw.csv").path
    }

    func testFileIsCreatedWithItsHeaderAndAppendedTo() throws {
        let path = try temporaryPath()
        var file = try RawCSVFile(path: path)
        XCTAssertTrue(file.records.isEmpty)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), RawCSV.header)
        try file.append(Self.record(key: "one"))
        try file.append(Self.record(key: "two", reason: "a, \"b\""))
        XCTAssertEqual(file.completedKeys, ["one", "two"])

        // Reopening (a resumed experiment) reads them back, writes no second header.
        var reopened = try RawCSVFile(path: path)
        XCTAssertEqual(reopened.records, file.records)
        XCTAssertNil(reopened.discardedRow)
        try reopened.append(Self.record(key: "three"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "run_key,").count - 1, 1, "one header")
        XCTAssertEqual(try RawCSV.parse(text).records.map(\.runKey), ["one", "two", "three"])
    }

    func testReopeningCutsOffAnInterruptedRow() throws {
        let path = try temporaryPath()
        let complete = RawCSV.header + (try RawCSV.row(Self.record(key: "one")))
        try (complete + "two,test,a,swi").write(toFile: path, atomically: true, encoding: .utf8)
        var file = try RawCSVFile(path: path)
        XCTAssertEqual(file.discardedRow, "two,test,a,swi")
        XCTAssertEqual(file.completedKeys, ["one"])
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), complete)
        try file.append(Self.record(key: "two"))
        XCTAssertEqual(try RawCSV.read(path: path).records.map(\.runKey), ["one", "two"])
    }

    func testReopeningAnEmptyOrHalfHeaderFileWritesTheHeader() throws {
        let path = try temporaryPath()
        try "run_key,experi".write(toFile: path, atomically: true, encoding: .utf8)
        _ = try RawCSVFile(path: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), RawCSV.header)
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        _ = try RawCSVFile(path: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), RawCSV.header)
    }

    func testReadingAMissingFileGivesNoRecords() throws {
        XCTAssertEqual(try RawCSV.read(path: "/nonexistent/raw.csv").records, [])
    }
}
