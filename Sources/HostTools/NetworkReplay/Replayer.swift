/// Replays a recording: the same portable context code, driven by the recorded inputs, checked against every recorded output.
import Channels
import Network
import NetworkContext
import NetworkRecording
import Paging

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
    /// Program channels put into service, requests taken from their rings, and completions
    /// the replay wrote and found equal to the recording's.
    public var channelsAdded = 0
    public var requestsTaken = 0
    public var completionsMatched = 0
}

/// The recorded events in order, consumed by the replay's ports; where they disagree it keeps
/// the first divergence and from then on answers as blandly as it can (no frames, no room).
final class ReplayCursor {
    let events: [RecordedEvent]
    var position = 1
    var pass = 0
    /// What the replay found so far (its divergence, the counts).
    var result = ReplayResult()
    /// Whether the pass being replayed was an idle one (its ring reads are not recorded).
    var passIsIdle = false
    /// The request-ring tail last recorded for each channel, which an idle pass's reads find.
    var lastTails: [Int: UInt32] = [:]
    /// Where replayed frames are built (64 KiB of IPv4 behind an Ethernet header, and room).
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)
    /// The memory of every channel the replay made (shared and private halves), freed at the
    /// end: the program is absent, so nothing but the replayed context ever touches it.
    var channelMemory: [UnsafeMutableRawPointer] = []

    init(events: [RecordedEvent]) { self.events = events }
    deinit {
        scratch.deallocate()
        for memory in channelMemory { memory.deallocate() }
    }

    var stopped: Bool { result.divergence != nil || result.endedMidPass }

    /// The next event if it is of `kind`; otherwise records the divergence (`doing`: what the
    /// replayed context did instead) and returns nil.
    func take(_ kind: RecordFormat.Kind, doing: @autoclosure () -> String) -> RecordedEvent? {
        guard !stopped else { return nil }
        guard position < events.count else { result.endedMidPass = true; return nil }
        let event = events[position]
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
        guard result.divergence == nil else { return }
        result.divergence = Divergence(event: event.index, pass: pass, expected: expected, actual: actual)
    }

    /// Takes the next event, which must be of `kind` with `prefix` as its 8-byte field (what
    /// the replayed context did: `doing`).
    func expect(_ kind: RecordFormat.Kind, prefix: UInt64, doing: @autoclosure () -> String) {
        guard let event = take(kind, doing: doing()) else { return }
        if event.prefix != prefix { diverge(at: event, expected: Self.describe(event), actual: doing()) }
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
        case .doorbell: "a doorbell for cpu \(event.low), channel \(event.high)"
        case .idlePasses: "idle passes"   // expanded by `RecordLog`: never seen here
        case .channelAdded: "channel \(event.low) put into service for cpu \(event.high)"
        case .requestTail: "a read of channel \(event.low)'s request-ring tail"
        case .request: "request \(event.high) of channel \(event.low) taken"
        case .completionHead: "a read of channel \(event.low)'s completion-ring head"
        case .payload: "a send's \(event.bytes.count) bytes taken from buffer \(event.high) of channel \(event.low)"
        case .completion: "completion \(event.high) written to channel \(event.low)"
        case .channelsEnded: "the programs of channels \(ReplayCursor.channelList(event.prefix)) ending"
        case .programStopped: "the program of channel \(event.high) on cpu \(event.low) stopped"
        case .channelReleased: "channel \(event.prefix) released"
        }
    }

    static func channelList(_ mask: UInt64) -> String {
        (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ",")
    }

    /// What the replayed context read from (or wrote into) a program channel, answered from
    /// the recording: a read gets the recorded value (an index, a request, a payload); a
    /// write is compared with the recorded one. After a divergence the read keeps what the
    /// host memory held, which only leads the context to refuse the channel.
    func replayChannel(_ observation: UnsafeMutablePointer<ChannelObservation>) {
        let channel = observation.pointee.channel
        let value = observation.pointee.value
        let bytes = observation.pointee.bytes
        switch observation.pointee.kind {
        case .requestTail, .completionHead:
            let isTail = observation.pointee.kind == .requestTail
            if isTail && passIsIdle, let last = lastTails[channel] {
                observation.pointee.value = UInt64(last)   // an idle pass: as last recorded
                return
            }
            guard let event = take(isTail ? .requestTail : .completionHead,
                                   doing: "read channel \(channel)'s \(isTail ? "request-ring tail" : "completion-ring head")"),
                  expectChannel(channel, in: event) else { return }
            observation.pointee.value = UInt64(event.high)
            if isTail { lastTails[channel] = event.high }
        case .request:
            guard let event = take(.request, doing: "took request \(value) of channel \(channel)"),
                  expectChannel(channel, in: event), expect(value, event.high, in: event, "took request \(value)"),
                  fill(bytes, from: event) else { return }
            result.requestsTaken += 1
        case .payload:
            guard let event = take(.payload, doing: "took a send's \(bytes.count) bytes from channel \(channel)"),
                  expectChannel(channel, in: event), expect(value, event.high, in: event, "took them from buffer \(value)"),
                  fill(bytes, from: event) else { return }
        case .completion:
            guard let event = take(.completion, doing: "wrote completion \(value) to channel \(channel)"),
                  expectChannel(channel, in: event), expect(value, event.high, in: event, "wrote completion \(value)") else { return }
            guard Array(UnsafeRawBufferPointer(bytes)) == event.bytes else {
                let completion = UnsafeRawBufferPointer(bytes).loadUnaligned(as: ChannelCompletion.self)
                return diverge(at: event, expected: Self.describe(event),
                               actual: "wrote a different one (kind \(completion.kind), length \(completion.length), error \(completion.error))")
            }
            result.completionsMatched += 1
        case .added:
            guard let event = take(.channelAdded, doing: "put channel \(channel) into service"),
                  expectChannel(channel, in: event), expect(value, event.high, in: event, "for cpu \(value)") else { return }
            lastTails[channel] = nil
            if Array(UnsafeRawBufferPointer(bytes)) != event.bytes {
                diverge(at: event, expected: Self.describe(event), actual: "gave it a different layout")
            }
        case .ended:
            expect(.channelsEnded, prefix: value, doing: "took the ending of the programs of channels \(Self.channelList(value))")
        }
    }

    private func expectChannel(_ channel: Int, in event: RecordedEvent) -> Bool {
        expect(UInt64(channel), event.low, in: event, "did so for channel \(channel)")
    }

    private func expect(_ value: UInt64, _ recorded: UInt32, in event: RecordedEvent, _ doing: String) -> Bool {
        guard value == UInt64(recorded) else {
            diverge(at: event, expected: Self.describe(event), actual: doing)
            return false
        }
        return true
    }

    /// Puts the recorded bytes where the context reads them (the same size, or a divergence).
    private func fill(_ bytes: UnsafeMutableRawBufferPointer, from event: RecordedEvent) -> Bool {
        guard bytes.count == event.bytes.count else {
            diverge(at: event, expected: Self.describe(event), actual: "read \(bytes.count) bytes")
            return false
        }
        if let base = bytes.baseAddress { event.bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }
}

extension RecordedEvent {
    /// The low and high halves of the 8-byte field (`RecordFormat.pair`).
    var low: UInt32 { UInt32(truncatingIfNeeded: prefix) }
    var high: UInt32 { UInt32(truncatingIfNeeded: prefix >> 32) }
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
                cursor.result.framesReceived += 1
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
        cursor.result.framesMatched += 1
        return accepted
    }
}

/// The kernel: answers meter and metrics requests with the recorded text, checks doorbells.
struct ReplayHost: NetworkContextHost {
    let cursor: ReplayCursor

    func ringDoorbell(cpu: Int, channel: Int) {
        cursor.expect(.doorbell, prefix: RecordFormat.pair(cpu, channel), doing: "rang a doorbell for cpu \(cpu), channel \(channel)")
    }

    func stopProgram(cpu: Int, channel: Int) {
        cursor.expect(.programStopped, prefix: RecordFormat.pair(cpu, channel),
                      doing: "stopped the program of channel \(channel) on cpu \(cpu)")
    }

    func channelReleased(channel: Int, counters: ChannelCounters) {
        guard let event = cursor.take(.channelReleased, doing: "released channel \(channel)") else { return }
        var final = counters
        let same = withUnsafeBytes(of: &final) { Array($0) == event.bytes }
        if event.prefix != UInt64(channel) || !same {
            cursor.diverge(at: event, expected: ReplayCursor.describe(event),
                           actual: "released channel \(channel)\(same ? "" : " with other final counters")")
        }
    }

    /// Every read of a program channel is answered from the recording (`replayChannel`).
    var channelTap: ChannelTap? {
        ChannelTap(context: Unmanaged.passUnretained(cursor).toOpaque()) { context, observation in
            Unmanaged<ReplayCursor>.fromOpaque(context!).takeUnretainedValue()
                .replayChannel(observation.assumingMemoryBound(to: ChannelObservation.self))
        }
    }

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
        while !cursor.stopped && cursor.position < log.events.count {
            if cursor.next(is: .channelAdded) {
                // Added outside a pass (`addChannel`: before serving, or between passes).
                addChannel(cursor.events[cursor.position], to: context, cursor: cursor, now: true)
                continue
            }
            guard let pass = cursor.take(.pass, doing: "began a new pass") else { break }
            cursor.pass += 1
            cursor.passIsIdle = pass.idle
            prepareChannels(for: context, cursor: cursor)
            context.pass(now: pass.prefix)
            cursor.result.passes += 1
            if cursor.result.passes % 1000 == 0 { progress(cursor.position, log.events.count) }
        }
        cursor.result.eventsReplayed = cursor.position
        return cursor.result
    }

    typealias ReplayedContext = NetworkContext<ReplayReceiver, ReplaySender, ReplayHost>

    /// Does, before a pass, what other CPUs did before the recorded one: the programs that
    /// started (their channels queued, which the pass takes at its start) and those that ended
    /// (their bits set, which the pass takes when it serves the channels). The recording says
    /// which, in the events of this pass; the context's own reading of them is checked as it
    /// comes (`ReplayCursor.replayChannel`).
    ///
    /// A pass takes queued channels first of all, so theirs are the events right after the
    /// pass's clock; a channel added between passes (`addChannel`) comes later and is made
    /// when the replay reaches it.
    static func prepareChannels(for context: ReplayedContext, cursor: ReplayCursor) {
        var position = cursor.position
        var leading = true
        while position < cursor.events.count && cursor.events[position].kind != .pass {
            let event = cursor.events[position]
            if event.kind != .channelAdded { leading = false }
            switch event.kind {
            case .channelAdded where leading: addChannel(event, to: context, cursor: cursor, now: false)
            case .channelsEnded:
                for channel in 0..<64 where event.prefix & (1 << UInt64(channel)) != 0 { context.programEnded(channel: channel) }
            default: break
            }
            position += 1
        }
    }

    /// Makes the channel `event` records, in host memory with its layout, and queues it (or,
    /// `now`, adds it at once). Its number must come out as recorded: the kernel gave a
    /// released number back (`channelFreed`) before reusing it, so the replay does so too.
    static func addChannel(_ event: RecordedEvent, to context: ReplayedContext, cursor: ReplayCursor, now: Bool) {
        let number = Int(event.low)
        guard event.bytes.count == 16, number < 64,
              let layout = event.bytes.withUnsafeBytes({ ChannelLayout(tapWords: $0.loadUnaligned(as: (UInt32, UInt32, UInt32, UInt32).self)) })
        else { return cursor.diverge(at: event, expected: "a channel with a valid layout", actual: "cannot build the one recorded") }
        let shared = UnsafeMutableRawPointer.allocate(byteCount: layout.byteCount, alignment: Page.size)
        let privateMemory = UnsafeMutableRawPointer.allocate(byteCount: layout.serverPrivateByteCount, alignment: 16)
        cursor.channelMemory += [shared, privateMemory]
        let memory = ChannelMemory(base: shared, layout: layout)
        memory.initialize()
        context.channelFreed(number)
        let given = now ? context.addChannel(memory: memory, privateMemory: privateMemory, cpu: Int(event.high))
                        : context.queueChannel(memory: memory, privateMemory: privateMemory, cpu: Int(event.high))
        cursor.result.channelsAdded += 1
        if given != number {
            cursor.diverge(at: event, expected: ReplayCursor.describe(event), actual: "gave the channel number \(given.map(String.init) ?? "none")")
        }
    }
}
