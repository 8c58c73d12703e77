/// Replays a recording: the same portable context code, driven by the recorded inputs, checked against every recorded output.
import Channels
import Network
import NetworkContext
import NetworkRecording

/// The first point where the replayed context did something other than the recorded one.
public struct Divergence: Error, Equatable, CustomStringConvertible, Sendable {
    /// The recorded event where it happened.
    public var event: Int
    /// The pass it happened in (1 is the first).
    public var pass: Int
    public var expected: String
    public var actual: String
    public var description: String { "event \(event) (pass \(pass)): the recording has \(expected); the replay \(actual)" }
}

/// What a replay found.
public struct ReplayResult: Sendable {
    public var passes = 0
    public var eventsReplayed = 0
    public var framesReceived = 0
    /// Frames the replay built and found byte for byte equal to the recording's.
    public var framesMatched = 0
    public var divergence: Divergence?
    /// The recording ended inside a pass (a copy taken while it ran, or a full ring): the
    /// replay stops there, agreeing so far.
    public var endedMidPass = false
    /// Why the replay cannot go on, when the recording holds something it does not drive.
    public var unsupported: String?
}

/// The recorded events in order, consumed by the replay's ports; where they disagree it keeps
/// the first divergence and from then on answers as blandly as it can (no frames, no room).
final class ReplayCursor {
    let events: [RecordedEvent]
    var position = 1
    var pass = 0
    var divergence: Divergence?
    var endedMidPass = false
    var unsupported: String?
    var framesReceived = 0
    var framesMatched = 0
    /// Where replayed frames are built (64 KiB of IPv4 behind an Ethernet header, and room).
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)

    init(events: [RecordedEvent]) { self.events = events }
    deinit { scratch.deallocate() }

    var stopped: Bool { divergence != nil || endedMidPass || unsupported != nil }

    /// The next event if it is of `kind`; otherwise records the divergence (`doing`: what the
    /// replayed context did instead) and returns nil.
    func take(_ kind: RecordFormat.Kind, doing: @autoclosure () -> String) -> RecordedEvent? {
        guard !stopped else { return nil }
        guard position < events.count else { endedMidPass = true; return nil }
        let event = events[position]
        if event.kind == .channelActivity || (event.kind == .doorbell && kind != .doorbell) {
            unsupported = "event \(event.index) is program-channel traffic, which replay does not drive yet (record with run=none)"
            return nil
        }
        guard event.kind == kind else {
            diverge(at: event, expected: Self.describe(event), actual: doing())
            return nil
        }
        position += 1
        return event
    }

    /// Whether the next event is of `kind` (without taking it).
    func next(is kind: RecordFormat.Kind) -> Bool { !stopped && position < events.count && events[position].kind == kind }

    func diverge(at event: RecordedEvent, expected: String, actual: String) {
        guard divergence == nil else { return }
        divergence = Divergence(event: event.index, pass: pass, expected: expected, actual: actual)
    }

    static func describe(_ event: RecordedEvent) -> String {
        switch event.kind {
        case .configuration: "the configuration"
        case .pass: "a new pass at \(event.prefix) ns"
        case .received: "a received frame of \(event.bytes.count) bytes"
        case .receiveEnd: "the end of a receive call"
        case .transmitted:
            event.prefix & 1 != 0 ? "a transmitted frame of \(event.bytes.count) bytes" : "a transmit refused for want of room"
        case .largestSegment: "a question for the largest segmented frame"
        case .flush: "a transmit kick (flush)"
        case .meterText: "a request for the meter's text"
        case .metricsText: "a request for the metrics text"
        case .doorbell: "a doorbell for cpu \(event.prefix & 0xFFFF_FFFF), channel \(event.prefix >> 32)"
        case .channelActivity: "program-channel traffic"
        case .idlePasses: "idle passes"   // expanded by `RecordLog`: never seen here
        }
    }
}

/// The NIC's receive half, handing up the recorded frames.
struct ReplayReceiver: FrameReceiver {
    let cursor: ReplayCursor

    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Int {
        var count = 0
        while true {
            if cursor.next(is: .received) {
                let event = cursor.take(.received, doing: "")!
                guard count < limit, let checksum = ReceivedChecksum(recordCode: event.prefix) else {
                    cursor.diverge(at: event, expected: "a received frame", actual: "took no more than \(limit) frames per call")
                    return count
                }
                count += 1
                cursor.framesReceived += 1
                event.bytes.withUnsafeBytes { body($0, checksum) }
            } else {
                _ = cursor.take(.receiveEnd, doing: "asked the NIC for frames")
                return count
            }
        }
    }
}

/// The NIC's transmit half: each frame the replayed context builds is compared with the
/// recorded one, and the queue accepts or refuses as it did.
struct ReplaySender: FrameSender {
    let cursor: ReplayCursor

    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        replay(segmentSize: 0, build)
    }

    mutating func largestSegmentedFrame() -> Int {
        guard let event = cursor.take(.largestSegment, doing: "asked for the largest segmented frame") else { return 0 }
        return Int(event.prefix)
    }

    mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        replay(segmentSize: segmentSize, build)
    }

    mutating func flush() {
        _ = cursor.take(.flush, doing: "kicked the transmit queue (flush)")
    }

    private func replay(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard let event = cursor.take(.transmitted, doing: "transmitted a frame") else { return false }
        let recordedSegmentSize = Int(event.prefix >> 32)
        if recordedSegmentSize != segmentSize {
            cursor.diverge(at: event, expected: "a frame cut into segments of \(recordedSegmentSize) bytes",
                           actual: "asked for segments of \(segmentSize) bytes")
            return false
        }
        let accepted = event.prefix & 2 != 0
        guard event.prefix & 1 != 0 else { return accepted }
        let length = build(cursor.scratch)
        let built = Array(UnsafeRawBufferPointer(rebasing: cursor.scratch[..<max(0, min(length, cursor.scratch.count))]))
        if built != event.bytes {
            let first = zip(built, event.bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(built.count, event.bytes.count)
            cursor.diverge(at: event, expected: "a frame of \(event.bytes.count) bytes",
                           actual: "built a frame of \(built.count) bytes, different from byte \(first) on")
            return false
        }
        cursor.framesMatched += 1
        return accepted
    }
}

/// The kernel: answers meter and metrics requests with the recorded text, checks doorbells.
struct ReplayHost: NetworkContextHost {
    let cursor: ReplayCursor

    func ringDoorbell(cpu: Int, channel: Int) {
        guard let event = cursor.take(.doorbell, doing: "rang a doorbell for cpu \(cpu)") else { return }
        if event.prefix != UInt64(UInt32(truncatingIfNeeded: cpu)) | UInt64(UInt32(truncatingIfNeeded: channel)) << 32 {
            cursor.diverge(at: event, expected: ReplayCursor.describe(event), actual: "rang cpu \(cpu), channel \(channel)")
        }
    }

    func stopProgram(cpu: Int, channel: Int) { _ = cursor.take(.channelActivity, doing: "stopped a program") }
    func channelReleased(channel: Int, counters: ChannelCounters) { _ = cursor.take(.channelActivity, doing: "released a channel") }

    func writeMeter(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let event = cursor.take(.meterText, doing: "asked for the meter's text") else { return 0 }
        let count = min(event.bytes.count, buffer.count)
        event.bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
        return event.bytes.count
    }

    func renderMetrics(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let event = cursor.take(.metricsText, doing: "asked for the metrics text"), event.prefix != 0 else { return nil }
        guard event.bytes.count <= buffer.count else { return nil }
        event.bytes.withUnsafeBytes { if $0.count > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return event.bytes.count
    }
}

/// Replays recordings.
public enum Replayer {
    /// Why a recording cannot be replayed at all.
    public enum SetupError: Error, Equatable, CustomStringConvertible {
        case noConfiguration
        case configuration(RecordedConfiguration.DecodeError)

        public var description: String {
            switch self {
            case .noConfiguration: "the recording does not start with its configuration"
            case .configuration(let error): "the configuration cannot be read: \(error)"
            }
        }
    }

    /// Builds the recorded context (after `adjust` changes its configuration, as an experiment
    /// or a test may) and runs it pass by pass on the recorded inputs until the end of the
    /// recording or the first divergence. `progress` is called every 1,000 passes.
    public static func replay(_ log: RecordLog, adjust: (inout NetworkContextConfiguration) -> Void = { _ in },
                              progress: (Int, Int) -> Void = { _, _ in }) throws(SetupError) -> ReplayResult {
        guard let first = log.events.first, first.kind == .configuration else { throw .noConfiguration }
        var decoded: Result<NetworkContextConfiguration, RecordedConfiguration.DecodeError> = .failure(.truncated)
        first.bytes.withUnsafeBytes { bytes in
            do throws(RecordedConfiguration.DecodeError) { decoded = .success(try RecordedConfiguration.decode(bytes)) } catch { decoded = .failure(error) }
        }
        var configuration: NetworkContextConfiguration
        switch decoded {
        case .success(let value): configuration = value
        case .failure(let error): throw .configuration(error)
        }
        adjust(&configuration)
        let cursor = ReplayCursor(events: log.events)
        let context = NetworkContext(index: 0, configuration: configuration, receiver: ReplayReceiver(cursor: cursor),
                                     sender: ReplaySender(cursor: cursor), host: ReplayHost(cursor: cursor))
        var result = ReplayResult()
        while !cursor.stopped && cursor.position < log.events.count {
            guard let pass = cursor.take(.pass, doing: "began a new pass") else { break }
            cursor.pass += 1
            context.pass(now: pass.prefix)
            result.passes += 1
            if result.passes % 1000 == 0 { progress(cursor.position, log.events.count) }
        }
        result.eventsReplayed = cursor.position
        result.framesReceived = cursor.framesReceived
        result.framesMatched = cursor.framesMatched
        result.divergence = cursor.divergence
        result.endedMidPass = cursor.endedMidPass
        result.unsupported = cursor.unsupported
        return result
    }
}
