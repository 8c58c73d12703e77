/// QEMU system tests of the client side of the stream API: the `tcp-client` program connects
/// out to a server on the host (10.0.2.2:7777 through QEMU's user-mode network), sends, half-
/// closes and reads the answer; and reports a refused connection.
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class TCPClientProgramTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// The program's connect completes, its greeting arrives, its shutdown reaches the server as
    /// end of stream, and the server's answer and close reach the program, which then exits 0.
    func testProgramConnectsOutSendsHalfClosesAndReadsTheAnswer() throws {
        let listener = try HostListener(port: 7777)
        let received = ReceivedBytes()
        let served = Thread {
            // Read to end of stream (the program's shutdown), then answer in upper case and close.
            guard let connection = listener.accept(timeout: 60) else { return }
            let bytes = connection.readToEnd(timeout: 30)
            received.set(bytes)
            connection.write(Data(String(decoding: bytes, as: UTF8.self).uppercased().utf8))
            connection.shutdownBoth()
        }
        served.start()
        var machine = QEMUMachine(cpus: 2, commandLine: "run=tcp-client@1", timeout: 90)
        machine.network = .user(hostForwards: [])
        let outcome = try machine.boot(stopWhen: { $0.contains("tcp-client exited with status") })
        listener.close()
        let console = outcome.console
        XCTAssertEqual(String(decoding: received.get(), as: UTF8.self), "hello from a swiglet program\n",
                       "what the server received\n---- console ----\n\(console)")
        XCTAssertTrue(console.contains("tcp-client: received: HELLO FROM A SWIGLET PROGRAM"),
                      "the answer did not reach the program\n---- console ----\n\(console)")
        XCTAssertTrue(console.contains("tcp-client: the server closed after 29 bytes"), "---- console ----\n\(console)")
        XCTAssertTrue(console.contains("tcp-client exited with status 0"), "---- console ----\n\(console)")
    }

    /// With nobody listening, every connect is refused (the host answers the SYN with a RST
    /// through slirp) and the program says so and exits 1 — the `connectFailed` path.
    func testRefusedConnectIsReportedToTheProgram() throws {
        guard HostListener.portIsFree(7777) else { throw XCTSkip("port 7777 is in use on this host") }
        var machine = QEMUMachine(cpus: 2, commandLine: "run=tcp-client@1", timeout: 90)
        machine.network = .user(hostForwards: [])
        let outcome = try machine.boot(stopWhen: { $0.contains("tcp-client exited with status") })
        XCTAssertTrue(outcome.console.contains("tcp-client: connecting to 10.0.2.2:7777 failed 20 times; the last error: connection refused"),
                      "---- console ----\n\(outcome.console)")
        XCTAssertTrue(outcome.console.contains("tcp-client exited with status 1"), "---- console ----\n\(outcome.console)")
    }
}

/// Bytes handed from the server thread to the test.
final class ReceivedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ bytes: Data) { lock.lock(); data = bytes; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

extension TCPClientProgramTests {
    /// A program that faults while it holds an open connection is stopped, and the network
    /// core resets that connection (the host sees the stream end right after the greeting, and
    /// the metrics count the RST), while `tcp-echo` on another CPU goes on serving.
    func testConnectionsOfAStoppedProgramAreResetAndOthersGoOn() throws {
        let listener = try HostListener(port: 7777)
        defer { listener.close() }
        let received = ReceivedBytes()
        let ended = ReceivedBytes()
        let served = Thread {
            guard let connection = listener.accept(timeout: 60) else { return }
            received.set(connection.readToEnd(timeout: 30))
            ended.set(Data("ended".utf8))
        }
        served.start()
        try withTCPGuest(self, name: "tcp-client-crash", cpus: 3, commandLine: "run=tcp-client-crash@1 run=tcp-echo@2",
                         waitFor: ["tcp-echo: serving TCP echo on port 7",
                                   "tcp-client-crash stopped after exception vector 14"]) { running, forwards, problems in
            let deadline = Date().addingTimeInterval(20)
            while ended.get().isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if String(decoding: received.get(), as: UTF8.self) != "hello from a swiglet program\n" {
                problems.append("the server received \(received.get().count) bytes, not the greeting")
            }
            if ended.get().isEmpty { problems.append("the stopped program's connection was not ended within 20 s") }
            let payload = Array("still echoing\n".utf8)
            let client = try TCPClient(host: forwards.host, port: forwards.echo, timeout: 20)
            if try client.echo(payload) != payload { problems.append("tcp-echo did not echo after the other program was stopped") }
            let (_, metrics) = try Metrics.fetch(host: forwards.host, port: forwards.metrics)
            let resets = metrics.sum("swiglet_tcp_resets_total", matching: ["direction=\"out\""])
            if resets < 1 { problems.append("no RST counted for the stopped program's connection: \(metrics.values("swiglet_tcp_resets_total"))") }
        }
    }
}

/// A listening TCP socket on the host's loopback, for a guest program to connect to.
final class HostListener: @unchecked Sendable {
    let descriptor: Int32

    /// Listens on `address` (host order; loopback by default) and `port`, in the calling
    /// thread's network namespace.
    init(port: UInt16, address: UInt32 = 0x7F00_0001) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = HostListener.loopback(port)
        socketAddress.sin_addr.s_addr = address.bigEndian
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 4) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw MachineError(description: "cannot listen on \(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF):\(port): \(reason) (the test needs this port free)")
        }
    }

    /// Whether nothing listens on 127.0.0.1:`port` now.
    static func portIsFree(_ port: UInt16) -> Bool {
        guard let listener = try? HostListener(port: port) else { return false }
        listener.close()
        return true
    }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// The next connection, or nil after `timeout` seconds.
    func accept(timeout: TimeInterval) -> TCPClient? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        let connection = Glibc.accept(descriptor, nil, nil)
        return connection >= 0 ? TCPClient(descriptor: connection) : nil
    }

    func close() { Glibc.shutdown(descriptor, Int32(SHUT_RDWR)); Glibc.close(descriptor) }
}

extension TCPClient {
    /// Reads until the peer's end of stream (or `timeout` seconds of silence).
    func readToEnd(timeout: TimeInterval) -> Data {
        setTimeout(timeout)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// Writes all of `data` (best effort: the test checks what the program printed).
    func write(_ data: Data) { try? send(data) }

    /// Ends both directions now (the descriptor is closed when the client goes away).
    func shutdownBoth() { Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
}
