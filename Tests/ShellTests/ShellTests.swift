// The console shell's line editor and command parser: editing keys, terminal escape sequences, and every bad input answered with a message that names it.
import Shell
import XCTest

final class LineEditorTests: XCTestCase {
    private func type(_ text: String, into editor: inout LineEditor) -> [LineEditorEvent] {
        Array(text.utf8).map { editor.take($0) }
    }

    func testTypedLineIsEchoedAndHandedOutOnEnter() {
        var editor = LineEditor()
        XCTAssertEqual(type("ps", into: &editor), [.echo([UInt8(ascii: "p")]), .echo([UInt8(ascii: "s")])])
        XCTAssertEqual(editor.take(0x0D), .line(Array("ps".utf8)))
        XCTAssertEqual(editor.take(0x0A), LineEditorEvent.none, "CR LF ends one line, not two")
        XCTAssertEqual(editor.take(0x0A), .line([]), "a lone LF ends a line")
    }

    func testBackspaceDeleteAndControlUErase() {
        var editor = LineEditor()
        _ = type("kilk", into: &editor)
        XCTAssertEqual(editor.take(0x7F), .echo([0x08, 0x20, 0x08]))
        XCTAssertEqual(editor.take(0x08), .echo([0x08, 0x20, 0x08]))
        _ = type("ll 3", into: &editor)
        XCTAssertEqual(editor.current, Array("kill 3".utf8))
        XCTAssertEqual(editor.take(0x15), .echo(Array(repeating: [0x08, 0x20, 0x08], count: 6).flatMap { $0 }))
        XCTAssertEqual(editor.current, [])
        XCTAssertEqual(editor.take(0x7F), LineEditorEvent.none, "nothing to erase")
    }

    func testControlCAbandonsTheLine() {
        var editor = LineEditor()
        _ = type("run spin", into: &editor)
        XCTAssertEqual(editor.take(0x03), .cancelled)
        XCTAssertEqual(editor.take(0x0D), .line([]))
    }

    func testArrowKeysAndOtherEscapeSequencesAreSwallowed() {
        var editor = LineEditor()
        _ = type("p\u{1B}[A\u{1B}[1;5C\u{1B}OBs", into: &editor)
        XCTAssertEqual(editor.current, Array("ps".utf8))
    }

    func testAFullLineRingsTheBellAndKeepsWhatFits() {
        var editor = LineEditor(capacity: 4)
        _ = type("abcd", into: &editor)
        XCTAssertEqual(editor.take(UInt8(ascii: "e")), .echo([0x07]))
        XCTAssertEqual(editor.take(0x0D), .line(Array("abcd".utf8)))
    }

    func testControlBytesAreIgnoredAndTabIsASpace() {
        var editor = LineEditor()
        XCTAssertEqual(editor.take(0x01), LineEditorEvent.none)
        XCTAssertEqual(editor.take(0xFF), LineEditorEvent.none)
        _ = type("ps\t", into: &editor)
        XCTAssertEqual(editor.current, Array("ps ".utf8))
    }
}

final class ShellCommandTests: XCTestCase {
    private func parse(_ line: String) -> Result<ShellCommand, ShellError> { ShellCommand.parse(Array(line.utf8)) }
    private func message(_ line: String) -> String? {
        guard case .failure(let error) = parse(line) else { return nil }
        return String(decoding: error.message, as: UTF8.self)
    }

    func testEveryCommand() {
        XCTAssertEqual(try parse("").get(), .empty)
        XCTAssertEqual(try parse("   ").get(), .empty)
        XCTAssertEqual(try parse("help").get(), .help)
        XCTAssertEqual(try parse("?").get(), .help)
        XCTAssertEqual(try parse(" ps ").get(), .processes)
        XCTAssertEqual(try parse("meter").get(), .meter)
        XCTAssertEqual(try parse("net").get(), .network)
        XCTAssertEqual(try parse("kill 12").get(), .kill(id: 12))
        XCTAssertEqual(try parse("fault nic").get(), .injectNICFault)
        XCTAssertEqual(try parse("run spinner").get(), .run(name: Array("spinner".utf8), cpu: nil))
        XCTAssertEqual(try parse("run spinner@2").get(), .run(name: Array("spinner".utf8), cpu: 2))
        XCTAssertEqual(try parse("run spinner @2").get(), .run(name: Array("spinner".utf8), cpu: 2))
        XCTAssertEqual(try parse("run  spinner   3").get(), .run(name: Array("spinner".utf8), cpu: 3))
    }

    func testBadInputGetsAMessageNamingIt() {
        XCTAssertEqual(message("launch x"), "unknown command 'launch' (try help)")
        XCTAssertEqual(message("PS"), "unknown command 'PS' (try help)")
        XCTAssertEqual(message("ps -a"), "usage: ps")
        XCTAssertEqual(message("kill"), "usage: kill ID")
        XCTAssertEqual(message("kill 1 2"), "usage: kill ID")
        XCTAssertEqual(message("kill x1"), "'x1' is not a program id")
        XCTAssertEqual(message("kill -1"), "'-1' is not a program id")
        XCTAssertEqual(message("kill 9999999999"), "'9999999999' is not a program id")
        XCTAssertEqual(message("fault"), "usage: fault nic")
        XCTAssertEqual(message("fault disk"), "usage: fault nic")
        XCTAssertEqual(message("fault nic now"), "usage: fault nic")
        XCTAssertEqual(message("run"), "usage: run NAME [@CPU]")
        XCTAssertEqual(message("run @1"), "usage: run NAME [@CPU]")
        XCTAssertEqual(message("run a@1 2"), "usage: run NAME [@CPU]")
        XCTAssertEqual(message("run spinner@one"), "'one' is not a CPU number")
        XCTAssertEqual(message("run spinner@"), "'' is not a CPU number")
        XCTAssertEqual(message("run spinner 999"), "'999' is not a CPU number")
        XCTAssertEqual(message("run " + String(repeating: "x", count: 32)),
                       "program name '" + String(repeating: "x", count: 32) + "' is longer than 31 bytes")
        XCTAssertEqual(message("\u{7F}bad"), "unknown command '?bad' (try help)")
    }
}
