// PrometheusWriter and TextWriter: exact text, escaping, names, overflow at every size.

import HTTP
import XCTest

final class PrometheusWriterTests: XCTestCase {
    /// Writes the sample metrics into a buffer of `capacity` bytes.
    func render(capacity: Int) -> Result<String, PrometheusError> {
        var buffer = [UInt8](repeating: 0, count: capacity)
        return buffer.withUnsafeMutableBytes { bytes in
            var writer = PrometheusWriter(bytes)
            writer.family("swiglet_frames_received_total", type: .counter, help: "Frames the NIC delivered.")
            writer.sample("swiglet_frames_received_total", value: 1027)
            writer.family("swiglet_drops_total", type: .counter, help: "Dropped frames, by reason\\cause.\nSecond line.")
            writer.sample("swiglet_drops_total", label: "reason", "checksum", value: 3)
            writer.beginSample("swiglet_drops_total")
            writer.label("reason", "quote\"back\\slash\nnewline")
            writer.label("cpu", value: UnsafeRawBufferPointer(start: nil, count: 0))
            writer.endSample(value: UInt64.max)
            writer.family("swiglet:temperature", type: .gauge, help: "")
            writer.beginSample("swiglet:temperature")
            writer.endSample(value: Int64(-40))
            return writer.finish().map { String(decoding: $0, as: UTF8.self) }
        }
    }

    let expected = """
        # HELP swiglet_frames_received_total Frames the NIC delivered.
        # TYPE swiglet_frames_received_total counter
        swiglet_frames_received_total 1027
        # HELP swiglet_drops_total Dropped frames, by reason\\\\cause.\\nSecond line.
        # TYPE swiglet_drops_total counter
        swiglet_drops_total{reason="checksum"} 3
        swiglet_drops_total{reason="quote\\"back\\\\slash\\nnewline",cpu=""} 18446744073709551615
        # HELP swiglet:temperature 
        # TYPE swiglet:temperature gauge
        swiglet:temperature -40

        """

    func testExpositionTextAndEscaping() {
        XCTAssertEqual(try render(capacity: 4096).get(), expected)
    }

    func testNanosecondsAreWrittenAsSecondsWithAllNineDecimals() throws {
        var storage = [UInt8](repeating: 0, count: 256)
        let text = try storage.withUnsafeMutableBytes { buffer -> String in
            var writer = PrometheusWriter(buffer)
            writer.family("t_seconds_total", type: .counter, help: "Time.")
            for value: UInt64 in [0, 7, 1_500_000_000, 12_000_000_001] {
                writer.beginSample("t_seconds_total")
                writer.endSample(nanosecondsAsSeconds: value)
            }
            return String(decoding: try writer.finish().get(), as: UTF8.self)
        }
        XCTAssertTrue(text.hasSuffix("t_seconds_total 0.000000000\nt_seconds_total 0.000000007\n"
            + "t_seconds_total 1.500000000\nt_seconds_total 12.000000001\n"), text)
    }

    func testOverflowAtEverySizeBelowTheText() {
        let length = expected.utf8.count
        XCTAssertEqual(try render(capacity: length).get(), expected)
        for capacity in 0..<length {
            XCTAssertEqual(problem(render(capacity: capacity)), .overflow, "capacity \(capacity)")
        }
    }

    func testNamesAreChecked() throws {
        var buffer = [UInt8](repeating: 0, count: 256)
        try buffer.withUnsafeMutableBytes { bytes in
            for bad: StaticString in ["", "1abc", "a-b", "a b", "é"] {
                var writer = PrometheusWriter(bytes)
                writer.sample(bad, value: 1)
                XCTAssertEqual(problem(writer.finish()), .invalidName, "\(bad)")
            }
            for badLabel: StaticString in ["", "a:b", "__reserved", "9"] {
                var writer = PrometheusWriter(bytes)
                writer.sample("ok", label: badLabel, "v", value: 1)
                XCTAssertEqual(problem(writer.finish()), .invalidName, "\(badLabel)")
            }
            var good = PrometheusWriter(bytes)
            good.sample("_a:b_9", label: "_x9", "v", value: 0)
            XCTAssertEqual(try good.finish().get().count, "_a:b_9{_x9=\"v\"} 0\n".utf8.count)
        }
    }

    func testMisuseIsReported() {
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBytes { bytes in
            var labelFirst = PrometheusWriter(bytes)
            labelFirst.label("a", "b")
            XCTAssertEqual(problem(labelFirst.finish()), .misuse)
            var unfinished = PrometheusWriter(bytes)
            unfinished.beginSample("a")
            XCTAssertEqual(problem(unfinished.finish()), .misuse)
            var twice = PrometheusWriter(bytes)
            twice.beginSample("a")
            twice.beginSample("b")
            XCTAssertEqual(problem(twice.finish()), .misuse)
            var endOnly = PrometheusWriter(bytes)
            endOnly.endSample(value: UInt64(1))
            XCTAssertEqual(problem(endOnly.finish()), .misuse)
        }
    }

    func testTextWriterStopsAtTheFirstAppendThatDoesNotFit() {
        var buffer = [UInt8](repeating: 0, count: 8)
        buffer.withUnsafeMutableBytes { bytes in
            var writer = TextWriter(bytes)
            writer.append("abc")
            writer.append(decimal: UInt64(12345))
            XCTAssertEqual(writer.count, 8)
            XCTAssertFalse(writer.overflowed)
            writer.append(byte: 1)
            XCTAssertTrue(writer.overflowed)
            XCTAssertEqual(String(decoding: writer.written, as: UTF8.self), "abc12345")
        }
        var small = [UInt8](repeating: 0, count: 4)
        small.withUnsafeMutableBytes { bytes in
            var writer = TextWriter(bytes)
            writer.append("ab")
            writer.append("cde")      // does not fit: nothing of it is written
            writer.append("x")        // nor anything after it
            XCTAssertEqual(writer.count, 2)
            XCTAssertTrue(writer.overflowed)
            var empty = TextWriter(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            empty.append("")
            XCTAssertFalse(empty.overflowed)
            empty.append(decimal: Int64.min)
            XCTAssertTrue(empty.overflowed)
        }
        var wide = [UInt8](repeating: 0, count: 40)
        wide.withUnsafeMutableBytes { bytes in
            var writer = TextWriter(bytes)
            writer.append(decimal: Int64.min)
            writer.append(byte: UInt8(ascii: " "))
            writer.append(decimal: UInt64(0))
            XCTAssertEqual(String(decoding: writer.written, as: UTF8.self), "-9223372036854775808 0")
        }
    }
}

/// The error of `result`, or nil when it succeeded.
func problem<Success>(_ result: Result<Success, PrometheusError>) -> PrometheusError? {
    if case .failure(let error) = result { return error }
    return nil
}
