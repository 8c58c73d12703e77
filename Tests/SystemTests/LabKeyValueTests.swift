/// The checker of docs/labs/udp-kv: the ring-3 program `kv` serves the lab's key-value protocol on UDP port 7070 (SET, GET, MISSING, ERROR, bounded sizes), and its answers go through its channel.
import Foundation
import XCTest

final class LabKeyValueTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    static let kvPort: UInt16 = 7070

    func testKeyValueStoreAnswersOverUDPFromItsProgram() throws {
        let port = QEMUMachine.freePort(udp: true)
        try QEMUMachine.withMetrics(cpus: 2, commandLine: "run=kv@1", extra: ["udp:127.0.0.1:\(port)-:\(Self.kvPort)"]) { running, metricsPort in
            // The first answer (the program may still be starting): the lab's first milestone.
            var first: String?
            let deadline = Date().addingTimeInterval(60)
            while first == nil && Date() < deadline {
                if running.console.contains("programs: no module named 'kv'") {
                    return XCTFail("the image has no program named kv (docs/labs/udp-kv/README.md, Hints):\n\(running.console)")
                }
                first = try Self.ask("GET never-set", port: port, timeout: 2)
            }
            guard let first else { return XCTFail("no answer from UDP port \(Self.kvPort) within 60 s:\n\(running.console)") }
            XCTAssertEqual(first, "MISSING\n", "GET of a key never set")

            let before = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            var answered = 1
            // Each exchange: the request, the exact answer expected.
            var exchanges: [(String, String)] = [
                ("SET colour blue", "OK\n"),
                ("GET colour", "VALUE blue\n"),
                ("SET colour sky blue", "OK\n"),                 // replaces; a value may hold spaces
                ("GET colour", "VALUE sky blue\n"),
                ("SET k2 v\n", "OK\n"),                          // one trailing newline is ignored
                ("GET k2\n", "VALUE v\n"),
                ("GET k22", "MISSING\n"),                        // keys match whole, not by prefix
                ("SET " + String(repeating: "k", count: 32) + " longest key", "OK\n"),
                ("GET " + String(repeating: "k", count: 32), "VALUE longest key\n"),
                ("SET long " + String(repeating: "v", count: 200), "OK\n"),
                ("GET long", "VALUE " + String(repeating: "v", count: 200) + "\n"),
            ]
            // Malformed requests: an ERROR line each, and nothing stored.
            let errors = [
                "DELETE colour", "get colour", "GET", "GET ", "SET", "SET onlykey", "SET  x", "GET colour extra",
                "SET " + String(repeating: "k", count: 33) + " v",    // key of 33 bytes
                "SET long " + String(repeating: "v", count: 201),     // value of 201 bytes
                "SET ta\u{09}b v",                                     // a control character in the key
            ]
            for (request, expected) in exchanges {
                let answer = try Self.ask(request, port: port)
                XCTAssertEqual(answer, expected, "answer to \(request.debugDescription)")
                if answer != nil { answered += 1 }
            }
            for request in errors {
                let answer = try Self.ask(request, port: port)
                XCTAssertTrue(answer?.hasPrefix("ERROR ") == true && answer?.hasSuffix("\n") == true,
                              "\(request.debugDescription) should get an ERROR line, got \(answer.debugDescription)")
                if answer != nil { answered += 1 }
            }
            exchanges = [("GET colour", "VALUE sky blue\n"), ("GET long", "VALUE " + String(repeating: "v", count: 200) + "\n"),
                         ("GET onlykey", "MISSING\n")]
            for (request, expected) in exchanges {
                XCTAssertEqual(try Self.ask(request, port: port), expected, "after the errors: \(request.debugDescription)")
                answered += 1
            }

            // The store holds 64 keys: the 65th new key is refused, replacing one still works.
            let stored = 4   // colour, k2, the 32-byte key, long
            for index in stored..<64 {
                XCTAssertEqual(try Self.ask("SET key\(index) \(index)", port: port), "OK\n", "key \(index + 1) of 64")
            }
            let full = try Self.ask("SET one-too-many x", port: port)
            XCTAssertTrue(full?.hasPrefix("ERROR ") == true, "a 65th key should be refused, got \(full.debugDescription)")
            XCTAssertEqual(try Self.ask("SET key63 replaced", port: port), "OK\n", "a full store still replaces")
            XCTAssertEqual(try Self.ask("GET key63", port: port), "VALUE replaced\n")
            XCTAssertEqual(try Self.ask("GET one-too-many", port: port), "MISSING\n")
            answered += 64 - stored + 4

            // The answers came through the program's channel: the network core counted a send
            // request on a program channel for each (it cannot answer port 7070 itself).
            let after = try Metrics.fetch(host: "127.0.0.1", port: metricsPort).1
            let requests = after.sum("swiglet_channel_requests_total") - before.sum("swiglet_channel_requests_total")
            XCTAssertGreaterThanOrEqual(requests, Double(answered - 1),
                                        "channel requests over \(answered - 1) answers\n\(after.values("swiglet_channel_requests_total"))")
            XCTAssertFalse(after.values("swiglet_program_cpu_seconds_total", matching: ["program=\"kv\"", "cpu=\"1\""]).isEmpty,
                           "kv runs on cpu1: \(after.values("swiglet_program_cpu_seconds_total"))")
            XCTAssertFalse(running.console.contains(": exception #"), running.console)
        }
    }

    /// Sends `request` to the store and returns its answer as text (nil: none came). A lost
    /// datagram is tried once more (every request of the protocol may be repeated).
    static func ask(_ request: String, port: UInt16, timeout: Int = 3) throws -> String? {
        for _ in 0..<2 {
            if let reply = try UDPEchoClient.request(host: "127.0.0.1", port: port, payload: Array(request.utf8), timeout: timeout) {
                return String(decoding: reply, as: UTF8.self)
            }
        }
        return nil
    }
}
