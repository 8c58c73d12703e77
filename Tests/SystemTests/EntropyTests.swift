/// QEMU tests of the secrets' source: virtio-rng (transitional and modern) when the machine has one, else RDRAND when the CPU model has it, else timing jitter — named in the boot log, and TCP works with each.
import Foundation
import XCTest

final class EntropyTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// Each machine boots, logs the source it should, uses it for TCP's keys (the tcp line says
    /// so), and answers an HTTP request over a fresh connection (whose ISN came from those keys).
    func testTheBestSourceIsUsedAndNamed() throws {
        let cases: [(QEMUMachine.EntropyDevice, String?, String, String)] = [
            (.transitional, nil, "entropy: secrets from virtio-rng (the host's random source)", "virtio-rng"),
            (.modernOnly, nil, "entropy: secrets from virtio-rng (the host's random source)", "virtio-rng"),
            // virtio-rng wins over RDRAND.
            (.transitional, "max", "entropy: secrets from virtio-rng (the host's random source)", "virtio-rng"),
            (.none, "max", "entropy: secrets from RDRAND (no virtio-rng device)", "RDRAND"),
            (.none, nil, "warning: entropy: secrets from timing jitter only (no virtio-rng device, no RDRAND): weak keys", "timing jitter"),
        ]
        for (device, cpuModel, line, source) in cases {
            let httpPort = QEMUMachine.freePort()
            var machine = QEMUMachine(cpus: 2, commandLine: "run=http@1")
            machine.entropyDevice = device
            machine.cpuModel = cpuModel
            // QEMU's own record of the bytes its virtio-rng handed over: the outside check.
            machine.traceEvents = ["virtio_rng_pushed"]
            machine.network = .user(hostForwards: ["tcp:127.0.0.1:\(httpPort)-:80"])
            try machine.whileRunning { running in
                let label = "\(device), cpu \(cpuModel ?? "default")"
                XCTAssertTrue(running.console.contains(line), "\(label): expected '\(line)'\n\(running.console)")
                XCTAssertTrue(running.console.contains("keys from \(source), metrics on port"), "\(label)\n\(running.console)")
                XCTAssertFalse(running.console.contains("virtio-rng stopped answering"), "\(label)\n\(running.console)")
                // Two 64-bit keys per context, each 8 bytes pushed by the device (QEMU's trace).
                let pushes = running.console.split(separator: "\n").filter { $0.contains("virtio_rng_pushed") && $0.contains("8 bytes pushed") }.count
                XCTAssertEqual(pushes, source == "virtio-rng" ? 2 : 0, "\(label): QEMU's virtio-rng pushes\n\(running.console)")
                try running.waitFor("http: serving HTTP on port 80", timeout: 60)
                let client = try TCPClient(host: "127.0.0.1", port: httpPort, timeout: 20)
                try client.send("GET /about.txt HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                var pending: [UInt8] = []
                let response = try HTTPResponse.read(from: client, pending: &pending)
                XCTAssertEqual(response.status, 200, label)
            }
        }
    }
}
