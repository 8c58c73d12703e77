/// Seeded fuzz runs whose depth is set from outside: short in `swift test`, deep under `make fuzz`, with progress, a summary and a replay line.

import Foundation
import XCTest

/// One fuzzer's run: `iterations` inputs drawn from one `SplitMix64` stream started at `seed`.
///
/// `swift test` gives every fuzzer its own short default (about a second each, so `make test`
/// stays quick). `make fuzz` sets SWIGLET_FUZZ_ITERATIONS, the number of inputs of *every*
/// fuzzer, so one number says how deep the run goes; SWIGLET_FUZZ_SEED replaces each fuzzer's own
/// seed (decimal or 0x hex). Several fuzzers keep state from one input to the next (a network
/// stack, a connection table, a channel), so an input is replayed by running the same seed up to
/// it: the first input after which the test has a failure stops the run, and the failure names
/// the seed and the iteration count that reproduce it.
///
/// With SWIGLET_FUZZ_ITERATIONS set, progress goes to stderr every tenth of the run; the summary
/// line (inputs, seconds, inputs per second, seed) is printed always and, when
/// SWIGLET_FUZZ_SUMMARY names a file, appended to it (`make fuzz` prints that file at the end).
public struct FuzzRun {
    /// What is fuzzed, for the progress and summary lines.
    public let name: String
    /// How many inputs the run makes.
    public let iterations: Int
    /// The seed of the run's generator.
    public let seed: UInt64
    /// Whether the depth came from SWIGLET_FUZZ_ITERATIONS (a long run that reports progress).
    public let isLong: Bool

    /// A run of `name` with `defaultIterations` inputs and `defaultSeed`, unless the environment
    /// says otherwise.
    public init(_ name: String, defaultIterations: Int, defaultSeed: UInt64) {
        self.name = name
        let requested = FuzzRun.environmentNumber("SWIGLET_FUZZ_ITERATIONS")
        iterations = requested.map { Int(clamping: $0) } ?? defaultIterations
        isLong = requested != nil
        seed = FuzzRun.environmentNumber("SWIGLET_FUZZ_SEED") ?? defaultSeed
    }

    /// A number from the environment: decimal, or hexadecimal after 0x; `_` may group digits.
    public static func environmentNumber(_ variable: String) -> UInt64? {
        guard let text = ProcessInfo.processInfo.environment[variable]?.replacingOccurrences(of: "_", with: ""),
              !text.isEmpty else { return nil }
        return text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }

    /// Calls `body` once per input with the input's number and the run's generator, in order,
    /// and stops after the first input during which `testCase` recorded a failure (any XCTAssert
    /// in `body`, or in code it calls). That failure is followed by one naming the input, the
    /// seed and the command that replays it. Returns how many inputs passed (fewer than
    /// `iterations` after a failure, so a test can skip its checks over the whole run).
    @discardableResult
    public func run(in testCase: XCTestCase, file: StaticString = #filePath, line: UInt = #line,
                    function: String = #function,
                    _ body: (_ iteration: Int, _ random: inout SplitMix64) throws -> Void) rethrows -> Int {
        var random = SplitMix64(seed: seed)
        let crashReport = CrashReport(name: name, seed: hex(seed),
                                      filter: replayCommand(upTo: 0, testCase: testCase, function: function).filter)
        defer { crashReport.remove() }
        let started = ContinuousClock.now
        let failuresBefore = testCase.testRun?.totalFailureCount ?? 0
        var nextTenth = 1
        var completed = 0
        var failed = false
        while completed < iterations {
            let iteration = completed
            crashingIteration = iteration
            try body(iteration, &random)
            completed += 1
            if (testCase.testRun?.totalFailureCount ?? 0) != failuresBefore {
                let replay = replayCommand(upTo: iteration, testCase: testCase, function: function).command
                let message = "\(name): input \(iteration) of seed \(hex(seed)) failed (above); replay: \(replay)"
                FuzzRun.printError("fuzz \(message)")
                XCTFail(message, file: file, line: line)
                failed = true
                break
            }
            if isLong, iterations >= 10, completed * 10 >= nextTenth * iterations {
                FuzzRun.printError("fuzz \(name): \(nextTenth * 10)% (\(completed) of \(iterations) inputs, \(seconds(since: started)) s)")
                nextTenth += 1
            }
        }
        let elapsed = ContinuousClock.now - started
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = secondsTaken > 0 ? Int(Double(completed) / secondsTaken) : 0
        let summary = "fuzz summary: \(name): \(completed) inputs in \(String(format: "%.1f", secondsTaken)) s"
            + " (\(rate) inputs/s), seed \(hex(seed))"
            + (failed ? ", STOPPED at a failing input" : "")
        FuzzRun.printError(summary)
        if let path = ProcessInfo.processInfo.environment["SWIGLET_FUZZ_SUMMARY"], !path.isEmpty,
           let file = fopen(path, "a") {
            fputs(summary + "\n", file)
            fclose(file)
        }
        return failed ? completed - 1 : completed
    }

    /// The command that runs this fuzzer again up to and including input `iteration`, and its
    /// `--filter` argument.
    private func replayCommand(upTo iteration: Int, testCase: XCTestCase,
                               function: String) -> (command: String, filter: String) {
        // XCTest names the running test "Class.method" (the run may be called from a helper
        // of the test, so #function is only the fallback).
        let method = testCase.name.split(separator: ".").last.map(String.init)
            ?? (function.hasSuffix("()") ? String(function.dropLast(2)) : function)
        let filter = "\(String(reflecting: type(of: testCase)))/\(method)"
        return ("SWIGLET_FUZZ_SEED=\(hex(seed)) SWIGLET_FUZZ_ITERATIONS=\(iteration + 1) swift test --filter '\(filter)'", filter)
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16, uppercase: true) }

    private func seconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// One line to stderr, unbuffered (progress must show while a long run goes on).
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

// MARK: Crashes

/// The input being run, for the crash handler (written before each input, read only there).
nonisolated(unsafe) private var crashingIteration = 0
/// The crash message around the input's number: before it, between it and the replay count,
/// and after (allocated while a run is on, so the handler only reads memory and writes).
nonisolated(unsafe) private var crashMessage: (UnsafeMutableBufferPointer<UInt8>, UnsafeMutableBufferPointer<UInt8>,
                                               UnsafeMutableBufferPointer<UInt8>)?
/// The summary file (SWIGLET_FUZZ_SUMMARY) opened for the crash handler, or -1.
nonisolated(unsafe) private var crashSummaryFile: Int32 = -1
/// The handlers that were installed before the run's (the Swift runtime's backtracer), by signal.
nonisolated(unsafe) private let previousActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
/// What a failed check in Swift (a trap), a bad access (a guard page) or an abort raise.
private let crashSignals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE]

/// While a run is on, a crash — which ends the process before any check can report — first
/// prints the input, the seed and the replay command to stderr (and the summary file), then goes
/// on to the handler that was there before (the Swift runtime's backtrace): the handler puts the
/// old one back and returns, so the faulting instruction runs again and crashes as it would have.
private struct CrashReport {
    init(name: String, seed: String, filter: String) {
        func copy(_ text: String) -> UnsafeMutableBufferPointer<UInt8> {
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.utf8.count)
            _ = buffer.initialize(from: text.utf8)
            return buffer
        }
        crashMessage = (copy("fuzz summary: \(name): CRASHED in input "),
                        copy(" of seed \(seed); replay: SWIGLET_FUZZ_SEED=\(seed) SWIGLET_FUZZ_ITERATIONS="),
                        copy(" swift test --filter '\(filter)'\n"))
        if let path = ProcessInfo.processInfo.environment["SWIGLET_FUZZ_SUMMARY"], !path.isEmpty {
            crashSummaryFile = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        }
        for signal in crashSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in reportCrash(signal) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, previousActions + Int(signal))
        }
    }

    /// Puts the previous handlers back and frees the message.
    func remove() {
        for signal in crashSignals { sigaction(signal, previousActions + Int(signal), nil) }
        if crashSummaryFile >= 0 {
            close(crashSummaryFile)
            crashSummaryFile = -1
        }
        if let (first, second, third) = crashMessage {
            crashMessage = nil
            first.deallocate()
            second.deallocate()
            third.deallocate()
        }
    }
}

/// The signal handler: only `write`, `sigaction` and stack memory (no allocation: the crash may
/// have happened inside the allocator).
private func reportCrash(_ signal: Int32) {
    var newline = UInt8(ascii: "\n")
    write(2, &newline, 1)
    writeCrashMessage(to: 2)
    if crashSummaryFile >= 0 { writeCrashMessage(to: crashSummaryFile) }
    sigaction(signal, previousActions + Int(signal), nil)
}

/// The crash line, with the input's number and the replay count filled in.
private func writeCrashMessage(to file: Int32) {
    guard let (first, second, third) = crashMessage else { return }
    write(file, first.baseAddress, first.count)
    writeDecimal(crashingIteration, to: file)
    write(file, second.baseAddress, second.count)
    writeDecimal(crashingIteration + 1, to: file)
    write(file, third.baseAddress, third.count)
}

/// Writes `value` in decimal to `file` without allocating.
private func writeDecimal(_ value: Int, to file: Int32) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: room for any Int
    withUnsafeMutableBytes(of: &digits) { buffer in
        var remaining = value
        var start = buffer.count
        repeat {
            start -= 1
            buffer[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        } while remaining > 0 && start > 0
        write(file, buffer.baseAddress! + start, buffer.count - start)
    }
}
