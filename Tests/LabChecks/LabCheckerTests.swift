/// The labs' checkers checked themselves: the parts of them that read a student's work, tried on answers known to be right and wrong. These pass on an unsolved tree, so `make test` runs them.
import Foundation
import XCTest

final class LabCheckerTests: XCTestCase {
    // MARK: intrusion-placements: reading answer.md

    func testSectionsAreFoundByTheStartOfTheirHeading() {
        let bodies = IntrusionPlacementsLab.sectionBodies("""
            # My answer
            ## The run
            two words
            ## The ratio: dedicated over symmetric
            1.16 and more
            # Appendix
            not in any section
            """)
        XCTAssertEqual(bodies.count, 2)
        XCTAssertEqual(IntrusionPlacementsLab.body(of: "The run", in: bodies), "two words\n")
        XCTAssertEqual(IntrusionPlacementsLab.body(of: "The ratio", in: bodies), "1.16 and more\n")
        XCTAssertNil(IntrusionPlacementsLab.body(of: "The figure", in: bodies))
    }

    func testResultsDirectoriesAreFoundWithoutTrailingPunctuation() {
        let text = "Run `results/placement/2026-12-06-0242-810190e/`, and results/placement/2026-12-06-0236-810190e."
        XCTAssertEqual(IntrusionPlacementsLab.resultsDirectories(in: text),
                       ["results/placement/2026-12-06-0242-810190e", "results/placement/2026-12-06-0236-810190e"])
        XCTAssertEqual(IntrusionPlacementsLab.resultsDirectories(in: "no run named"), [])
    }

    /// A quoted number must round to a measured value as written (a share may be in %); a CPU
    /// count, a year inside a path or a number that rounds otherwise does not count.
    func testQuotedNumbersMatchOnlyWhatTheyRound() {
        let numbers = IntrusionPlacementsLab.numbers(in: "HTTP: 13,416 req/s, ratio 1.16, 45% of cpu1 on 2 vCPUs, results/placement/2026-12-06-0242-810190e")
        XCTAssertEqual(numbers.map(\.value), [13_416, 1.16, 45, 2], "the 1 of cpu1 is part of a word")
        func quoted(_ measured: Double) -> Bool { numbers.contains { $0.quotes(measured) } }
        XCTAssertTrue(quoted(13_416.4))
        XCTAssertTrue(quoted(1.158))
        XCTAssertTrue(quoted(0.449), "45% is a share of 0.449")
        XCTAssertFalse(quoted(1.17))
        XCTAssertFalse(quoted(2), "a one-digit integer is a count, not a result")
        XCTAssertFalse(quoted(2026), "numbers inside the results path are not quotes")
    }

    func testCSVRowsKeepQuotedCommasAndSkipBlankLines() throws {
        let rows = try IntrusionPlacementsLab.csvRows("target,point,median\n\"dedicated, 2\",http,13416\n\nsymmetric,http,\"11,5\"\n")
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0]["target"], "dedicated, 2")
        XCTAssertEqual(rows[1]["median"], "11,5")
    }

    func testThePlacementComesFromTheBootOptionsOrTheName() {
        XCTAssertEqual(IntrusionPlacementsLab.placement(target: "swiglet-sym", bootOptions: ["swiglet-sym": "net-stats=1 net-mode=symmetric"]), "symmetric")
        XCTAssertEqual(IntrusionPlacementsLab.placement(target: "dedicated", bootOptions: [:]), "dedicated")
        XCTAssertNil(IntrusionPlacementsLab.placement(target: "linux", bootOptions: ["linux": ""]))
    }

    // MARK: icmp-timestamp: the reference checksum

    func testTheICMPLabsChecksumIsZeroOverBytesThatCarryTheirOwn() {
        // An ICMP echo request with its checksum filled in (type 8, code 0, id 1, sequence 1).
        let message: [UInt8] = [8, 0, 0xF7, 0xFD, 0, 1, 0, 1]
        XCTAssertEqual(ICMPTimestampLab.checksum(message), 0)
        XCTAssertNotEqual(ICMPTimestampLab.checksum([8, 0, 0, 0, 0, 1, 0, 1]), 0)
    }
}
