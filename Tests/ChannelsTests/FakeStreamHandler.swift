/// Test fixture: a recording fake of the network core's TCP side — connections with bounded send buffers.

import Channels
import XCTest

/// The network core's TCP connection table as a recording fake. Each connection belongs to one
/// channel and has a bounded send buffer: `capacity` bytes may sit in it unacknowledged;
/// `acknowledge` removes bytes from its front (the peer's ACK), `capacity = 0` makes it full.
/// Every byte it ever took is also kept in `stream`, in order, to check byte for byte.
///
/// With `lends` false it copies what it takes and hands it back at once; with `lends` true it
/// keeps pointers to the program's bytes (`lent`) and hands them back when acknowledged,
/// recalled, or forgotten when the connection ends (`writeError`).
struct FakeStreamHandler: ChannelRequestHandler {
    struct Connection {
        var channel: Int
        /// Unacknowledged bytes.
        var sendBuffer: [UInt8] = []
        /// How many bytes `sendBuffer` may hold.
        var capacity: Int
        /// Every byte taken, in order.
        var stream: [UInt8] = []
        /// Our FIN is queued (`streamShutdown` ran).
        var shutDown = false
        /// The program let go of it (`streamRelease` ran); it no longer counts as owned.
        var released = false
        /// Set to make every later `streamWrite` fail (a reset or timed-out connection); the
        /// connection then forgets what it holds lent and reports the error as its end.
        var writeError: ChannelError?
        /// Where each lent, unacknowledged byte lies in the program's memory, oldest first.
        var lent: [UnsafeRawPointer] = []
        /// Bytes handed back and not yet reported.
        var returned = 0
    }

    struct Listen: Equatable {
        var port: UInt16
        var channel: Int
    }

    struct Connect: Equatable {
        var address: UInt32
        var port: UInt16
        var channel: Int
        var cookie: UInt64
    }

    struct Record: Equatable {
        var connection: UInt16
        var channel: Int
    }

    var connections: [UInt16: Connection] = [:]
    var listens: [Listen] = []
    var connects: [Connect] = []
    var shutdowns: [Record] = []
    var releases: [Record] = []
    /// Makes `listen` fail with this error.
    var listenError: ChannelError?
    /// Makes `connect` fail with this error.
    var connectError: ChannelError?
    /// Calls of `streamWrite`, including those that took nothing.
    var writeCalls = 0
    /// Lend taken bytes (hand them back when acknowledged) instead of copying them.
    var lends = false
    /// Makes `streamRecall` refuse (memory short).
    var recallRefused = false
    /// Calls of `streamSendProgress`.
    var progressCalls = 0
    /// What each `streamWrite` call allowed, in order.
    var lendingAsked: [StreamLending] = []
    /// `streamWrite` calls the channel made with `.copy` (it held too many buffers, or the buffer was copied).
    var lendRefusals = 0

    /// Opens `connection` for `channel` with a send buffer of `capacity` bytes.
    mutating func open(_ connection: UInt16, channel: Int = 0, capacity: Int = 1 << 20) {
        connections[connection] = Connection(channel: channel, capacity: capacity)
    }

    /// Sets `connection`'s send-buffer capacity (0: full).
    mutating func setCapacity(_ capacity: Int, of connection: UInt16) {
        connections[connection]!.capacity = capacity
    }

    /// The peer acknowledges up to `count` bytes (all when nil): they leave the send buffer.
    @discardableResult
    mutating func acknowledge(_ connection: UInt16, count: Int? = nil) -> [UInt8] {
        let buffered = connections[connection]!.sendBuffer.count
        let removed = min(count ?? buffered, buffered)
        let bytes = Array(connections[connection]!.sendBuffer[0..<removed])
        connections[connection]!.sendBuffer.removeFirst(removed)
        if lends {
            // Read the lent bytes among them now: they must still be what the program sent.
            // (The fake lends a prefix of the stream: copies start where lending stopped.)
            let lentAcknowledged = min(removed, connections[connection]!.lent.count)
            let read = connections[connection]!.lent.prefix(lentAcknowledged).map { $0.load(as: UInt8.self) }
            XCTAssertEqual(read, Array(bytes.prefix(lentAcknowledged)), "lent memory changed before it was acknowledged")
            connections[connection]!.lent.removeFirst(lentAcknowledged)
            connections[connection]!.returned += lentAcknowledged
        }
        return bytes
    }

    /// Every byte `connection` took, in order.
    func stream(of connection: UInt16) -> [UInt8] { connections[connection]?.stream ?? [] }

    // MARK: UDP (not served)

    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError> { .failure(.portInUse) }
    mutating func unbind(port: UInt16, channel: Int, socket: UInt16) {}
    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError> { .failure(.noRoute) }

    // MARK: TCP

    mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        if let listenError { return .failure(listenError) }
        listens.append(Listen(port: port, channel: channel))
        return .success(())
    }

    mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                          cookie: UInt64) -> Result<Void, ChannelError> {
        if let connectError { return .failure(connectError) }
        connects.append(Connect(address: destination.address, port: destination.port, channel: channel, cookie: cookie))
        return .success(())
    }

    func ownsConnection(_ connection: UInt16, channel: Int) -> Bool {
        guard let state = connections[connection] else { return false }
        return state.channel == channel && !state.released
    }

    mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer, lending: StreamLending) -> Result<StreamWrite, ChannelError> {
        if lending == .copy { lendRefusals += 1 }
        lendingAsked.append(lending)
        let mayLend = lending != .copy
        writeCalls += 1
        guard var state = connections[connection], state.channel == channel, !state.released else {
            XCTFail("streamWrite on connection \(connection) not owned by channel \(channel)")
            return .failure(.notWritable)
        }
        if let error = state.writeError { return .failure(error) }
        if state.shutDown { return .failure(.notWritable) }
        let count = min(bytes.count, max(state.capacity - state.sendBuffer.count, 0))
        state.sendBuffer.append(contentsOf: bytes[0..<count])
        state.stream.append(contentsOf: bytes[0..<count])
        let lendsNow = lends && mayLend
        if lendsNow { state.lent += (0..<count).map { bytes.baseAddress! + $0 } }
        connections[connection] = state
        return .success(StreamWrite(taken: count, lent: lendsNow))
    }

    mutating func streamSendProgress(connection: UInt16, channel: Int) -> StreamSendProgress {
        progressCalls += 1
        guard var state = connections[connection] else { return StreamSendProgress(returned: 0, ended: .notWritable) }
        let returned = state.returned
        state.returned = 0
        if state.writeError != nil { state.lent = [] }   // an ended connection forgets what it held
        connections[connection] = state
        return StreamSendProgress(returned: returned, ended: state.writeError)
    }

    mutating func streamRecall(connection: UInt16, channel: Int) -> Bool {
        guard !recallRefused else { return false }
        guard var state = connections[connection] else { return true }
        state.returned += state.lent.count
        state.lent = []
        connections[connection] = state
        return true
    }

    /// How many bytes of `connection` are lent now.
    func lentCount(of connection: UInt16) -> Int { connections[connection]?.lent.count ?? 0 }

    mutating func streamShutdown(connection: UInt16, channel: Int) {
        shutdowns.append(Record(connection: connection, channel: channel))
        connections[connection]?.shutDown = true
    }

    mutating func streamRelease(connection: UInt16, channel: Int) {
        releases.append(Record(connection: connection, channel: channel))
        connections[connection]?.released = true
    }
}

extension ChannelFixture {
    /// Pushes `request`, serves the ring with a generous budget against `handler`, and returns
    /// every completion waiting.
    @discardableResult
    func submitStream(_ request: ChannelRequest, handler: inout FakeStreamHandler,
                      file: StaticString = #filePath, line: UInt = #line) -> [ChannelCompletion] {
        XCTAssertTrue(requests.tryPush(request), "request ring full", file: file, line: line)
        _ = server.serveRequests(budget: 64, handler: &handler)
        return drain()
    }

    /// Runs `pumpStreams` and returns every completion waiting.
    func pump(_ handler: inout FakeStreamHandler) -> [ChannelCompletion] {
        server.pumpStreams(handler: &handler)
        return drain()
    }

    /// Writes `bytes` into buffer `index` at `offset`.
    func fill(_ index: UInt32, at offset: Int = 0, with bytes: [UInt8]) {
        let buffer = memory.buffer(index)
        for (position, byte) in bytes.enumerated() { buffer[offset + position] = byte }
    }
}
