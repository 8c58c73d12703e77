/// swiglet-bench's offered-rate UDP echo and its tcp-rr mode against echo servers on this host: rates held, every answer checked, wrong bytes caught.

import Foundation
import XCTest

final class BenchToolTests: XCTestCase {
    /// A UDP and TCP echo server on 127.0.0.1 (Python's asyncio); with `corrupt`, its TCP
    /// side flips a bit of the first byte of every read after the first 5,000 bytes.
    static let echoServer = """
        import asyncio, sys
        port, corrupt = int(sys.argv[1]), sys.argv[2] == "corrupt"
        class Datagrams(asyncio.DatagramProtocol):
            def connection_made(self, transport): self.transport = transport
            def datagram_received(self, data, address): self.transport.sendto(data, address)
        async def stream(reader, writer):
            seen = 0
            while data := await reader.read(65536):
                seen += len(data)
                if corrupt and seen > 5000: data = bytes([data[0] ^ 1]) + data[1:]
                writer.write(data)
            writer.close()
        async def main():
            await asyncio.get_running_loop().create_datagram_endpoint(Datagrams, local_addr=("127.0.0.1", port))
            server = await asyncio.start_server(stream, "127.0.0.1", port)
            print("ready", flush=True)
            await server.serve_forever()
        asyncio.run(main())
        """

    private var servers: [Process] = []

    override func tearDown() {
        for server in servers where server.isRunning { server.terminate(); server.waitUntilExit() }
        servers.removeAll()
    }

    /// Starts an echo server on a free-looking port; returns the port once it listens.
    private func startEcho(corrupt: Bool) throws -> Int {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("needs /usr/bin/python3") }
        let port = 20000 + Int(getpid() % 10000) + servers.count * 7
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-c", Self.echoServer, String(port), corrupt ? "corrupt" : "plain"]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        servers.append(server)
        let line = output.fileHandleForReading.availableData
        XCTAssertEqual(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "ready")
        return port
    }

    private func bench(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runTool(try TCPRobustnessTests.benchExecutable(), arguments, timeout: 60)
    }

    /// `key=value` fields of the `result:` line (tcp-rr) or of a UDP results line.
    private func fields(_ output: String, prefix: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix(prefix) {
            for word in line.split(separator: " ") {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2, let value = Double(pair[1]) { values[String(pair[0])] = value }
            }
        }
        return values
    }

    func testTCPRequestAnswerVerifiesEveryAnswer() throws {
        let port = try startEcho(corrupt: false)
        let (status, output) = try bench(["tcp-rr", "-d", "1", "-w", "0.2", "-c", "4", "--window", "3", "--size", "300", "127.0.0.1:\(port)"])
        XCTAssertEqual(status, 0, output)
        let result = fields(output, prefix: "result: mode=tcp-rr")
        XCTAssertGreaterThan(result["requests"] ?? 0, 100, output)
        for kind in ["mismatched", "timeouts", "closed", "connect_failed"] { XCTAssertEqual(result[kind], 0, "\(kind): \(output)") }
        XCTAssertGreaterThan(result["p99_us"] ?? 0, 0, output)
    }

    func testTCPRequestAnswerCatchesWrongBytes() throws {
        let port = try startEcho(corrupt: true)
        let (status, output) = try bench(["tcp-rr", "-d", "1", "-w", "0", "-c", "2", "127.0.0.1:\(port)"])
        XCTAssertEqual(status, 1, "a wrong answer fails the run: \(output)")
        XCTAssertGreaterThan(fields(output, prefix: "result: mode=tcp-rr")["mismatched"] ?? 0, 0, output)
    }

    func testTCPRequestAnswerHoldsAnOfferedRate() throws {
        let port = try startEcho(corrupt: false)
        let (status, output) = try bench(["tcp-rr", "-d", "2", "-w", "0.5", "-c", "4", "--rate", "1000", "127.0.0.1:\(port)"])
        XCTAssertEqual(status, 0, output)
        let result = fields(output, prefix: "result: mode=tcp-rr")
        XCTAssertEqual(result["rps"] ?? 0, 1000, accuracy: 50, output)
        XCTAssertEqual(result["offered_rps"], 1000, output)
    }

    func testUDPEchoHoldsAnOfferedRate() throws {
        let port = try startEcho(corrupt: false)
        let saved = FileManager.default.temporaryDirectory.appendingPathComponent("bench-rate-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: saved) }
        let (status, output) = try bench(["-q", "-d", "2", "-w", "0.5", "--sizes", "64", "--windows", "8", "--rate", "1500",
                                          "--save", saved, "127.0.0.1:\(port)"])
        XCTAssertEqual(status, 0, output)
        let result = fields(try String(contentsOfFile: saved, encoding: .utf8), prefix: "size=")
        XCTAssertEqual(result["rps"] ?? 0, 1500, accuracy: 75, output)
        XCTAssertEqual(result["offered_rps"], 1500)
        XCTAssertEqual(result["lost"], 0)
        XCTAssertEqual(result["mismatched"], 0)
    }

    func testBadOptionsAreNamed() throws {
        let (status, output) = try bench(["tcp-rr", "--window", "0", "127.0.0.1"])
        XCTAssertEqual(status, 2)
        XCTAssertTrue(output.contains("--window '0'"), output)
        let (rateStatus, rateOutput) = try bench(["--rate", "-5", "127.0.0.1"])
        XCTAssertEqual(rateStatus, 2)
        XCTAssertTrue(rateOutput.contains("--rate '-5'"), rateOutput)
    }
}
