// swiglet-replay: replays a network context's recording (record=on) on the host and reports the first divergence.
import Foundation
import NetworkRecording
import NetworkReplay

let usage = """
    swiglet-replay: replay a Swiglet network context's recording on the host.

    USAGE: swiglet-replay [OPTIONS] LOG

    LOG is a recording made with the boot option record=on and saved from the guest's memory
    (the boot log names its address; QEMU's monitor saves it: stop, then
    pmemsave ADDRESS SIZE FILE). The replay builds the same portable network context with the
    recorded configuration (addresses, TCP secret key, buffer sizes, impairment seed) and runs
    it pass by pass on the recorded inputs — the clock of each pass, every received frame, what
    the transmit queue accepted, the kernel's meter and metrics text, and everything it read
    from the programs' channels (ring indices, requests, send payloads, programs starting and
    ending) — checking every frame it builds, every completion it writes and every doorbell it
    rings against the recording. No program runs: the recorded reads stand in for them. It
    stops at the first divergence and names its event. Run it under a debugger
    (lldb swiglet-replay LOG) to watch the context take the recorded inputs.

    OPTIONS:
      -q, --quiet    only the result line
      -h, --help     this text

    OUTPUT: progress on stderr, then a line
      result: identical|diverged events=N passes=P frames_in=I frames_out=O channels=C requests=R completions=W [divergence=EVENT]
    EXIT STATUS: 0 identical to the end of the recording; 1 diverged; 2 bad options or not a
    recording.
    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("swiglet-replay: \(message)\n".utf8))
    exit(status)
}

var quiet = false
var path: String?
for argument in CommandLine.arguments.dropFirst() {
    switch argument {
    case "-h", "--help": print(usage); exit(0)
    case "-q", "--quiet": quiet = true
    default:
        if argument.hasPrefix("-") { fail("unknown option '\(argument)' (see --help)") }
        if path != nil { fail("give one recording, not several (see --help)") }
        path = argument
    }
}
guard let path else { fail("no recording given (see --help)") }
guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read '\(path)'") }
let log: RecordLog
do {
    log = try RecordLog(bytes: [UInt8](data))
} catch {
    fail("\(path): \(error)")
}
if !quiet {
    FileHandle.standardError.write(Data("swiglet-replay: \(path): \(log.events.count) events in \(log.committedBytes) bytes\(log.wasFull ? " (the ring filled: a prefix of the session)" : "")\n".utf8))
}
let result: ReplayResult
do {
    result = try Replayer.replay(log, progress: { done, total in
        if !quiet { FileHandle.standardError.write(Data("swiglet-replay: \(done) of \(total) events\n".utf8)) }
    })
} catch {
    fail("\(path): \(error)")
}
if !quiet {
    print("replayed \(result.passes) passes, \(result.eventsReplayed) of \(log.events.count) events: \(result.framesReceived) frames in, \(result.framesMatched) frames out identical")
    if result.channelsAdded > 0 {
        print("program channels: \(result.channelsAdded) added, \(result.requestsTaken) requests taken, \(result.completionsMatched) completions identical")
    }
    if let divergence = result.divergence { print("first divergence: \(divergence)") }
    if result.endedMidPass { print("the recording ends inside a pass (a copy taken while it ran); identical up to there") }
}
let verdict = result.divergence != nil ? "diverged" : "identical"
print("result: \(verdict) events=\(result.eventsReplayed) passes=\(result.passes) frames_in=\(result.framesReceived) frames_out=\(result.framesMatched)"
      + " channels=\(result.channelsAdded) requests=\(result.requestsTaken) completions=\(result.completionsMatched)"
      + (result.divergence.map { " divergence=\($0.event)" } ?? ""))
exit(result.divergence != nil ? 1 : 0)
