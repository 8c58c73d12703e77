/// Tests of the boot command line parser: known options, overrides, and every kind of bad word.
import BootConfiguration
import InternetAddress
import XCTest

final class CommandLineParserTests: XCTestCase {
    private func parse(_ text: String, into options: BootOptions = BootOptions()) -> (BootOptions, [(BootOptionProblem.Kind, String)]) {
        var result = options
        var problems: [(BootOptionProblem.Kind, String)] = []
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            CommandLineParser.parse(buffer, into: &result) { problem in
                let word = String(decoding: bytes[problem.wordStart ..< problem.wordStart + problem.wordLength], as: UTF8.self)
                problems.append((problem.kind, word))
            }
        }
        return (result, problems)
    }

    func testEmptyLineKeepsDefaults() {
        let (options, problems) = parse("   ")
        XCTAssertEqual(options.logLevel, .info)
        XCTAssertNil(options.selfTest)
        XCTAssertFalse(options.dumpACPITables)
        XCTAssertNil(options.faultCPU)
        XCTAssertTrue(problems.isEmpty)
    }

    func testKnownOptions() {
        let (options, problems) = parse("log=debug test=page-fault\tacpi-dump fault-cpu=3")
        XCTAssertEqual(options.logLevel, .debug)
        XCTAssertEqual(options.selfTest, .pageFault)
        XCTAssertTrue(options.dumpACPITables)
        XCTAssertEqual(options.faultCPU, 3)
        XCTAssertTrue(problems.isEmpty)
    }

    func testEverySelfTestNameParses() {
        for test in SelfTest.allCases {
            let name = test.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
            XCTAssertEqual(parse("test=\(name)").0.selfTest, test, name)
        }
    }

    func testLaterWordsOverrideEarlierOnes() {
        let (options, _) = parse("log=error log=warn")
        XCTAssertEqual(options.logLevel, .warning)
        // A second parse (fw_cfg after the boot loader) overrides the first.
        let (second, _) = parse("log=debug", into: options)
        XCTAssertEqual(second.logLevel, .debug)
    }

    func testUnknownOptionsAreReportedWithTheirWord() {
        let (options, problems) = parse("quiet log=info nosmp=1")
        XCTAssertEqual(options.logLevel, .info)
        XCTAssertEqual(problems.map(\.0), [.unknownOption, .unknownOption])
        XCTAssertEqual(problems.map(\.1), ["quiet", "nosmp=1"])
    }

    func testBadValuesAreReportedAndLeaveTheSettingAlone() {
        let (options, problems) = parse("log=loud test=nothing fault-cpu=x fault-cpu= fault-cpu=1234567890 acpi-dump=yes log test")
        XCTAssertEqual(options.logLevel, .info)
        XCTAssertNil(options.selfTest)
        XCTAssertNil(options.faultCPU)
        XCTAssertFalse(options.dumpACPITables)
        XCTAssertEqual(problems.count, 8)
        XCTAssertTrue(problems.allSatisfy { $0.0 == .badValue })
    }

    func testNetworkOptions() {
        let (options, problems) = parse("net=off net-cpu=1 ip=192.168.7.20/16 gateway=192.168.0.1 net-stats=5")
        XCTAssertTrue(problems.isEmpty)
        XCTAssertFalse(options.networkEnabled)
        XCTAssertEqual(options.networkCPU, 1)
        XCTAssertEqual(options.address, IPv4Address(192, 168, 7, 20))
        XCTAssertEqual(options.prefixLength, 16)
        XCTAssertEqual(options.gateway, IPv4Address(192, 168, 0, 1))
        XCTAssertEqual(options.networkStatisticsInterval, 5)
        XCTAssertNil(parse("gateway=none").0.gateway)
    }

    func testNetworkDefaultsMatchQEMUUserNetworking() {
        let options = BootOptions()
        XCTAssertTrue(options.networkEnabled)
        XCTAssertEqual(options.networkCPU, 0)
        XCTAssertEqual(options.address.rawValue, 0x0A00_020F)
        XCTAssertEqual(options.prefixLength, 24)
        XCTAssertEqual(options.gateway?.rawValue, 0x0A00_0202)
    }

    func testNetworkModeAndCPUDefaults() {
        let options = BootOptions()
        XCTAssertEqual(options.networkMode, .dedicated)
        XCTAssertEqual(options.networkCPUs, [0])
        XCTAssertFalse(options.networkCPUsGiven)
    }

    func testNetworkMode() {
        XCTAssertEqual(parse("net-mode=symmetric").0.networkMode, .symmetric)
        XCTAssertEqual(parse("net-mode=symmetric net-mode=dedicated").0.networkMode, .dedicated)
        // The mode alone does not count as naming network CPUs.
        XCTAssertFalse(parse("net-mode=symmetric").0.networkCPUsGiven)
        for word in ["net-mode", "net-mode=", "net-mode=shared", "net-mode=Symmetric", "net-mode=dedicated+"] {
            let (options, problems) = parse("net-mode=symmetric \(word)")
            XCTAssertEqual(problems.map(\.0), [.badValue], word)
            XCTAssertEqual(problems.map(\.1), [word], word)
            XCTAssertEqual(options.networkMode, .symmetric, word)
        }
    }

    func testNetworkCPULists() {
        let cases: [(String, [Int])] = [
            ("net-cpus=3", [3]), ("net-cpus=0+1", [0, 1]), ("net-cpus=1-2", [1, 2]), ("net-cpus=2-2", [2]),
            ("net-cpus=0+2-4+7", [0, 2, 3, 4, 7]), ("net-cpus=5+1", [5, 1]), ("net-cpus=0-7", Array(0...7)),
            ("net-cpus=255", [255]),
        ]
        for (word, expected) in cases {
            let (options, problems) = parse(word)
            XCTAssertTrue(problems.isEmpty, word)
            XCTAssertEqual(options.networkCPUs, expected, word)
            XCTAssertEqual(options.networkCPU, expected[0], word)
            XCTAssertTrue(options.networkCPUsGiven, word)
        }
        // net-cpu=N is the one-CPU form; the later word wins either way.
        let single = parse("net-cpus=1+2 net-cpu=3").0
        XCTAssertEqual(single.networkCPUs, [3])
        XCTAssertTrue(single.networkCPUsGiven)
        XCTAssertTrue(parse("net-cpu=0").0.networkCPUsGiven)
        XCTAssertEqual(parse("net-cpu=3 net-cpus=0+1").0.networkCPUs, [0, 1])
    }

    func testBadNetworkCPUListsAreRejectedAndLeaveTheSettingAlone() {
        for word in ["net-cpus", "net-cpus=", "net-cpus=+", "net-cpus=1+", "net-cpus=+1", "net-cpus=1++2",
                     "net-cpus=1,2", "net-cpus=1:2", "net-cpus=x", "net-cpus=-1", "net-cpus=1-", "net-cpus=3-1",
                     "net-cpus=1-2-3", "net-cpus=256", "net-cpus=1-256", "net-cpus=1+1", "net-cpus=0-2+2",
                     "net-cpus=1-3+2", "net-cpus=0-8", "net-cpus=0-255", "net-cpus=0+1+2+3+4+5+6+7+8",
                     "net-cpus=0-3+4-8", "net-cpu=256", "net-cpu=0+1", "net-cpu=1-2", "net-cpu="] {
            let (options, problems) = parse("net-cpus=4+5 \(word)")
            XCTAssertEqual(problems.map(\.0), [.badValue], word)
            // The report names the whole word, and with it the option.
            XCTAssertEqual(problems.map(\.1), [word], word)
            XCTAssertEqual(options.networkCPUs, [4, 5], word)
        }
        // A rejected word does not count as naming network CPUs.
        XCTAssertFalse(parse("net-cpus=1+1").0.networkCPUsGiven)
        XCTAssertFalse(parse("net-cpu=x").0.networkCPUsGiven)
        XCTAssertEqual(parse("net-cpu-list=1").1.map(\.0), [.unknownOption])
    }

    func testBadAddressesAreRejected() {
        for word in ["ip=10.0.2.15", "ip=10.0.2/24", "ip=10.0.2.256/24", "ip=10.0.2.15/0", "ip=10.0.2.15/33",
                     "ip=1.2.3.4.5/8", "ip=a.b.c.d/8", "gateway=10..2.2", "gateway=", "ip=10.0.2.15/", "ip=.1.2.3/8",
                     "net=maybe", "net-cpu=-1", "net-stats=x"] {
            let (options, problems) = parse(word)
            XCTAssertEqual(problems.map(\.0), [.badValue], word)
            XCTAssertEqual(options.address, BootOptions().address, word)
        }
    }

    func testProgramAssignments() {
        XCTAssertNil(parse("").0.programs)
        let (options, problems) = parse("run=udp-echo@1 run=spinner@2")
        XCTAssertTrue(problems.isEmpty)
        XCTAssertEqual(options.programs, [ProgramAssignment(name: Array("udp-echo".utf8), cpu: 1),
                                          ProgramAssignment(name: Array("spinner".utf8), cpu: 2)])
        XCTAssertEqual(parse("run=spinner@2 run=none").0.programs, [])
        XCTAssertFalse(BootOptions().programsSpin)
        XCTAssertTrue(parse("app-wait=spin").0.programsSpin)
        XCTAssertFalse(parse("app-wait=spin app-wait=sleep").0.programsSpin)
        XCTAssertEqual(parse("app-wait=fast").1.map(\.0), [.badValue])
        XCTAssertTrue(BootOptions().tcpSendLends)
        XCTAssertFalse(parse("tcp-send=copy").0.tcpSendLends)
        XCTAssertTrue(parse("tcp-send=copy tcp-send=lend").0.tcpSendLends)
        XCTAssertEqual(parse("tcp-send=zero").1.map(\.0), [.badValue])
        XCTAssertFalse(BootOptions().recordsNetwork)
        XCTAssertTrue(parse("record=on").0.recordsNetwork)
        XCTAssertFalse(parse("record=on record=off").0.recordsNetwork)
        XCTAssertEqual(parse("record=yes").1.map(\.0), [.badValue])
        XCTAssertEqual(parse("record").1.map(\.0), [.badValue])
        XCTAssertEqual(BootOptions().networkIdle, .poll)
        XCTAssertEqual(parse("net-idle=halt").0.networkIdle, .halt)
        XCTAssertEqual(parse("net-idle=interrupt").0.networkIdle, .interrupt)
        XCTAssertEqual(parse("net-idle=interrupt net-idle=poll").0.networkIdle, .poll)
        // When and how long to halt: the defaults unless given, each word whole.
        XCTAssertEqual(BootOptions().networkIdlePasses, 256)
        XCTAssertEqual(BootOptions().networkIdleHaltMicroseconds, 50)
        let tuned = parse("net-idle=interrupt:16:20").0
        XCTAssertEqual([tuned.networkIdlePasses, tuned.networkIdleHaltMicroseconds], [16, 20])
        XCTAssertEqual(tuned.networkIdle, .interrupt)
        let passesOnly = parse("net-idle=halt:1000").0
        XCTAssertEqual([passesOnly.networkIdlePasses, passesOnly.networkIdleHaltMicroseconds], [1000, 50])
        let reset = parse("net-idle=halt:16:20 net-idle=halt").0
        XCTAssertEqual([reset.networkIdlePasses, reset.networkIdleHaltMicroseconds], [256, 50])
        for word in ["net-idle=poll:16", "net-idle=halt:0", "net-idle=halt:1000001", "net-idle=halt:16:0",
                     "net-idle=halt:16:100001", "net-idle=halt:16:20:1", "net-idle=halt:", "net-idle=halt::20",
                     "net-idle=halt:x", "net-idle=:16", "net-idle="] {
            XCTAssertEqual(parse(word).1.map(\.0), [.badValue], word)
        }
        XCTAssertEqual(parse("net-idle=nap").1.map(\.0), [.badValue])
        for word in ["run=", "run=@1", "run=spinner@", "run=spinner@x", "run", "run=" + String(repeating: "x", count: 32)] {
            XCTAssertEqual(parse(word).1.map(\.0), [.badValue], word)
        }
        // No CPU: the kernel places it.
        XCTAssertEqual(parse("run=spinner run=http@2").0.programs,
                       [ProgramAssignment(name: Array("spinner".utf8), cpu: nil), ProgramAssignment(name: Array("http".utf8), cpu: 2)])
        XCTAssertEqual(BootOptions().timeSliceMilliseconds, 10)
        XCTAssertEqual(parse("slice=3").0.timeSliceMilliseconds, 3)
        for word in ["slice=0", "slice=1001", "slice=x", "slice"] {
            XCTAssertEqual(parse(word).1.map(\.0), [.badValue], word)
        }
    }

    func testImpairmentOptions() {
        let defaults = BootOptions()
        XCTAssertFalse(defaults.receiveImpairment.isActive)
        XCTAssertFalse(defaults.transmitImpairment.isActive)
        XCTAssertEqual(defaults.impairmentSeed, 1)

        let (options, problems) = parse("impair-rx=drop=1:dup=0.5:reorder=2:gap=3:delay=500 impair-tx=drop=12.25 impair-seed=42")
        XCTAssertTrue(problems.isEmpty)
        XCTAssertEqual(options.receiveImpairment, ImpairmentSetting(dropBasisPoints: 100, duplicateBasisPoints: 50,
                                                                    reorderBasisPoints: 200, reorderGap: 3,
                                                                    delayMicroseconds: 500))
        XCTAssertEqual(options.transmitImpairment, ImpairmentSetting(dropBasisPoints: 1225))
        XCTAssertEqual(options.impairmentSeed, 42)

        // impair= sets both directions; none clears; a later word wins; fields may repeat.
        let both = parse("impair=delay=20:drop=100").0
        XCTAssertEqual(both.receiveImpairment, ImpairmentSetting(dropBasisPoints: 10_000, delayMicroseconds: 20))
        XCTAssertEqual(both.transmitImpairment, both.receiveImpairment)
        let cleared = parse("impair=drop=5 impair-tx=none").0
        XCTAssertEqual(cleared.receiveImpairment.dropBasisPoints, 500)
        XCTAssertFalse(cleared.transmitImpairment.isActive)
        XCTAssertEqual(parse("impair-rx=drop=1:drop=2").0.receiveImpairment.dropBasisPoints, 200)
        XCTAssertEqual(parse("impair-rx=drop=0.1").0.receiveImpairment.dropBasisPoints, 10)
        XCTAssertEqual(parse("impair-seed=123456789012345678").0.impairmentSeed, 123_456_789_012_345_678)
    }

    func testBadImpairmentValuesAreRejectedAndLeaveTheSettingAlone() {
        for word in ["impair", "impair=", "impair-rx=", "impair-rx=drop", "impair-rx=drop=", "impair-rx=drop=101",
                     "impair-rx=drop=100.01", "impair-rx=drop=1.234", "impair-rx=drop=1.", "impair-rx=drop=.5",
                     "impair-rx=drop=-1", "impair-rx=drop=1,dup=1", "impair-rx=drop=1:", "impair-rx=:drop=1",
                     "impair-rx=loss=1", "impair-rx=gap=0", "impair-rx=gap=65", "impair-rx=delay=1000001",
                     "impair-rx=delay=5ms", "impair-tx=rx:drop=1", "impair-seed=", "impair-seed=x",
                     "impair-seed=1234567890123456789", "impair-seed=-1", "impair-seed"] {
            let (options, problems) = parse("impair-rx=drop=3 \(word)")
            XCTAssertEqual(problems.map(\.0), [.badValue], word)
            XCTAssertEqual(options.receiveImpairment, ImpairmentSetting(dropBasisPoints: 300), word)
            XCTAssertFalse(options.transmitImpairment.isActive, word)
            XCTAssertEqual(options.impairmentSeed, 1, word)
        }
        XCTAssertEqual(parse("impair-dx=drop=1").1.map(\.0), [.unknownOption])
    }

    func testOddBytesNeverCrash() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0...64, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            var options = BootOptions()
            bytes.withUnsafeBytes { buffer in
                CommandLineParser.parse(buffer, into: &options) { problem in
                    XCTAssertLessThanOrEqual(problem.wordStart + problem.wordLength, bytes.count)
                    XCTAssertGreaterThan(problem.wordLength, 0)
                }
            }
        }
    }

    /// `offload=`: all by default; `all`, `none` or names joined by `+`; an unknown, empty or
    /// repeated name is a bad value that leaves the setting as it was.
    func testOffloads() {
        XCTAssertEqual(BootOptions().offloads, .all)
        XCTAssertEqual(parse("offload=none").0.offloads, [])
        XCTAssertEqual(parse("offload=none offload=all").0.offloads, .all)
        XCTAssertEqual(parse("offload=csum").0.offloads, [.transmitChecksum])
        XCTAssertEqual(parse("offload=guest-csum").0.offloads, [.receiveChecksum])
        XCTAssertEqual(parse("offload=guest-csum+csum").0.offloads, [.transmitChecksum, .receiveChecksum])
        XCTAssertEqual(parse("offload=event-idx").0.offloads, [.eventIndex])
        // Everything but event-idx: what an experiment compares `all` with.
        XCTAssertEqual(parse("offload=csum+guest-csum+tso4+guest-tso4").0.offloads, NetworkOffloads.all.subtracting(.eventIndex))
        XCTAssertEqual(NetworkOffloads.named.map { "\($0.name)" }, ["csum", "guest-csum", "tso4", "guest-tso4", "event-idx"])
        XCTAssertEqual(NetworkOffloads.named.reduce(NetworkOffloads()) { $0.union($1.offload) }, .all, "every offload has a name")
        for bad in ["offload", "offload=", "offload=tso", "offload=csum+csum", "offload=csum+", "offload=+csum", "offload=CSUM",
                    "offload=event_idx", "offload=event-idx+event-idx"] {
            let (options, problems) = parse("offload=csum \(bad)")
            XCTAssertEqual(options.offloads, [.transmitChecksum], bad)
            XCTAssertEqual(problems.map(\.0), [.badValue], bad)
            XCTAssertEqual(problems.map(\.1), [bad], bad)
        }
    }
}
