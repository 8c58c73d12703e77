/// The TCP API programs use: listen, connect, send, receive, shutdown and close over one channel endpoint, as events.

import Channels

/// A program's TCP connections over its channel, reported as `StreamEvent`s.
///
/// ```swift
/// var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: channel))
/// _ = streams.listen(port: 7, waitingWith: &wait)
/// while true {
///     switch streams.nextEvent(waitingWith: &wait) {
///     case .received(let connection, let data)?:
///         if case .failure = streams.send(data, on: connection) { streams.release(data) }  // zero-copy echo
///     case .finished(let connection)?:
///         _ = streams.close(connection: connection)
///     default: break
///     }
/// }
/// ```
///
/// Sending copies bytes into free channel buffers (or, zero-copy, hands over a received
/// buffer); the network core keeps each buffer until its TCP send buffer has taken every byte,
/// so a slow peer shows up as fewer free buffers (`wouldBlock`), never as lost or reordered
/// data. Receiving lends buffers of in-order bytes; releasing one posts it for receive again,
/// which is what lets the network core deliver more (and so reopens the TCP window).
///
/// One endpoint serves either `UDPSocket`s or one `StreamEndpoint`, not both: each takes the
/// completions it understands. Nothing allocates; not thread-safe (one program thread owns it).
public struct StreamEndpoint {
    /// Connection numbers run from 0 to this − 1.
    public static let maximumConnections = ChannelLayout.connectionCapacity

    /// The channel endpoint underneath (buffers, rings, statistics).
    public private(set) var endpoint: ChannelEndpoint

    /// What the library knows of each connection number.
    private enum ConnectionState: UInt8 {
        /// Not ours (free, or another program's).
        case unused = 0
        /// Open: announced by `accepted` or `connected`.
        case open = 1
        /// The program called `close`; `closed` is reported when the network core confirms.
        case closing = 2
        /// The network core aborted it; the library's own close is under way (its
        /// confirmation is swallowed: the program already got `closed` with the error).
        case releasing = 3
        /// Aborted, and the library's close did not fit in the request ring yet.
        case releasePending = 4
        /// Open, but the program shut down its sending side: receiving only.
        case shutDown = 5
    }
    /// One state per connection number (`maximumConnections` bytes, from the program's heap:
    /// too large to copy with the endpoint). Shared by copies of the endpoint.
    private let states: UnsafeMutablePointer<ConnectionState>
    /// Connections in `releasePending`, retried at every poll.
    private var pendingReleases = 0
    /// The program listens or connects, so it receives: `pollEvent` keeps receive buffers posted.
    private var receives = false
    /// The answer to the outstanding `listen` (matched by cookie).
    private var listenAnswer: (cookie: UInt64, result: Result<Void, SocketError>)?
    /// A `listen` request pushed whose answer has not been taken yet.
    private var pendingListen: (port: UInt16, cookie: UInt64)?
    /// Events taken from the ring while `listen` waited for its answer.
    private var held = InlineArray<32, StreamEvent>(repeating: .finished(connection: 0))
    private var heldStart = 0
    private var heldCount = 0

    /// Stream sends the network core refused (the connection stopped taking data); their
    /// buffers came back.
    public private(set) var sendErrors: UInt64 = 0

    /// For a server that answers what it receives (an HTTP server): while fewer than the
    /// endpoint's target of buffers plus `ChannelEndpoint.replySlack` are posted for receive,
    /// every send goes with `ChannelRequest.postAfterSend` — the network core posts its buffer
    /// for receive once done with it, and no `sent` event comes back for it. The top-ups keep
    /// the target posted as always; the answers' buffers ride above it, so a released request's
    /// buffer finds the target met and stays free for the next answer. A request and its
    /// answer then cost one completion (the received bytes) and one request (the answer).
    /// (Above the target rather than below it, as `ChannelEndpoint.receive` leaves room for UDP
    /// replies: TCP bytes without a posted buffer wait in their connection, and the program
    /// should take as many as before.)
    ///
    /// Such a program must not wait for `sent` events to retry a blocked send: its buffers come
    /// back mostly through what it receives (and through the sends the target left
    /// unflagged). An answer's buffer counts as posted from the moment it is sent, though the
    /// network core posts it only when done: one stuck behind a full send buffer holds a posted
    /// buffer back until its peer acknowledges (a refusal, or the connection ending, uncounts it).
    public var answersPostTheirBuffers = false

    /// TCP over `endpoint` (fresh, with no UDP sockets).
    public init(endpoint: ChannelEndpoint) {
        self.endpoint = endpoint
        states = .allocate(capacity: Self.maximumConnections)
        states.initialize(repeating: .unused, count: Self.maximumConnections)
    }

    // MARK: Opening

    /// Listens on TCP `port` (several programs may listen on one port: the network core spreads
    /// connections over them), waiting for the answer with `wait`. Posts receive buffers.
    public mutating func listen<Wait: WaitPolicy>(port: UInt16, waitingWith wait: inout Wait) -> Result<Void, SocketError> {
        // A listen that gave up waiting is still under way: wait for its answer again rather
        // than asking twice (the second would be refused as a duplicate).
        let cookie: UInt64
        if let pending = pendingListen, pending.port == port {
            cookie = pending.cookie
        } else {
            cookie = takeCookie()
            while !endpoint.requests.tryPush(.listen(port: port, cookie: cookie)) {
                guard !endpoint.isBroken else { return .failure(.channelBroken) }
                guard wait.wait() else { return .failure(.wouldBlock) }
            }
            pendingListen = (port, cookie)
        }
        receives = true
        endpoint.replenish()
        while true {
            while heldCount < 32, let completion = endpoint.completions.tryPop() {
                if let event = handle(completion) { hold(event) }
                if let answer = listenAnswer, answer.cookie == cookie {
                    listenAnswer = nil
                    pendingListen = nil
                    return answer.result
                }
            }
            guard !endpoint.isBroken else { return .failure(.channelBroken) }
            guard heldCount < 32 else { return .failure(.wouldBlock) }
            guard wait.wait() else { return .failure(.wouldBlock) }
        }
    }

    /// Starts a connection to `destination`; returns the cookie its `connected` or
    /// `connectFailed` event will carry. `wouldBlock` when the request ring is full.
    public mutating func connect(to destination: SocketAddress) -> Result<UInt64, SocketError> {
        guard !endpoint.isBroken else { return .failure(.channelBroken) }
        let cookie = takeCookie()
        guard endpoint.requests.tryPush(.connect(address: destination.address.rawValue, port: destination.port, cookie: cookie))
        else { return .failure(.wouldBlock) }
        receives = true
        endpoint.replenish()
        return .success(cookie)
    }

    // MARK: Events

    /// The next event, waiting with `wait` while there is none; nil when `wait` gives up or
    /// the channel broke.
    public mutating func nextEvent<Wait: WaitPolicy>(waitingWith wait: inout Wait) -> StreamEvent? {
        while true {
            if let event = pollEvent() { return event }
            guard !endpoint.isBroken, wait.wait() else { return nil }
        }
    }

    /// The next event if there is one now. Also tops up the posted receive buffers: a buffer
    /// given back while the request ring was full (an echo's `sent`, a `release`) could not be
    /// posted then, and if nothing else came back later no received bytes could ever be
    /// delivered again — the connection stalled with its data in the network core.
    public mutating func pollEvent() -> StreamEvent? {
        if receives { endpoint.replenish() }
        if pendingReleases > 0 { retryReleases() }
        if let event = takeHeld() { return event }
        while let completion = endpoint.completions.tryPop() {
            if let event = handle(completion) { return event }
        }
        return nil
    }

    // MARK: Data

    /// Copies as much of `bytes` as free channel buffers hold and queues it on `connection`, in
    /// order; returns how many bytes were taken. `wouldBlock` (nothing taken) when no buffer
    /// or request slot is free: wait for a `sent` event.
    public mutating func send(connection: UInt16, bytes: UnsafeRawBufferPointer) -> Result<Int, SocketError> {
        send(connection: connection, bytes: bytes, then: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Gathering send: `first` and then `second` as one run of bytes, packed into as few
    /// channel buffers as hold them, so that an HTTP response's head and a small body share
    /// one buffer — one request and one `sent` instead of two of each. Returns how many bytes
    /// of the two together were taken (those of `first` first); `wouldBlock` as `send`.
    public mutating func send(connection: UInt16, bytes first: UnsafeRawBufferPointer,
                              then second: UnsafeRawBufferPointer) -> Result<Int, SocketError> {
        guard Int(connection) < Self.maximumConnections, states[Int(connection)] == .open else {
            return .failure(.notConnected)
        }
        guard !endpoint.isBroken else { return .failure(.channelBroken) }
        let bufferSize = Int(endpoint.memory.layout.bufferSize)
        let total = first.count + second.count
        var taken = 0
        while taken < total && endpoint.requests.hasFreeSlot() {
            guard let index = endpoint.popFree() else { break }
            let buffer = endpoint.memory.buffer(index).baseAddress!
            var length = 0
            if taken < first.count {
                length = min(bufferSize, first.count - taken)
                buffer.copyMemory(from: first.baseAddress! + taken, byteCount: length)
            }
            let secondOffset = taken + length - first.count   // ≥ 0 once `first` is all in
            if secondOffset >= 0 && length < bufferSize && secondOffset < second.count {
                let count = min(bufferSize - length, second.count - secondOffset)
                (buffer + length).copyMemory(from: second.baseAddress! + secondOffset, byteCount: count)
                length += count
            }
            _ = pushSend(connection: connection, bufferIndex: index, length: length)
            taken += length
        }
        return taken == 0 && total > 0 ? .failure(.wouldBlock) : .success(taken)
    }

    /// Zero-copy send: lends `fill` a free channel buffer to write up to its size into; `fill`
    /// returns how many bytes it wrote (0 sends nothing). `wouldBlock` when no buffer is free.
    public mutating func send(connection: UInt16, _ fill: (UnsafeMutableRawBufferPointer) -> Int) -> Result<Int, SocketError> {
        guard Int(connection) < Self.maximumConnections, states[Int(connection)] == .open else {
            return .failure(.notConnected)
        }
        guard !endpoint.isBroken else { return .failure(.channelBroken) }
        guard endpoint.requests.hasFreeSlot(), let index = endpoint.popFree() else { return .failure(.wouldBlock) }
        let buffer = endpoint.memory.buffer(index)
        let length = min(max(fill(buffer), 0), buffer.count)
        guard length > 0 else {
            endpoint.pushFree(index)
            return .success(0)
        }
        _ = pushSend(connection: connection, bufferIndex: index, length: length)
        return .success(length)
    }

    /// Zero-copy send of received bytes: `data`'s buffer (all its bytes) goes out on
    /// `connection` and comes back to the free list once the connection is done with it
    /// (acknowledged by the peer, when sends are lent). On failure the program still
    /// holds `data`.
    public mutating func send(_ data: ReceivedBuffer, on connection: UInt16) -> Result<Int, SocketError> {
        guard Int(connection) < Self.maximumConnections, states[Int(connection)] == .open else {
            return .failure(.notConnected)
        }
        guard data.bytes.count > 0 else {
            release(data)
            return .success(0)
        }
        guard pushSend(connection: connection, bufferIndex: data.bufferIndex, length: data.bytes.count) else {
            return .failure(.wouldBlock)
        }
        return .success(data.bytes.count)
    }

    /// Pushes a `streamSend` of the first `length` bytes of buffer `bufferIndex`: with
    /// `postAfterSend` (counted posted now) when `answersPostTheirBuffers` and fewer than the
    /// target and its slack are posted. False when the request ring is full.
    private mutating func pushSend(connection: UInt16, bufferIndex: UInt32, length: Int) -> Bool {
        let post = answersPostTheirBuffers && endpoint.postedReceiveBufferCount < endpoint.receiveBufferTarget + endpoint.replySlack
        let request = ChannelRequest.streamSend(connection: connection, bufferIndex: bufferIndex, offset: 0, length: UInt32(length),
                                                postAfterSend: post, cookie: post ? ChannelEndpoint.postedAfterSendCookie : 0)
        guard endpoint.requests.tryPush(request) else { return false }
        endpoint.countPosted(request)
        return true
    }

    /// Gives a received buffer back: it is posted for receive again (or kept free for an answer,
    /// see `answersPostTheirBuffers`).
    public mutating func release(_ data: ReceivedBuffer) {
        endpoint.pushFree(data.bufferIndex)
        endpoint.replenish()
    }

    // MARK: Closing

    /// Half-close: our FIN follows everything queued on `connection`; receiving goes on.
    public mutating func shutdown(connection: UInt16) -> Result<Void, SocketError> {
        guard Int(connection) < Self.maximumConnections, states[Int(connection)] == .open else {
            return .failure(.notConnected)
        }
        guard endpoint.requests.tryPush(.streamShutdown(connection: connection)) else { return .failure(.wouldBlock) }
        states[Int(connection)] = .shutDown
        return .success(())
    }

    /// Done with `connection`: FIN after everything queued (a RST if received bytes were left
    /// unread). A `closed` event follows; until then the number stays reserved.
    public mutating func close(connection: UInt16) -> Result<Void, SocketError> {
        guard Int(connection) < Self.maximumConnections,
              states[Int(connection)] == .open || states[Int(connection)] == .shutDown else {
            return .failure(.notConnected)
        }
        guard endpoint.requests.tryPush(.streamClose(connection: connection)) else { return .failure(.wouldBlock) }
        states[Int(connection)] = .closing
        return .success(())
    }

    // MARK: Completions

    /// Turns one completion into an event (nil for completions the program need not see).
    private mutating func handle(_ completion: ChannelCompletion) -> StreamEvent? {
        let layout = endpoint.memory.layout
        let connection = completion.socket
        let connectionValid = Int(connection) < Self.maximumConnections
        let bufferValid = completion.bufferIndex < layout.bufferCount
        switch completion.decodedKind {
        case .listening:
            listenAnswer = (completion.cookie, .success(()))
        case .accepted, .connected:
            guard connectionValid else { return malformed() }
            states[Int(connection)] = .open
            if completion.decodedKind == .accepted {
                return .accepted(connection: connection,
                                 remote: SocketAddress(address: IPv4Address(rawValue: completion.address), port: completion.port),
                                 localPort: UInt16(truncatingIfNeeded: completion.length))
            }
            return .connected(connection: connection, cookie: completion.cookie)
        case .streamReceived:
            guard connectionValid, bufferValid, completion.length <= layout.bufferSize else { return malformed() }
            endpoint.postedReceiveBufferCount -= 1
            endpoint.statistics.received &+= 1
            let data = ReceivedBuffer(bufferIndex: completion.bufferIndex, bytes: UnsafeRawBufferPointer(
                rebasing: endpoint.memory.buffer(completion.bufferIndex)[0..<Int(completion.length)]))
            guard states[Int(connection)] == .open || states[Int(connection)] == .shutDown
                    || states[Int(connection)] == .closing else {
                release(data)   // bytes for a connection the program has let go of
                return nil
            }
            return .received(connection: connection, data: data)
        case .streamSent:
            guard connectionValid, bufferValid else { return malformed() }
            endpoint.statistics.sendsCompleted &+= 1
            endpoint.pushFree(completion.bufferIndex)
            endpoint.replenish()
            let state = states[Int(connection)]
            return state == .open || state == .shutDown ? .sent(connection: connection, length: Int(completion.length)) : nil
        case .peerFinished:
            guard connectionValid else { return malformed() }
            let state = states[Int(connection)]
            return state == .open || state == .shutDown ? .finished(connection: connection) : nil
        case .streamShutDown:
            return nil
        case .streamAborted:
            guard connectionValid else { return malformed() }
            let wasOpen = states[Int(connection)] == .open || states[Int(connection)] == .shutDown
            let wasClosing = states[Int(connection)] == .closing
            guard wasOpen || wasClosing else { return nil }
            if wasOpen {
                // Release the number ourselves; the program hears `closed` now.
                if endpoint.requests.tryPush(.streamClose(connection: connection)) {
                    states[Int(connection)] = .releasing
                } else {
                    states[Int(connection)] = .releasePending
                    pendingReleases += 1
                }
                return .closed(connection: connection, error: .refused(completion.decodedError ?? .connectionReset))
            }
            return nil   // the program's own close is under way; it reports `closed`
        case .streamClosed:
            guard connectionValid else { return malformed() }
            let state = states[Int(connection)]
            states[Int(connection)] = .unused
            return state == .closing ? .closed(connection: connection, error: nil) : nil
        case .error:
            let error = completion.decodedError ?? .unknownRequest
            switch ChannelRequest.Operation(rawValue: completion.requestOperation) {
            case .listen:
                listenAnswer = (completion.cookie, .failure(.refused(error)))
            case .connect:
                return .connectFailed(cookie: completion.cookie, error: .refused(error))
            case .streamSend:
                sendErrors &+= 1
                endpoint.uncountPosted(ifRefused: completion)
                // Every buffer we send is ours: either the network core gave it back
                // (`bufferReturned`) or it never took it. Only when it says it holds the
                // buffer for something else is it not ours to reuse.
                if bufferValid && error != .bufferNotOwned && error != .doubleHandBack {
                    endpoint.pushFree(completion.bufferIndex)
                    endpoint.replenish()
                }
            case .postReceiveBuffer:
                endpoint.statistics.receivePostErrors &+= 1
                endpoint.postedReceiveBufferCount -= 1
                if bufferValid { endpoint.pushFree(completion.bufferIndex) }
            default:
                break
            }
        case .received, .sent, .bound, .closed, nil:
            return malformed()
        }
        return nil
    }

    private mutating func malformed() -> StreamEvent? {
        endpoint.statistics.malformedCompletions &+= 1
        return nil
    }

    /// Pushes the library's own closes that did not fit in the request ring before.
    private mutating func retryReleases() {
        var connection = 0
        while connection < Self.maximumConnections && pendingReleases > 0 {
            if states[connection] == .releasePending,
               endpoint.requests.tryPush(.streamClose(connection: UInt16(connection))) {
                states[connection] = .releasing
                pendingReleases -= 1
            }
            connection += 1
        }
    }

    private mutating func takeCookie() -> UInt64 {
        let cookie = endpoint.nextCookie
        endpoint.nextCookie &+= 1
        return cookie
    }

    private mutating func hold(_ event: StreamEvent) {
        held[(heldStart + heldCount) % 32] = event
        heldCount += 1
    }

    private mutating func takeHeld() -> StreamEvent? {
        guard heldCount > 0 else { return nil }
        let event = held[heldStart]
        heldStart = (heldStart + 1) % 32
        heldCount -= 1
        return event
    }
}
