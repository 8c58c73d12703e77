/// Boots the Swiglet ISO in QEMU for a test: a timeout, the whole console kept, and QEMU's
/// exit status (isa-debug-exit) read back.
import Foundation
import XCTest

/// One boot of images/swiglet.iso.
struct QEMUMachine {
    var cpus = 2
    var memory = "256M"
    /// Boot options passed through fw_cfg (opt/swiglet/cmdline).
    var commandLine: String? = nil
    /// Give up after this long (TCG on a busy 2-core machine is slow: be generous).
    var timeout: TimeInterval = 90

    /// What a boot produced.
    struct Outcome {
        var console: String
        /// QEMU's exit status, nil when the harness stopped it (timeout or `stopWhen`).
        var exitStatus: Int32?
        var timedOut: Bool
        /// isa-debug-exit: the kernel wrote 0 (pass) → 1, wrote 1 (fail) → 3.
        var selfTestPassed: Bool { exitStatus == 1 }
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let image = packageRoot.appendingPathComponent("images/swiglet.iso")
    static let kernelELF = packageRoot.appendingPathComponent("images/swiglet.elf")

    /// Skips the test when the image or QEMU is missing, unless SWIGLET_REQUIRE_QEMU is set
    /// (as `make test` does), in which case it fails with what is missing.
    static func requireImage() throws {
        var missing: [String] = []
        if !FileManager.default.fileExists(atPath: image.path) { missing.append("\(image.path) (run `make image`)") }
        if findExecutable("qemu-system-x86_64") == nil { missing.append("qemu-system-x86_64 (run `make deps`)") }
        guard !missing.isEmpty else { return }
        let message = "missing: " + missing.joined(separator: ", ")
        if ProcessInfo.processInfo.environment["SWIGLET_REQUIRE_QEMU"] != nil {
            XCTFail(message)
            throw XCTSkip("cannot boot: \(message)")
        }
        throw XCTSkip(message)
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Boots and collects the console until QEMU exits, `stopWhen` returns true for the console
    /// so far, or the timeout passes.
    func boot(stopWhen: ((String) -> Bool)? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: QEMUMachine.findExecutable("qemu-system-x86_64") ?? "/usr/bin/qemu-system-x86_64")
        var arguments = [
            "-accel", "tcg,thread=multi", "-smp", "\(cpus)", "-m", memory,
            "-serial", "stdio", "-display", "none", "-monitor", "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-cdrom", QEMUMachine.image.path,
        ]
        if let commandLine {
            // fw_cfg's option parser splits on commas: QEMU escapes them as ",,".
            arguments += ["-fw_cfg", "name=opt/swiglet/cmdline,string=" + commandLine.replacingOccurrences(of: ",", with: ",,")]
        }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice

        let collected = ConsoleBuffer()
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collected.append(data) }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        var stopped = false
        while process.isRunning {
            if Date() > deadline { timedOut = true; break }
            if let stopWhen, stopWhen(collected.text) { stopped = true; break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        output.fileHandleForReading.readabilityHandler = nil
        if let rest = try? output.fileHandleForReading.readToEnd() { collected.append(rest) }
        let status: Int32? = (timedOut || stopped) ? nil : process.terminationStatus
        return Outcome(console: collected.text, exitStatus: status, timedOut: timedOut)
    }
}

/// Console bytes gathered from QEMU's output pipe on another thread.
final class ConsoleBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.lock(); data.append(more); lock.unlock() }
    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
    }
}
