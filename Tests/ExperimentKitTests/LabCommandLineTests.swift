/// Tests of swiglet-lab's command line: subcommands, run options, and refusals that name the option.
import ExperimentKit
import XCTest

final class LabCommandLineTests: XCTestCase {
    private func refusal(_ arguments: [String]) -> LabUsageError? {
        do {
            _ = try LabCommand.parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    func testRunOptions() throws {
        var expected = LabRunOptions(file: "experiments/smoke.exp")
        XCTAssertEqual(try LabCommand.parse(["run", "experiments/smoke.exp"]), .run(expected))
        expected.quick = true
        expected.repetitions = 3
        expected.results = "results/x"
        expected.only = "linux"
        expected.keepGoing = true
        expected.readyTimeout = 60
        expected.bench = "/tmp/bench"
        XCTAssertEqual(try LabCommand.parse(["run", "--quick", "--repetitions", "3", "experiments/smoke.exp", "--results", "results/x",
                                             "--only=linux", "--keep-going", "--ready-timeout", "60", "--bench", "/tmp/bench"]),
                       .run(expected))
    }

    func testOtherSubcommandsAndHelp() throws {
        XCTAssertEqual(try LabCommand.parse(["check", "a.exp", "b.exp"]), .check(["a.exp", "b.exp"]))
        XCTAssertEqual(try LabCommand.parse(["table", "results/smoke/x"]), .table("results/smoke/x"))
        XCTAssertEqual(try LabCommand.parse(["--help"]), .help(nil))
        XCTAssertEqual(try LabCommand.parse(["-h"]), .help(nil))
        XCTAssertEqual(try LabCommand.parse(["help", "table"]), .help(.table))
        XCTAssertEqual(try LabCommand.parse(["run", "--help"]), .help(.run))
        XCTAssertEqual(try LabCommand.parse(["check", "-h"]), .help(.check))
        XCTAssertEqual(try LabCommand.parse(["table", "--help"]), .help(.table))
    }

    func testBadCommandLinesNameWhatIsWrong() {
        XCTAssertTrue(refusal([])!.message.contains("no subcommand"))
        XCTAssertTrue(refusal(["rnu"])!.message.contains("'rnu'"))
        let unknown = refusal(["run", "x.exp", "--qiuck"])!
        XCTAssertTrue(unknown.message.contains("'--qiuck'"), unknown.message)
        XCTAssertEqual(unknown.subcommand, .run)
        XCTAssertTrue(refusal(["run", "x.exp", "--repetitions", "0"])!.message.contains("--repetitions '0'"))
        XCTAssertTrue(refusal(["run", "x.exp", "--repetitions", "many"])!.message.contains("--repetitions 'many'"))
        XCTAssertTrue(refusal(["run", "x.exp", "--results"])!.message.contains("--results needs a value"))
        XCTAssertTrue(refusal(["run", "x.exp", "--quick=yes"])!.message.contains("--quick takes no value"))
        XCTAssertTrue(refusal(["run", "x.exp", "--ready-timeout", "-1"])!.message.contains("--ready-timeout"))
        XCTAssertTrue(refusal(["run"])!.message.contains("needs an experiment file"))
        XCTAssertTrue(refusal(["run", "a.exp", "b.exp"])!.message.contains("'a.exp' and 'b.exp'"))
        XCTAssertTrue(refusal(["check"])!.message.contains("at least one"))
        XCTAssertTrue(refusal(["check", "--all"])!.message.contains("'--all'"))
        XCTAssertTrue(refusal(["table"])!.message.contains("exactly one"))
        XCTAssertTrue(refusal(["table", "a", "b"])!.message.contains("exactly one"))
        XCTAssertEqual(refusal(["table", "--csv", "a"])?.subcommand, .table)
    }
}
