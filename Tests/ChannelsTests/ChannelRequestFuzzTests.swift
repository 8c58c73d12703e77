// Seeded fuzzing of a channel's server end: random, mutated and hostile requests and ring indices against a model of what the network core defines.

import Channels
import Glibc
import TestSupport
import XCTest

/// A hostile program and a network core that come and go, against one `ServerChannel` in guarded
/// memory. Each input is one step: requests (valid, with one field made wrong, or 32 random
/// bytes; one at a time, or several served with a small budget), stale ring slots published
/// again, datagrams and stream bytes delivered, connections opened, acknowledged, reset, a slow
/// program that leaves its completion ring full, and — ending an episode — a ring index no
/// protocol allows. `ChannelModel` knows what the code defines for each and checks, every step:
///
/// - every request taken gets exactly the completion the rules give (the error and its fields,
///   `bufferReturned` only when the buffer had been handed over validly), in ring order, or none
///   where none is defined (a posted buffer, a connect under way), or — for stream sends,
///   shutdowns and closes — exactly one later, in each connection's order;
/// - buffer ownership: the server's record equals the model's after every step; no buffer the
///   program holds (or lent to the core) changes except by a delivery into it; each datagram sent
///   carries exactly the program's bytes; each connection's stream is exactly the bytes queued on
///   it (a prefix when it was reset); and the fake TCP checks that lent bytes stay unchanged;
/// - deliveries drop exactly when the code says (unbound socket, too large, no buffer, ring
///   full), into the oldest posted buffer otherwise;
/// - a hostile index stops the channel with the right `RingViolation` and nothing is served,
///   delivered or pushed after it; the counters match what was seen.
///
/// Inputs: 30,000 steps in `swift test`, SWIGLET_FUZZ_ITERATIONS under `make fuzz` (`FuzzRun`).
final class ChannelRequestFuzzTests: XCTestCase {
    func testHostileProgramsGetExactlyTheDefinedAnswers() {
        let fuzz = FuzzRun("channel requests", defaultIterations: 30_000, defaultSeed: 0xC4A7_7E15)
        var model: ChannelModel?
        var seen = ChannelModel.Coverage()
        let steps = fuzz.run(in: self) { _, random in
            if model == nil || model!.isOver {
                model?.finish(coverage: &seen)
                model = ChannelModel(random: &random)
            }
            model!.step(&random)
        }
        model?.finish(coverage: &seen)
        print("channel fuzz: completions by kind \(Array(seen.completionKinds[1...14])), errors by code \(Array(seen.errors[1...17])), \(seen.events.sorted { $0.key < $1.key })")
        guard steps == fuzz.iterations, steps >= 10_000 else { return }   // short, or stopped at a failure
        // The fuzz reached every rule, not only the easy ones.
        for error in [ChannelError.badBufferIndex, .badOffsetOrLength, .bufferNotOwned, .doubleHandBack, .unknownSocket,
                      .portInUse, .unknownRequest, .throttled, .badPort, .tooManySockets, .notWritable, .connectionReset] {
            XCTAssertGreaterThan(seen.errors[Int(error.rawValue)], 0, "never answered \(error.name)")
        }
        for kind in 1...14 {
            XCTAssertGreaterThan(seen.completionKinds[kind], 0, "never saw a completion of kind \(kind)")
        }
        XCTAssertGreaterThan(seen.events["send then posted", default: 0], 0, "never sent with postAfterSend")
        XCTAssertGreaterThan(seen.events["stream send then posted", default: 0], 0, "never posted after a stream send")
        for (name, count) in seen.events {
            XCTAssertGreaterThan(count, 0, "never happened: \(name)")
        }
    }
}

/// The UDP fake and an exact TCP fake as one network stack.
struct FuzzChannelHandler: ChannelRequestHandler {
    var udp = FakeNetworkStack()
    var tcp = FuzzStreamHandler()

    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError> {
        udp.bind(port: port, channel: channel, socket: socket)
    }
    mutating func unbind(port: UInt16, channel: Int, socket: UInt16) { udp.unbind(port: port, channel: channel, socket: socket) }
    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError> {
        udp.send(payload: payload, to: destination, from: sourcePort)
    }
    mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        tcp.listenError.map { .failure($0) } ?? .success(())
    }
    mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                          cookie: UInt64) -> Result<Void, ChannelError> {
        if let error = tcp.connectError { return .failure(error) }
        tcp.connectCookies.append(cookie)
        return .success(())
    }
    func ownsConnection(_ connection: UInt16, channel: Int) -> Bool { tcp.owns(connection, channel: channel) }
    mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer,
                              lending: StreamLending) -> Result<StreamWrite, ChannelError> {
        tcp.write(connection, channel: channel, bytes: bytes, lending: lending)
    }
    mutating func streamSendProgress(connection: UInt16, channel: Int) -> StreamSendProgress {
        tcp.progress(connection)
    }
    mutating func streamRecall(connection: UInt16, channel: Int) -> Bool { tcp.recall(connection) }
    mutating func streamShutdown(connection: UInt16, channel: Int) { tcp.connections[connection]?.shutDown = true }
    mutating func streamRelease(connection: UInt16, channel: Int) { tcp.connections[connection]?.released = true }
}

/// TCP connections as the channel sees them, byte by byte: each byte in a send buffer remembers
/// whether it was copied or is lent (and where it lies in the program's buffer), so any mix of
/// lent and copied buffers is handed back exactly, and an acknowledged lent byte must still be
/// what the program queued — the core gave its buffer back to no one meanwhile.
struct FuzzStreamHandler {
    struct Connection {
        var channel: Int
        var capacity: Int
        /// Unacknowledged bytes, oldest first; `lent` is where a lent byte lies.
        var unacknowledged: [(byte: UInt8, lent: UnsafeRawPointer?)] = []
        /// Every byte taken, in order.
        var stream: [UInt8] = []
        var shutDown = false
        var released = false
        /// Writes fail with this from now on (a reset); the connection forgets what it held lent.
        var writeError: ChannelError?
        /// Lent bytes handed back and not yet reported.
        var returned = 0
    }

    var connections: [UInt16: Connection] = [:]
    /// `listen` and `connect` fail with these when set.
    var listenError: ChannelError?
    var connectError: ChannelError?
    /// Cookies of connects under way, for the `connected` the core announces later.
    var connectCookies: [UInt64] = []
    /// Lend when the channel lets the connection choose.
    var lends = false
    /// Refuse to copy lent bytes back (memory short).
    var recallRefused = false

    func owns(_ connection: UInt16, channel: Int) -> Bool {
        guard let state = connections[connection] else { return false }
        return state.channel == channel && !state.released
    }

    mutating func open(_ connection: UInt16, channel: Int, capacity: Int) {
        connections[connection] = Connection(channel: channel, capacity: capacity)
    }

    mutating func write(_ connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer,
                        lending: StreamLending) -> Result<StreamWrite, ChannelError> {
        guard owns(connection, channel: channel), var state = connections[connection] else {
            XCTFail("streamWrite on connection \(connection), which channel \(channel) does not own")
            return .failure(.notWritable)
        }
        if let error = state.writeError { return .failure(error) }
        XCTAssertFalse(state.shutDown, "streamWrite on connection \(connection) after its shutdown")
        let count = min(bytes.count, max(state.capacity - state.unacknowledged.count, 0))
        let lend = lending == .lend || (lending == .either && lends)
        for offset in 0..<count {
            state.unacknowledged.append((bytes[offset], lend ? UnsafeRawPointer(bytes.baseAddress! + offset) : nil))
        }
        state.stream += bytes[0..<count]
        connections[connection] = state
        return .success(StreamWrite(taken: count, lent: lend))
    }

    /// The peer acknowledges up to `count` bytes (all when nil); returns how many lent ones.
    @discardableResult
    mutating func acknowledge(_ connection: UInt16, count: Int? = nil) -> Int {
        guard var state = connections[connection] else { return 0 }
        let removed = min(count ?? state.unacknowledged.count, state.unacknowledged.count)
        var lent = 0
        for (byte, pointer) in state.unacknowledged[0..<removed] {
            guard let pointer else { continue }
            lent += 1
            if pointer.load(as: UInt8.self) != byte {
                XCTFail("a lent byte of connection \(connection) changed before it was acknowledged")
                break
            }
        }
        state.unacknowledged.removeFirst(removed)
        state.returned += lent
        connections[connection] = state
        return lent
    }

    mutating func progress(_ connection: UInt16) -> StreamSendProgress {
        guard var state = connections[connection] else { return StreamSendProgress(returned: 0, ended: .notWritable) }
        let returned = state.returned
        state.returned = 0
        if state.writeError != nil { state.unacknowledged.removeAll { $0.lent != nil } }
        connections[connection] = state
        return StreamSendProgress(returned: returned, ended: state.writeError)
    }

    mutating func recall(_ connection: UInt16) -> Bool {
        guard !recallRefused else { return false }
        guard var state = connections[connection] else { return true }
        for index in state.unacknowledged.indices where state.unacknowledged[index].lent != nil {
            state.unacknowledged[index].lent = nil
            state.returned += 1
        }
        connections[connection] = state
        return true
    }

    func lentCount(of connection: UInt16) -> Int { connections[connection]?.unacknowledged.filter { $0.lent != nil }.count ?? 0 }
}

/// One episode: a fresh channel, the fakes, and the model of what the server must do.
final class ChannelModel {
    /// What the fuzz reached, over all episodes.
    struct Coverage {
        var errors = [Int](repeating: 0, count: 32)
        var completionKinds = [Int](repeating: 0, count: 16)
        var events: [String: Int] = ["tail violation": 0, "head violation": 0, "ring full pass": 0, "throttled pass": 0,
                                     "stale slots": 0, "dropped: not deliverable": 0, "dropped: too large": 0,
                                     "dropped: no buffer": 0, "dropped: ring full": 0, "stream delivery": 0, "lent": 0]
    }

    /// Who holds a buffer, as the model knows it.
    enum Holder: Equatable { case program, posted, sending }

    /// One of the channel's connections, as far as the program's requests concern it.
    struct Connection {
        var shutdownPending = false
        var closePending = false
        var shutDown = false
        /// Set when the fake connection was reset: queued buffers come back with this error.
        var ended: ChannelError?
        /// Cookies of the queued `streamSend`s, oldest first.
        var sends: [UInt64] = []
        /// Every byte queued on the connection, in order.
        var stream: [UInt8] = []
    }

    /// A `streamSend` the core holds: its answer is due.
    struct QueuedSend {
        var connection: UInt16
        var bufferIndex: UInt32
        var offset: UInt32
        var length: UInt32
        /// Sent with `postAfterSend`: once done the buffer is posted for receive, no `streamSent`.
        var postsAfterSend = false
    }

    /// A `streamShutdown` or `streamClose` whose answer is due.
    enum Deferred: Equatable { case shutdown(UInt16), close(UInt16) }

    /// A small channel, so buffers are contended and both rings fill.
    static let bufferCount = 8
    static let bufferSize = 2048
    static let ringCapacity = 16

    /// The channel in guarded memory, its server end, and the program's raw ring ends.
    let channel = ChannelFixture(layout: ChannelLayout(requestCapacity: UInt32(ringCapacity), completionCapacity: UInt32(ringCapacity),
                                                       bufferCount: UInt32(bufferCount), bufferSize: UInt32(bufferSize)))
    /// The network stack behind the server.
    var handler = FuzzChannelHandler()
    /// The port of each socket, 0 when free.
    var sockets = [UInt16](repeating: 0, count: ChannelLayout.socketCapacity)
    /// Who holds each buffer.
    var holders = [Holder](repeating: .program, count: bufferCount)
    /// Posted receive buffers, oldest first.
    var posted: [UInt32] = []
    /// What the buffer pool must hold, byte for byte.
    var contents = [UInt8](repeating: 0, count: bufferCount * bufferSize)
    /// This channel's connections (announced, not yet closed).
    var connections: [UInt16: Connection] = [:]
    /// Stream sends and deferred requests whose answers are due, by cookie.
    var queuedSends: [UInt64: QueuedSend] = [:]
    var deferred: [UInt64: Deferred] = [:]
    /// The completions the server must push, in order (stream completions aside).
    var expected: [ChannelCompletion] = []
    /// The next of `expected` to arrive.
    var expectedStart = 0
    /// The datagrams the server must have handed to the stack.
    var expectedDatagrams: [FakeNetworkStack.SentDatagram] = []
    /// Requests in the ring, not yet taken.
    var pending: [ChannelRequest] = []
    /// The cookie of the next generated request (each is unique, to match its answer).
    var nextCookie: UInt64 = 1
    /// Counts the program's rewrites of its buffers.
    var stamp: UInt64 = 0
    /// Steps left in which the program does not read its completions.
    var slowSteps = 0
    /// Steps until the episode ends.
    var stepsLeft: Int
    /// The channel was stopped by a hostile index (or the episode ran its steps).
    private(set) var isOver = false
    /// A check failed: the model no longer knows the server's state (the run stops).
    var broken = false
    /// What this episode reached.
    var coverage = Coverage()

    // What the counters must say (the server's `ChannelCounters`, counted from what was seen).
    var taken: UInt64 = 0
    var popped: UInt64 = 0
    var errorCompletions = [UInt64](repeating: 0, count: 32)
    var kinds = [UInt64](repeating: 0, count: 16)
    var receiveBuffersPosted: UInt64 = 0
    var bytesSent: UInt64 = 0
    /// Datagrams sent with `postAfterSend`: counted as sent, answered by no completion.
    var sentAndPosted: UInt64 = 0
    var bytesReceived: UInt64 = 0
    var streamBytesReceived: UInt64 = 0
    var ringFullPasses: UInt64 = 0
    var throttledPasses: UInt64 = 0
    var drops = [UInt64](repeating: 0, count: 4)

    init(random: inout SplitMix64) {
        stepsLeft = Int.random(in: 20...400, using: &random)
        handler.tcp.lends = Bool.random(using: &random)
        // Connections of another channel: naming them must fail, and nothing may be written to them.
        handler.tcp.open(8, channel: 1, capacity: 1 << 20)
        handler.tcp.open(9, channel: 1, capacity: 1 << 20)
        for index in 0..<Self.bufferCount { refill(UInt32(index)) }
    }

    /// Slots of either ring.
    var capacity: Int { Self.ringCapacity }

    /// The channel's connection numbers in order (a dictionary's order changes from run to
    /// run, and the choices must not: a seed replays only if they come out the same).
    var connectionNumbers: [UInt16] { connections.keys.sorted() }

    // MARK: Steps

    /// One input: an action of the program or the network, then the completions it raised
    /// are read (unless the program is slow) and the invariants checked.
    func step(_ random: inout SplitMix64) {
        guard !isOver else { return }
        stepsLeft -= 1
        let slow = slowSteps > 0
        handler.udp.sendError = Int.random(in: 0..<12, using: &random) == 0
            ? [.throttled, .noRoute, .datagramTooLarge].randomElement(using: &random) : nil
        handler.tcp.listenError = Int.random(in: 0..<12, using: &random) == 0 ? .portInUse : nil
        handler.tcp.connectError = Int.random(in: 0..<12, using: &random) == 0 ? .tooManyConnections : nil
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<40:
            submit([makeRequest(&random, stream: !slow)], budget: 1)
        case 40..<46:
            let batch = (0..<Int.random(in: 2...8, using: &random)).map { _ in makeRequest(&random, stream: false) }
            submit(batch, budget: Int.random(in: 1...10, using: &random))
            // The next pass takes the rest: a stream request must never wait behind them, or it
            // could be taken while the program is slow.
            if !slow { submit([], budget: 64) }
        case 46..<58:
            deliverDatagram(&random)
        case 58..<64 where !slow:
            deliverStreamBytes(&random)
        case 64..<69:
            openConnection(&random)
        case 69..<80 where !slow:
            networkEvent(&random)
        case 80..<82 where !slow:
            resetConnection(&random)
        case 82..<84 where !slow:
            replayStaleSlots(&random)
        case 84..<87 where !slow:
            slowSteps = Int.random(in: 1...30, using: &random)
        case 87 where !slow && Int.random(in: 0..<4, using: &random) == 0:
            return hostileRequestTail(&random)
        case 88 where Int.random(in: 0..<4, using: &random) == 0:
            return hostileCompletionHead(&random)
        default:
            // The core's pass (not while the program is slow: a pump could give buffers back
            // unseen, and the model learns of stream completions only as they are read).
            if !slow { pumpStreams() }
        }
        if slowSteps > 0 {
            slowSteps -= 1
            if slowSteps == 0 {
                // The program reads again: everything waiting is taken.
                drain()
                submit([], budget: 64)
            }
        }
        if slowSteps == 0 { drain() }
        checkInvariants()
        if stepsLeft <= 0 && slowSteps == 0 { isOver = true }
    }

    /// A request: valid for the model's state, then maybe with one field made wrong; or 32
    /// random bytes. Without `stream`, no stream request (see `submit`).
    func makeRequest(_ random: inout SplitMix64, stream: Bool) -> ChannelRequest {
        func buffer() -> UInt32 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0: return [UInt32(Self.bufferCount), UInt32(Self.bufferCount) + 1, 0xFFFF, .max].randomElement(using: &random)!
            case 1...3: return UInt32.random(in: 0..<UInt32(Self.bufferCount), using: &random)
            default:
                let owned = (0..<Self.bufferCount).filter { holders[$0] == .program }
                return UInt32(owned.randomElement(using: &random) ?? 0)
            }
        }
        func socket() -> UInt16 {
            let bound = sockets.indices.filter { sockets[$0] != 0 }
            if Int.random(in: 0..<4, using: &random) == 0 || bound.isEmpty { return UInt16.random(in: 0...20, using: &random) }
            return UInt16(bound.randomElement(using: &random)!)
        }
        func connection() -> UInt16 {
            if Int.random(in: 0..<4, using: &random) == 0 || connections.isEmpty {
                return [0, 1, 2, 8, 9, 16_383, 16_384, .max].randomElement(using: &random)!
            }
            return connectionNumbers.randomElement(using: &random)!
        }
        func range() -> (offset: UInt32, length: UInt32) {
            if Int.random(in: 0..<8, using: &random) == 0 {
                let values: [UInt32] = [0, 1, 1471, 1472, 2047, 2048, 2049, 0x7FFF_FFFF, 0xFFFF_FFFF]
                return (values.randomElement(using: &random)!, values.randomElement(using: &random)!)
            }
            let offset = UInt32.random(in: 0..<UInt32(Self.bufferSize), using: &random)
            return (offset, UInt32.random(in: 0...(UInt32(Self.bufferSize) - offset), using: &random))
        }
        let port: UInt16 = [0, 7, UInt16.random(in: 1...UInt16.max, using: &random)].randomElement(using: &random)!
        let localPort = Int.random(in: 0..<8, using: &random) == 0 ? port : UInt16.random(in: 1000...1040, using: &random)
        var request: ChannelRequest
        switch Int.random(in: 0..<(stream ? 14 : 9), using: &random) {
        case 0, 1: request = .bind(port: localPort)
        case 2, 3:
            let (offset, length) = range()
            request = .send(socket: socket(), bufferIndex: buffer(), offset: offset, length: length,
                            address: UInt32.random(in: 0...UInt32.max, using: &random), port: port,
                            postAfterSend: Bool.random(using: &random))
        case 4, 5: request = .postReceiveBuffer(buffer())
        case 6: request = .close(socket: socket())
        case 7:
            // 32 random bytes (an operation among the non-stream ones, unless streams are allowed).
            var bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
            if Bool.random(using: &random) { bytes[1] = 0; bytes[22] = 0; bytes[23] = 0 }
            if Bool.random(using: &random) { bytes[0] = stream ? UInt8.random(in: 0...10, using: &random) : [0, 1, 2, 3, 4, 10].randomElement(using: &random)! }
            if !stream && (5...9).contains(bytes[0]) { bytes[0] = 0 }
            return bytes.withUnsafeBytes { $0.loadUnaligned(as: ChannelRequest.self) }
        case 8: request = Bool.random(using: &random) ? .listen(port: port) : .connect(address: 0x0A00_0202, port: port)
        case 9, 10:
            let (offset, length) = range()
            request = .streamSend(connection: connection(), bufferIndex: buffer(), offset: offset, length: length,
                                  postAfterSend: Bool.random(using: &random))
        case 11: request = .streamShutdown(connection: connection())
        default: request = .streamClose(connection: connection())
        }
        if Int.random(in: 0..<6, using: &random) == 0 {
            // One field made wrong (the stream fields only when streams are allowed).
            switch Int.random(in: 0..<6, using: &random) {
            case 0: request.flags = UInt8.random(in: 1...255, using: &random)
            case 1: request.reserved1 = UInt16.random(in: 1...UInt16.max, using: &random)
            case 2: request.operation = [0, 10, 11, 0x80, 0xFF].randomElement(using: &random)!
            case 3: request.bufferIndex = [UInt32(Self.bufferCount), .max].randomElement(using: &random)!
            case 4: request.socket = [16, 17, 0xFFFF].randomElement(using: &random)!
            default: request.port = 0
            }
        }
        request.cookie = nextCookie
        nextCookie += 1
        return request
    }

    /// Pushes `requests` (as many as the ring takes), predicts what a serve with `budget` takes
    /// and answers, serves, and checks the count and the datagrams sent. Several requests are
    /// never stream requests: their pumps could hand buffers back between two of them.
    func submit(_ requests: [ChannelRequest], budget: Int) {
        for request in requests {
            guard channel.requests.tryPush(request) else { break }
            pending.append(request)
        }
        var waiting = channel.completions.availableCount()
        var predicted = 0
        while predicted < budget {
            guard waiting < capacity else {
                if !pending.isEmpty { ringFullPasses += 1; coverage.events["ring full pass", default: 0] += 1 }
                break
            }
            guard !pending.isEmpty else { break }
            let answers = take(pending.removeFirst())
            predicted += 1
            waiting += answers.count
            expected += answers
        }
        if predicted == budget && budget > 0 && !pending.isEmpty {
            throttledPasses += 1
            coverage.events["throttled pass", default: 0] += 1
        }
        let served = channel.server.serveRequests(budget: budget, handler: &handler)
        notePostedStreamSends()
        XCTAssertEqual(served, predicted, "requests taken by a serve with budget \(budget)")
        taken += UInt64(served)
        XCTAssertEqual(handler.udp.sent, expectedDatagrams, "datagrams sent")
        handler.udp.sent.removeAll()
        expectedDatagrams.removeAll()
    }

    /// What the server does with `request`, taken now: the model changes as the rules say, and
    /// the completions pushed at once are returned (stream completions are recorded as due).
    func take(_ request: ChannelRequest) -> [ChannelCompletion] {
        func error(_ error: ChannelError, returned: Bool = false) -> [ChannelCompletion] {
            [ChannelCompletion(kind: .error, error: error, socket: request.socket, bufferIndex: request.bufferIndex,
                               offset: request.offset, length: request.length, address: request.address, port: request.port,
                               requestOperation: request.operation, bufferReturned: returned, cookie: request.cookie)]
        }
        func fits() -> Bool { UInt64(request.offset) + UInt64(request.length) <= UInt64(Self.bufferSize) }
        guard request.reserved1 == 0, let operation = ChannelRequest.Operation(rawValue: request.operation),
              request.flags & ~(operation == .send || operation == .streamSend ? ChannelRequest.postAfterSend : 0) == 0
        else { return error(.unknownRequest) }
        let buffer = Int(request.bufferIndex)
        let socket = Int(request.socket)
        switch operation {
        case .bind:
            guard request.port != 0 else { return error(.badPort) }
            guard let free = sockets.firstIndex(of: 0) else { return error(.tooManySockets) }
            // Port 7 is the core's own echo service; the rest are this channel's.
            guard request.port != 7, !sockets.contains(request.port) else { return error(.portInUse) }
            sockets[free] = request.port
            return [ChannelCompletion(kind: .bound, socket: UInt16(free), port: request.port,
                                      requestOperation: request.operation, cookie: request.cookie)]
        case .send:
            guard socket < sockets.count, sockets[socket] != 0 else { return error(.unknownSocket) }
            guard buffer < Self.bufferCount else { return error(.badBufferIndex) }
            guard fits() else { return error(.badOffsetOrLength) }
            guard holders[buffer] != .sending else { return error(.doubleHandBack) }
            guard holders[buffer] == .program else { return error(.bufferNotOwned) }
            if let failure = handler.udp.sendError { return error(failure, returned: true) }
            let start = buffer * Self.bufferSize + Int(request.offset)
            expectedDatagrams.append(.init(payload: Array(contents[start..<start + Int(request.length)]), address: request.address,
                                           port: request.port, sourcePort: sockets[socket]))
            bytesSent += UInt64(request.length)
            if request.flags == ChannelRequest.postAfterSend {
                // Posted for receive at once, no completion.
                holders[buffer] = .posted
                posted.append(request.bufferIndex)
                receiveBuffersPosted += 1
                sentAndPosted += 1
                coverage.events["send then posted", default: 0] += 1
                return []
            }
            return [ChannelCompletion(kind: .sent, socket: request.socket, bufferIndex: request.bufferIndex, offset: request.offset,
                                      length: request.length, address: request.address, port: request.port,
                                      requestOperation: request.operation, cookie: request.cookie)]
        case .postReceiveBuffer:
            guard buffer < Self.bufferCount else { return error(.badBufferIndex) }
            guard holders[buffer] != .posted else { return error(.doubleHandBack) }
            guard holders[buffer] == .program else { return error(.bufferNotOwned) }
            holders[buffer] = .posted
            posted.append(request.bufferIndex)
            receiveBuffersPosted += 1
            return []
        case .close:
            guard socket < sockets.count, sockets[socket] != 0 else { return error(.unknownSocket) }
            let port = sockets[socket]
            sockets[socket] = 0
            return [ChannelCompletion(kind: .closed, socket: request.socket, port: port, requestOperation: request.operation,
                                      cookie: request.cookie)]
        case .listen:
            guard request.port != 0 else { return error(.badPort) }
            if let failure = handler.tcp.listenError { return error(failure) }
            return [ChannelCompletion(kind: .listening, port: request.port, requestOperation: request.operation, cookie: request.cookie)]
        case .connect:
            guard request.port != 0 else { return error(.badPort) }
            if let failure = handler.tcp.connectError { return error(failure) }
            return []
        case .streamSend:
            guard var connection = connections[request.socket] else { return error(.unknownSocket) }
            guard !connection.shutdownPending, !connection.closePending, !connection.shutDown else { return error(.notWritable) }
            guard buffer < Self.bufferCount else { return error(.badBufferIndex) }
            guard request.length > 0, fits() else { return error(.badOffsetOrLength) }
            guard holders[buffer] != .sending else { return error(.doubleHandBack) }
            guard holders[buffer] == .program else { return error(.bufferNotOwned) }
            holders[buffer] = .sending
            let start = buffer * Self.bufferSize + Int(request.offset)
            connection.stream += contents[start..<start + Int(request.length)]
            connection.sends.append(request.cookie)
            connections[request.socket] = connection
            queuedSends[request.cookie] = QueuedSend(connection: request.socket, bufferIndex: request.bufferIndex,
                                                     offset: request.offset, length: request.length,
                                                     postsAfterSend: request.flags == ChannelRequest.postAfterSend)
            return []
        case .streamShutdown, .streamClose:
            guard var connection = connections[request.socket], !connection.closePending else { return error(.unknownSocket) }
            if operation == .streamShutdown {
                guard !connection.shutdownPending else { return error(.notWritable) }
                connection.shutdownPending = true
                deferred[request.cookie] = .shutdown(request.socket)
            } else {
                connection.closePending = true
                deferred[request.cookie] = .close(request.socket)
            }
            connections[request.socket] = connection
            return []
        }
    }

    // MARK: The network side

    /// A datagram for a bound socket or not, of any size up to a bit more than a buffer.
    func deliverDatagram(_ random: inout SplitMix64) {
        let bound = sockets.indices.filter { sockets[$0] != 0 }
        let socket = Int.random(in: 0..<4, using: &random) == 0 || bound.isEmpty
            ? Int.random(in: 0...20, using: &random) : bound.randomElement(using: &random)!
        let length = Int.random(in: 0..<8, using: &random) == 0 ? Int.random(in: 2040...2100, using: &random)
            : Int.random(in: 0...1472, using: &random)
        let first = UInt8.random(in: 0...255, using: &random)
        let payload = (0..<length).map { first &+ UInt8(truncatingIfNeeded: $0 &* 3) }
        let source = (address: UInt32.random(in: 0...UInt32.max, using: &random), port: UInt16.random(in: 0...UInt16.max, using: &random))
        let waiting = channel.completions.availableCount()
        let outcome = payload.withUnsafeBytes {
            channel.server.deliver(payload: $0, from: source, to: UInt16(socket))
        }
        let predicted: DeliveryOutcome
        if socket >= sockets.count || sockets[socket] == 0 {
            predicted = .droppedNotDeliverable
        } else if length > Self.bufferSize {
            predicted = .droppedTooLarge
        } else if posted.isEmpty {
            predicted = .droppedNoReceiveBuffer
        } else if waiting == capacity {
            predicted = .droppedCompletionRingFull
        } else {
            predicted = .delivered
            let index = posted.removeFirst()
            holders[Int(index)] = .program
            contents.replaceSubrange(Int(index) * Self.bufferSize..<Int(index) * Self.bufferSize + length, with: payload)
            bytesReceived += UInt64(length)
            expected.append(ChannelCompletion(kind: .received, socket: UInt16(socket), bufferIndex: index, length: UInt32(length),
                                              address: source.address, port: source.port))
        }
        XCTAssertEqual(outcome, predicted, "delivery of \(length) bytes to socket \(socket)")
        let drop: (index: Int, name: String)? = switch predicted {
        case .droppedNotDeliverable: (0, "dropped: not deliverable")
        case .droppedTooLarge: (1, "dropped: too large")
        case .droppedNoReceiveBuffer: (2, "dropped: no buffer")
        case .droppedCompletionRingFull: (3, "dropped: ring full")
        case .delivered: nil
        }
        if let drop {
            drops[drop.index] += 1
            coverage.events[drop.name, default: 0] += 1
        }
    }

    /// Stream bytes for one of the channel's connections, into the oldest posted buffer.
    func deliverStreamBytes(_ random: inout SplitMix64) {
        guard let connection = connectionNumbers.randomElement(using: &random) else { return }
        let count = Int.random(in: 0..<8, using: &random) == 0 ? 0 : Int.random(in: 1...Self.bufferSize, using: &random)
        let first = UInt8.random(in: 0...255, using: &random)
        let waiting = channel.completions.availableCount()
        var filled: UInt32?
        let delivered = channel.server.deliverStream(connection: connection) { buffer in
            for offset in 0..<count { buffer[offset] = first &+ UInt8(truncatingIfNeeded: offset) }
            filled = UInt32((buffer.baseAddress! - (channel.shared.base + channel.layout.bufferPoolOffset)) / Self.bufferSize)
            return count
        }
        guard waiting < capacity, let index = posted.first else {
            XCTAssertEqual(delivered, 0, "stream delivery without a buffer or room")
            return XCTAssertNil(filled, "stream bytes read without a buffer or room")
        }
        XCTAssertEqual(filled, index, "stream bytes went into another buffer than the oldest posted one")
        let start = Int(index) * Self.bufferSize
        for offset in 0..<count { contents[start + offset] = first &+ UInt8(truncatingIfNeeded: offset) }
        XCTAssertEqual(delivered, count)
        guard count > 0 else { return }   // nothing delivered: the buffer stays posted, first in line
        posted.removeFirst()
        holders[Int(index)] = .program
        streamBytesReceived += UInt64(count)
        coverage.events["stream delivery", default: 0] += 1
        expected.append(ChannelCompletion(kind: .streamReceived, socket: connection, bufferIndex: index, length: UInt32(count)))
    }

    /// A new connection (accepted) on a free number; the network core announces it.
    func openConnection(_ random: inout SplitMix64) {
        let number: UInt16 = Int.random(in: 0..<16, using: &random) == 0 ? 16_383 : UInt16.random(in: 0...7, using: &random)
        guard connections[number] == nil, channel.completions.availableCount() < capacity else { return }
        handler.tcp.open(number, channel: 0, capacity: [0, 100, 3000, 1 << 20].randomElement(using: &random)!)
        // Accepted on a listening port, or the outcome of a connect under way.
        let completion = handler.tcp.connectCookies.isEmpty || Bool.random(using: &random)
            ? ChannelCompletion(kind: .accepted, socket: number, length: 80, address: 0x0A00_0202, port: 40_000)
            : ChannelCompletion(kind: .connected, socket: number, length: 49_152, address: 0x0A00_0202, port: 80,
                                cookie: handler.tcp.connectCookies.removeFirst())
        XCTAssertTrue(channel.server.notify(completion))
        expected.append(completion)
        connections[number] = Connection()
    }

    /// The peer acknowledges, the send buffer grows or shrinks, lending or recall changes; the
    /// connection's writable event wakes its queue, and the core pumps.
    func networkEvent(_ random: inout SplitMix64) {
        if let number = connectionNumbers.randomElement(using: &random), handler.tcp.connections[number] != nil {
            switch Int.random(in: 0..<4, using: &random) {
            case 0, 1:
                if handler.tcp.lentCount(of: number) > 0 { coverage.events["lent", default: 0] += 1 }
                handler.tcp.acknowledge(number, count: Bool.random(using: &random) ? nil : Int.random(in: 0...3000, using: &random))
            case 2: handler.tcp.connections[number]!.capacity = [0, 10, 1000, 5000, 1 << 20].randomElement(using: &random)!
            default:
                handler.tcp.recallRefused = Int.random(in: 0..<3, using: &random) == 0
                handler.tcp.lends = Bool.random(using: &random)
                // The peer's FIN, announced by the core.
                let finished = ChannelCompletion(kind: .peerFinished, socket: number)
                if channel.completions.availableCount() < capacity {
                    XCTAssertTrue(channel.server.notify(finished))
                    expected.append(finished)
                }
            }
            channel.server.wakeStream(number)
        }
        pumpStreams()
    }

    /// The peer resets a connection: its writes fail from now on, and the core says so.
    func resetConnection(_ random: inout SplitMix64) {
        guard let number = connectionNumbers.randomElement(using: &random), connections[number]!.ended == nil,
              channel.completions.availableCount() < capacity else { return }
        let error: ChannelError = Bool.random(using: &random) ? .connectionReset : .timedOut
        handler.tcp.connections[number]!.writeError = error
        connections[number]!.ended = error
        let aborted = ChannelCompletion(kind: .streamAborted, error: error, socket: number)
        XCTAssertTrue(channel.server.notify(aborted))
        expected.append(aborted)
        channel.server.wakeStream(number)
        pumpStreams()
    }

    /// The program publishes ring slots again without writing them (legal: it owns the tail):
    /// the server takes what they hold, stale requests, one at a time.
    func replayStaleSlots(_ random: inout SplitMix64) {
        guard pending.isEmpty else { return }
        let count = Int.random(in: 1...capacity, using: &random)
        let ring = channel.memory.requestRing
        let tail = channel.requests.nextIndex
        coverage.events["stale slots", default: 0] += 1
        let slots = (0..<count).map { index in
            (ring.memory + SingleProducerSingleConsumerRing<ChannelRequest>.slotsOffset
                + Int((tail &+ UInt32(index)) & UInt32(capacity - 1)) * 32).loadUnaligned(as: ChannelRequest.self)
        }
        (ring.memory + SingleProducerSingleConsumerRing<ChannelRequest>.tailOffset).storeBytes(of: tail &+ UInt32(count), as: UInt32.self)
        channel.requests = ring.makeProducer(startingIndex: tail &+ UInt32(count))
        pending = slots
        for _ in slots {
            submit([], budget: 1)
            drain()
        }
    }

    /// The program writes its request ring's tail beyond what the ring can hold (or behind its
    /// head): the server must stop the channel at its next serve, and do nothing after.
    func hostileRequestTail(_ random: inout SplitMix64) {
        guard pending.isEmpty else { return }
        drain()
        let head = UInt32(truncatingIfNeeded: taken)
        let distance = UInt32.random(in: 0..<1000, using: &random)
        let tail = Bool.random(using: &random) ? head &+ UInt32(capacity) &+ 1 &+ distance : head &- 1 &- distance
        let ring = channel.memory.requestRing
        (ring.memory + SingleProducerSingleConsumerRing<ChannelRequest>.tailOffset).storeBytes(of: tail, as: UInt32.self)
        XCTAssertEqual(channel.server.serveRequests(budget: 8, handler: &handler), 0)
        XCTAssertEqual(channel.server.violation, .tailOutOfRange(head: head, tail: tail))
        coverage.events["tail violation", default: 0] += 1
        checkStopped()
    }

    /// The program writes its completion ring's head beyond the tail, or far behind: the
    /// server's next look at it (when it believes the ring full) must stop the channel.
    func hostileCompletionHead(_ random: inout SplitMix64) {
        guard slowSteps == 0 else { return }
        drain()
        let ring = channel.memory.completionRing
        let tailPointer = ring.memory + SingleProducerSingleConsumerRing<ChannelCompletion>.tailOffset
        let tail = tailPointer.load(as: UInt32.self)
        // More than a ring ahead of the tail, or far behind: no value the head could take while
        // the server pushes its next `capacity` completions (a head just ahead of the tail
        // becomes legal once the tail passes it, and the server only looks when it believes the
        // ring full).
        let head = Bool.random(using: &random) ? tail &+ UInt32(capacity) &+ 1 &+ UInt32.random(in: 0..<1000, using: &random)
            : tail &- 0x8000_0000
        (ring.memory + SingleProducerSingleConsumerRing<ChannelCompletion>.headOffset).storeBytes(of: head, as: UInt32.self)
        // Events the core raises on its own, until it looks at the head.
        var pushes = 0
        while channel.server.notify(ChannelCompletion(kind: .peerFinished, socket: 0)) {
            pushes += 1
            if pushes > capacity {
                broken = true
                return XCTFail("the server kept pushing past a hostile head")
            }
        }
        XCTAssertEqual(channel.server.violation, .headOutOfRange(head: head, tail: tailPointer.load(as: UInt32.self)))
        XCTAssertEqual(channel.server.serveRequests(budget: 8, handler: &handler), 0)
        coverage.events["head violation", default: 0] += 1
        checkStopped()
    }

    /// After a violation: nothing is served, delivered, pumped or pushed, ownership stays.
    func checkStopped() {
        let server = channel.server
        XCTAssertEqual(server.counters.protocolViolations, 1)
        XCTAssertEqual(server.counters.requests, taken)
        let tail = (channel.memory.completionRing.memory + SingleProducerSingleConsumerRing<ChannelCompletion>.tailOffset)
            .load(as: UInt32.self)
        let holdersBefore = (0..<UInt32(Self.bufferCount)).map { server.ownership.holder(of: $0) }
        XCTAssertEqual(channel.server.serveRequests(budget: 8, handler: &handler), 0)
        let payload: [UInt8] = [1, 2, 3]
        for socket in 0..<UInt16(ChannelLayout.socketCapacity) {
            let outcome = payload.withUnsafeBytes { channel.server.deliver(payload: $0, from: (1, 2), to: socket) }
            XCTAssertEqual(outcome, .droppedNotDeliverable)
        }
        for connection in connectionNumbers {
            XCTAssertEqual(channel.server.deliverStream(connection: connection) { _ in XCTFail("read after a violation"); return 1 }, 0)
            channel.server.wakeStream(connection)
        }
        pumpStreams()
        XCTAssertFalse(channel.server.notify(ChannelCompletion(kind: .peerFinished, socket: 0)))
        XCTAssertFalse(channel.server.canDeliverStream())
        XCTAssertEqual((channel.memory.completionRing.memory + SingleProducerSingleConsumerRing<ChannelCompletion>.tailOffset)
            .load(as: UInt32.self), tail, "completions pushed after a violation")
        XCTAssertEqual((0..<UInt32(Self.bufferCount)).map { channel.server.ownership.holder(of: $0) }, holdersBefore)
        XCTAssertEqual(channel.server.counters.requests, taken)
        // The kernel then lets go of the program's sockets.
        channel.server.unbindAll(handler: &handler)
        XCTAssertEqual(channel.server.boundSocketCount, 0)
        XCTAssertTrue(handler.udp.ports.allSatisfy { $0.key == 7 }, "ports left bound: \(handler.udp.ports.keys.sorted())")
        isOver = true
        expected.removeAll()
        expectedStart = 0
    }

    // MARK: Completions

    /// Takes every completion waiting and matches each against what is due.
    func drain() {
        guard !broken else { return }
        while let completion = channel.completions.tryPop() {
            popped += 1
            let kind = Int(completion.kind)
            if kind < kinds.count { kinds[kind] += 1; coverage.completionKinds[kind] += 1 }
            if completion.kind == ChannelCompletion.Kind.error.rawValue, Int(completion.error) < errorCompletions.count {
                errorCompletions[Int(completion.error)] += 1
                coverage.errors[Int(completion.error)] += 1
            }
            if expectedStart < expected.count && completion == expected[expectedStart] {
                expectedStart += 1
                if expectedStart == expected.count { expected.removeAll(); expectedStart = 0 }
                received(completion)
            } else if !matchStreamCompletion(completion) {
                XCTFail("unexpected completion \(completion); next due: \(expectedStart < expected.count ? "\(expected[expectedStart])" : "none")")
                // The model is out of step with the server from here on: no more reports.
                broken = true
                return
            }
        }
    }

    /// A completion due for a queued stream send, shutdown or close: the fields as queued, in each
    /// connection's order, the connection's bytes exactly what was queued on it when it closes.
    func matchStreamCompletion(_ completion: ChannelCompletion) -> Bool {
        switch completion.decodedKind {
        case .streamSent?:
            return matchStreamSend(completion)
        case .error? where completion.requestOperation == ChannelRequest.Operation.streamSend.rawValue:
            return matchStreamSend(completion)
        case .streamShutDown?:
            guard case .shutdown(let number)? = deferred.removeValue(forKey: completion.cookie) else { return false }
            XCTAssertEqual(completion, ChannelCompletion(kind: .streamShutDown, socket: number,
                                                         requestOperation: ChannelRequest.Operation.streamShutdown.rawValue,
                                                         cookie: completion.cookie))
            connections[number]?.shutdownPending = false
            connections[number]?.shutDown = true
            return true
        case .streamClosed?:
            guard case .close(let number)? = deferred.removeValue(forKey: completion.cookie), let connection = connections[number]
            else { return false }
            XCTAssertEqual(completion, ChannelCompletion(kind: .streamClosed, socket: number,
                                                         requestOperation: ChannelRequest.Operation.streamClose.rawValue,
                                                         cookie: completion.cookie))
            XCTAssertEqual(connection.sends, [], "closed with stream sends still queued")
            XCTAssertFalse(connection.shutdownPending, "closed before its shutdown ran")
            let stream = handler.tcp.connections[number]?.stream ?? []
            if connection.ended == nil {
                XCTAssertEqual(stream, connection.stream, "connection \(number) did not get exactly the bytes queued on it")
            } else {
                XCTAssertEqual(stream, Array(connection.stream.prefix(stream.count)), "connection \(number) got other bytes")
            }
            XCTAssertFalse(handler.ownsConnection(number, channel: 0), "closed but not released")
            connections[number] = nil
            return true
        default:
            return false
        }
    }

    /// The core's pass over the stream queues; then what it posted.
    func pumpStreams() {
        channel.server.pumpStreams(handler: &handler)
        notePostedStreamSends()
    }

    /// Stream sends made with `postAfterSend` whose buffers the core has posted (it does so when
    /// the connection is done with them, which the model learns from the ownership record; called
    /// after every pump, before the completions it pushed are read): each in its connection's
    /// order — every send queued before it is done too, its buffer no longer the core's to send
    /// (a `streamSent` may be unread yet) — and the posted line is the one before plus those buffers.
    func notePostedStreamSends() {
        guard channel.server.violation == nil, !broken else { return }
        let ownership = channel.server.ownership
        let done = queuedSends.filter { $0.value.postsAfterSend && ownership.holder(of: $0.value.bufferIndex) == .postedForReceive }
        guard !done.isEmpty else { return }
        for (cookie, send) in done.sorted(by: { $0.key < $1.key }) {
            queuedSends[cookie] = nil
            let earlier = connections[send.connection]?.sends.prefix { $0 != cookie } ?? []
            XCTAssertEqual(connections[send.connection]?.sends.contains(cookie), true, "posted a send not queued")
            for other in earlier where ownership.holder(of: queuedSends[other]!.bufferIndex) == .sending {
                XCTFail("stream send \(cookie) posted before the earlier \(other) of its connection was done")
            }
            connections[send.connection]?.sends.removeAll { $0 == cookie }
            XCTAssertEqual(holders[Int(send.bufferIndex)], .sending)
            holders[Int(send.bufferIndex)] = .posted
            receiveBuffersPosted += 1
            coverage.events["stream send then posted", default: 0] += 1
        }
        let line = (0..<channel.server.postedReceiveBufferCount).map { channel.server.postedBuffer(at: $0) }
        let newly = Set(done.values.map(\.bufferIndex))
        XCTAssertEqual(line.filter { !newly.contains($0) }, posted, "the posted line changed beyond the buffers posted after sending")
        XCTAssertEqual(line.count, posted.count + newly.count)
        posted = line
    }

    /// A `streamSent`, or an `error` giving back a queued send's buffer: as queued, in order.
    func matchStreamSend(_ completion: ChannelCompletion) -> Bool {
        guard let send = queuedSends.removeValue(forKey: completion.cookie), var connection = connections[send.connection]
        else { return false }
        let returned = completion.decodedKind == .error
        XCTAssertFalse(send.postsAfterSend && !returned, "a stream send with postAfterSend came back with streamSent")
        XCTAssertEqual(completion, ChannelCompletion(kind: returned ? .error : .streamSent,
                                                     error: returned ? connection.ended : nil, socket: send.connection,
                                                     bufferIndex: send.bufferIndex, offset: send.offset, length: send.length,
                                                     requestOperation: ChannelRequest.Operation.streamSend.rawValue,
                                                     bufferReturned: returned, cookie: completion.cookie))
        XCTAssertEqual(connection.sends.first, completion.cookie, "stream sends answered out of order")
        connection.sends.removeAll { $0 == completion.cookie }
        connections[send.connection] = connection
        XCTAssertEqual(holders[Int(send.bufferIndex)], .sending)
        holders[Int(send.bufferIndex)] = .program
        refill(send.bufferIndex)
        return true
    }

    /// A due completion arrived: a buffer that comes back is the program's to write again.
    func received(_ completion: ChannelCompletion) {
        switch completion.decodedKind {
        case .sent?, .received?, .streamReceived?:
            refill(completion.bufferIndex)
        case .error? where completion.bufferReturned == 1:
            refill(completion.bufferIndex)
        default:
            break
        }
    }

    /// Bytes the program writes into its buffers: a window of this, at a new place each time.
    static let pattern: [UInt8] = (0..<(2 * bufferSize)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

    /// The program writes new bytes into a buffer it holds (so a later write by the core shows).
    func refill(_ index: UInt32) {
        guard holders[Int(index)] == .program else { return }
        stamp &+= 1
        let buffer = channel.memory.buffer(index)
        let start = Int(index) * Self.bufferSize
        let from = Int(stamp &* 37 % UInt64(Self.bufferSize))
        Self.pattern.withUnsafeBytes { pattern in
            buffer.baseAddress!.copyMemory(from: pattern.baseAddress! + from, byteCount: Self.bufferSize)
            contents.withUnsafeMutableBytes { ($0.baseAddress! + start).copyMemory(from: pattern.baseAddress! + from, byteCount: Self.bufferSize) }
        }
    }

    // MARK: Checks

    /// After every step: the server's ownership record and the pool are what the model says,
    /// and it is not stopped.
    func checkInvariants() {
        guard !isOver, !broken else { return }
        let server = channel.server
        XCTAssertNil(server.violation)
        for index in 0..<Self.bufferCount {
            let holder: BufferOwnership.Holder = switch holders[index] {
            case .program: .program
            case .posted: .postedForReceive
            case .sending: .sending
            }
            if server.ownership.holder(of: UInt32(index)) != holder {
                broken = true
                return XCTFail("buffer \(index) held by \(String(describing: server.ownership.holder(of: UInt32(index)))), model says \(holder)")
            }
        }
        XCTAssertEqual(server.postedReceiveBufferCount, posted.count)
        let pool = UnsafeRawBufferPointer(start: channel.shared.base + channel.layout.bufferPoolOffset, count: contents.count)
        if contents.withUnsafeBytes({ memcmp(pool.baseAddress!, $0.baseAddress!, contents.count) }) != 0 {
            let index = (0..<Self.bufferCount).first {
                !pool[$0 * Self.bufferSize..<($0 + 1) * Self.bufferSize].elementsEqual(contents[$0 * Self.bufferSize..<($0 + 1) * Self.bufferSize])
            }!
            broken = true
            return XCTFail("buffer \(index) (held: \(holders[index])) changed behind the program's back")
        }
        XCTAssertEqual(server.counters.requests, taken)
    }

    /// The end of an episode that was not stopped: the network lets every connection finish, so
    /// every stream request due is answered; then the counters must match what was seen.
    func finish(coverage seen: inout Coverage) {
        defer {
            for (index, count) in coverage.errors.enumerated() { seen.errors[index] += count }
            for (index, count) in coverage.completionKinds.enumerated() { seen.completionKinds[index] += count }
            for (name, count) in coverage.events { seen.events[name, default: 0] += count }
        }
        guard channel.server.violation == nil, !broken else { return }
        drain()
        submit([], budget: 64)
        drain()
        handler.tcp.recallRefused = false
        for _ in 0..<64 where !queuedSends.isEmpty || !deferred.isEmpty {
            for number in connectionNumbers where handler.tcp.connections[number] != nil {
                handler.tcp.connections[number]!.capacity = 1 << 20
                handler.tcp.acknowledge(number)
                channel.server.wakeStream(number)
            }
            pumpStreams()
            drain()
        }
        XCTAssertEqual(queuedSends.count, 0, "stream sends never answered: \(queuedSends.keys.sorted())")
        XCTAssertEqual(deferred.count, 0, "shutdowns or closes never answered: \(deferred)")
        XCTAssertEqual(expectedStart, expected.count, "completions due and never pushed: \(expected[expectedStart...])")
        checkInvariants()
        let counters = channel.server.counters
        XCTAssertEqual(counters.requests, taken)
        XCTAssertEqual(counters.completions, popped)
        XCTAssertEqual(counters.protocolViolations, 0)
        for error in 1...ChannelError.count {
            XCTAssertEqual(counters[error: ChannelError(rawValue: UInt8(error))!], errorCompletions[error], "\(ChannelError(rawValue: UInt8(error))!.name)")
        }
        XCTAssertEqual(counters.bound, kinds[Int(ChannelCompletion.Kind.bound.rawValue)])
        XCTAssertEqual(counters.sent, kinds[Int(ChannelCompletion.Kind.sent.rawValue)] + sentAndPosted)
        XCTAssertEqual(counters.closed, kinds[Int(ChannelCompletion.Kind.closed.rawValue)])
        XCTAssertEqual(counters.received, kinds[Int(ChannelCompletion.Kind.received.rawValue)])
        XCTAssertEqual(counters.connectionsOpened, kinds[Int(ChannelCompletion.Kind.accepted.rawValue)]
                       + kinds[Int(ChannelCompletion.Kind.connected.rawValue)])
        XCTAssertEqual(counters.bytesSent, bytesSent)
        XCTAssertEqual(counters.bytesReceived, bytesReceived)
        XCTAssertEqual(counters.streamBytesReceived, streamBytesReceived)
        XCTAssertEqual(counters.receiveBuffersPosted, receiveBuffersPosted)
        XCTAssertEqual(counters.completionRingFullPasses, ringFullPasses)
        XCTAssertEqual(counters.throttledPasses, throttledPasses)
        XCTAssertEqual([counters.droppedNotDeliverable, counters.droppedTooLarge, counters.droppedNoReceiveBuffer,
                        counters.droppedCompletionRingFull], drops)
        XCTAssertEqual(channel.server.boundSocketCount, sockets.filter { $0 != 0 }.count)
        channel.server.unbindAll(handler: &handler)
        XCTAssertTrue(handler.udp.ports.allSatisfy { $0.key == 7 }, "ports left bound: \(handler.udp.ports.keys.sorted())")
    }
}
