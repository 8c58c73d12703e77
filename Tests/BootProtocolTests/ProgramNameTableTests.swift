// The program table built from modules' command lines: one module per ELF, several names each.

import BootProtocol
import RawBytes
import TestSupport
import XCTest

final class ProgramNameTableTests: XCTestCase {
    /// Buffers kept mapped until the test case ends (readers do not own their memory).
    var retained: [GuardedBuffer] = []

    /// A table of modules with these command lines, each read from guarded memory.
    func table(_ commandLines: [String]) -> ProgramNameTable {
        var table = ProgramNameTable()
        for line in commandLines {
            let buffer = GuardedBuffer(ascii(line))
            retained.append(buffer)
            table.addModule(commandLine: buffer.reader)
        }
        return table
    }

    func names(_ table: ProgramNameTable) -> [String] {
        table.entries.map { String(decoding: $0.name, as: UTF8.self) }
    }

    func module(_ table: ProgramNameTable, _ name: String) -> Int? {
        Array(name.utf8).withUnsafeBytes { table.module(named: $0) }
    }

    func testOneName() {
        let table = table(["udp-echo"])
        XCTAssertEqual(names(table), ["udp-echo"])
        XCTAssertEqual(module(table, "udp-echo"), 0)
        XCTAssertTrue(table.rejections.isEmpty)
        XCTAssertEqual(table.moduleCount, 1)
    }

    func testSeveralNamesShareOneModule() {
        let table = table(["udp-echo", "faulty faulty-ud faulty-gp faulty-de", "bad-channel bad-channel-exit"])
        XCTAssertEqual(names(table), ["udp-echo", "faulty", "faulty-ud", "faulty-gp", "faulty-de", "bad-channel", "bad-channel-exit"])
        for name in ["faulty", "faulty-ud", "faulty-gp", "faulty-de"] { XCTAssertEqual(module(table, name), 1, name) }
        XCTAssertEqual(module(table, "bad-channel-exit"), 2)
        XCTAssertEqual(table.names(ofModule: 1).map { String(decoding: $0, as: UTF8.self) }, ["faulty", "faulty-ud", "faulty-gp", "faulty-de"])
        XCTAssertNil(module(table, "faulty-"))
        XCTAssertNil(module(table, "faulty-ud2"))
        XCTAssertNil(module(table, ""))
        XCTAssertTrue(table.rejections.isEmpty)
    }

    func testExtraSpacesAndTabsSeparateNames() {
        let table = table(["  faulty \t faulty-ud   faulty-gp  "])
        XCTAssertEqual(names(table), ["faulty", "faulty-ud", "faulty-gp"])
        XCTAssertTrue(table.rejections.isEmpty)
    }

    func testANulEndsTheCommandLine() {
        let table = table(["spinner\0flood"])
        XCTAssertEqual(names(table), ["spinner"])
    }

    func testEmptyCommandLineLeavesTheModuleWithoutNames() {
        let table = table(["", "   ", "http"])
        XCTAssertEqual(names(table), ["http"])
        XCTAssertEqual(module(table, "http"), 2)
        XCTAssertEqual(table.rejections.map(\.module), [0, 1])
        XCTAssertEqual(table.rejections.map(\.problem), [.noName, .noName])
        XCTAssertTrue(table.names(ofModule: 0).isEmpty)
    }

    func testNamesOfThirtyOneBytesAreKeptLongerOnesRejected() {
        let longest = String(repeating: "a", count: 31)
        let tooLong = String(repeating: "b", count: 32)
        let veryLong = String(repeating: "c", count: 100)
        let table = table(["\(longest) \(tooLong) \(veryLong) ok"])
        XCTAssertEqual(names(table), [longest, "ok"])
        XCTAssertEqual(table.rejections.map(\.problem), [.tooLong, .tooLong])
        XCTAssertEqual(table.rejections[0].word, ascii(tooLong))
        XCTAssertFalse(table.rejections[0].cut)
        // A long word is kept for the message only in part, and says so.
        XCTAssertEqual(table.rejections[1].word.count, ProgramNameTable.keptRejectedBytes)
        XCTAssertTrue(table.rejections[1].cut)
    }

    func testBadCharactersAreRejected() {
        let table = table(["good run=x@1 a,b caf\u{e9} ok_1.2"])
        XCTAssertEqual(names(table), ["good", "ok_1.2"])
        XCTAssertEqual(table.rejections.map(\.problem), [.badCharacter(UInt8(ascii: "=")), .badCharacter(UInt8(ascii: ",")), .badCharacter(0xC3)])
        XCTAssertEqual(table.rejections[0].word, ascii("run=x@1"))
    }

    func testADuplicateNameStaysWithTheFirstModule() {
        let table = table(["faulty faulty", "spinner faulty"])
        XCTAssertEqual(names(table), ["faulty", "spinner"])
        XCTAssertEqual(module(table, "faulty"), 0)
        XCTAssertEqual(table.rejections.map(\.module), [0, 1])
        XCTAssertEqual(table.rejections.map(\.problem), [.duplicate, .duplicate])
    }

    func testMessagesSayWhatHappened() {
        XCTAssertEqual("\(ProgramNameProblem.tooLong.message)", "longer than 31 bytes; name ignored")
        XCTAssertTrue("\(ProgramNameProblem.badCharacter(0x3D).message)".contains("a-z, A-Z, 0-9"))
        XCTAssertTrue("\(ProgramNameProblem.duplicate.message)".contains("first one keeps it"))
        XCTAssertTrue("\(ProgramNameProblem.noName.message)".contains("module is ignored"))
    }

    /// The names come from the module tags of real-shaped boot information (GRUB's layout).
    func testNamesFromModuleTags() throws {
        var builder = Multiboot2Builder()
        builder.addModule(start: 0x20_0000, end: 0x21_0000, commandLine: "tcp-client tcp-client-crash")
        builder.addModule(start: 0x21_0000, end: 0x22_0000, commandLine: "faulty faulty-ud faulty-gp faulty-de")
        let buffer = GuardedBuffer(builder.build())
        retained.append(buffer)
        let information = try Multiboot2Information(magic: Multiboot2.bootloaderMagic, bytes: buffer.reader)
        var table = ProgramNameTable()
        for module in information.modules { table.addModule(commandLine: module.commandLine) }
        XCTAssertEqual(names(table), ["tcp-client", "tcp-client-crash", "faulty", "faulty-ud", "faulty-gp", "faulty-de"])
        XCTAssertEqual(module(table, "tcp-client-crash"), 0)
        XCTAssertEqual(module(table, "faulty-de"), 1)
    }
}
