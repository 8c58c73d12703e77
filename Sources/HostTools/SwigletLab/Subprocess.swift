/// Child processes: started with their output in a file, waited for with a timeout, stopped politely then for good.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program that could not be started.
struct LaunchError: Error, CustomStringConvertible {
    var description: String
}

/// Finds `name` on PATH (and in the sbin directories, where `ip` lives); nil when absent.
func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Host monotonic time in seconds (CLOCK_MONOTONIC: unaffected by the wall clock being set).
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// One running child. Its standard output and error go to `outputPath` (a file, never a pipe:
/// a chatty child cannot then block on a full pipe nobody reads), its input is /dev/null. An
/// interruptible child is registered with `Interruption` while it runs, so Ctrl-C stops it too;
/// the cleanup after Ctrl-C (deleting the namespace) runs children that are not.
final class Child: @unchecked Sendable {
    let arguments: [String]
    let outputPath: String
    private let process = Process()
    private let interruptible: Bool

    /// Starts `arguments` (the program first, found on PATH).
    init(_ arguments: [String], outputPath: String, interruptible: Bool = true) throws {
        self.interruptible = interruptible
        guard let program = arguments.first, let executable = findExecutable(program) else {
            throw LaunchError(description: "'\(arguments.first ?? "")' is not installed (not on PATH)")
        }
        self.arguments = arguments
        self.outputPath = outputPath
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath) else {
            throw LaunchError(description: "cannot write \(outputPath)")
        }
        defer { try? output.close() }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LaunchError(description: "cannot start \(program): \(error.localizedDescription)")
        }
        if interruptible { Interruption.register(process.processIdentifier) }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Waits for the end, at most `timeout` seconds (forever when nil); its exit status, or nil
    /// when it is still running (then the caller decides whether to `stop` it).
    func wait(timeout: Double? = nil) -> Int32? {
        let deadline = timeout.map { monotonicSeconds() + $0 }
        while process.isRunning {
            if let deadline, monotonicSeconds() >= deadline { return nil }
            usleep(20_000)
        }
        if interruptible { Interruption.unregister(pid) }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGTERM, up to `grace` seconds to go, then SIGKILL. Returns the exit status.
    @discardableResult
    func stop(grace: Double = 5) -> Int32 {
        if process.isRunning {
            kill(pid, SIGTERM)
            if let status = wait(timeout: grace) { return status }
            kill(pid, SIGKILL)
        }
        return wait() ?? -1
    }

    /// What it has written so far.
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
}

/// Runs `arguments` to the end (at most `timeout` seconds, then it is stopped); its status (nil
/// on timeout) and output. The output is kept in `outputPath` when given, else in a temporary
/// file removed afterwards. A child that is not `interruptible` is left alone by Ctrl-C (cleanups).
func runTool(_ arguments: [String], timeout: Double, outputPath: String? = nil,
             interruptible: Bool = true) throws -> (status: Int32?, output: String) {
    let path = outputPath ?? NSTemporaryDirectory() + "swiglet-lab-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
    let child = try Child(arguments, outputPath: path, interruptible: interruptible)
    var status = child.wait(timeout: timeout)
    if status == nil { child.stop(); status = nil }
    let output = child.output
    if outputPath == nil { try? FileManager.default.removeItem(atPath: path) }
    return (status, output)
}

/// Writes `text` to standard error (progress and messages; standard output is for tables).
func say(_ text: String) {
    FileHandle.standardError.write(Data(("swiglet-lab: " + text + "\n").utf8))
}
