/// The network core's end of one channel: takes and validates requests, delivers received datagrams.

/// The network core's end of one channel. It trusts nothing in the shared memory: each
/// request is copied out of the ring once (`RingConsumer`), every field it uses is checked
/// (`RequestValidator`, `BufferOwnership`, the private socket table), and a bad request gets
/// an `error` completion and a counter — never a crash, and never an access outside this
/// channel's own buffers. A violation of the ring protocol itself (a hostile index) stops the
/// channel: `violation` says why, and the kernel decides what to do with the program.
///
/// Its private state (buffer ownership, posted receive buffers, sockets) is in memory the
/// program cannot reach. Keep exactly one per channel; it is not thread-safe (the network
/// core is its only user).
public struct ServerChannel {
    /// The shared memory.
    public let memory: ChannelMemory
    /// The number the handler knows this channel by.
    public let identifier: Int
    /// Who holds each buffer.
    public let ownership: BufferOwnership
    /// Counters since the channel was made.
    public internal(set) var counters = ChannelCounters()

    private var requests: RingConsumer<ChannelRequest>
    /// The completion ring's producer end (the stream extension pushes into it too).
    var completions: RingProducer<ChannelCompletion>
    /// The `streamSend` buffers held per connection, and deferred shutdowns and closes.
    var streamQueues: StreamSendQueues
    /// Posted receive buffers in posting order: a private ring of `bufferCount` indices. It
    /// cannot overflow: `ownership` lets each buffer be posted only once at a time.
    private let postedBuffers: UnsafeMutablePointer<UInt32>
    /// The slot of `postedBuffers` holding the oldest posted buffer, 0 to bufferCount − 1.
    private var postedStart = 0
    /// How many buffers are posted.
    private var postedCount = 0
    /// The port of each socket, 0 when the socket is free.
    private var socketPorts = InlineArray<16, UInt16>(repeating: 0)

    /// The network core's end of the channel in `memory` (already `initialize`d with
    /// `startingIndex`), keeping its state in `privateMemory`
    /// (`memory.layout.serverPrivateByteCount` bytes, 8-byte aligned, not mapped into the program).
    /// `tap`, when given, sees every read of the shared memory (recording, replay).
    public init(memory: ChannelMemory, privateMemory: UnsafeMutableRawPointer, identifier: Int,
                startingIndex: UInt32 = 0, tap: ChannelTap? = nil) {
        precondition(ChannelLayout.socketCapacity == 16, "socketPorts has room for 16 sockets")
        self.memory = memory
        self.identifier = identifier
        let layout = memory.layout
        ownership = BufferOwnership(memory: privateMemory, bufferCount: layout.bufferCount)
        postedBuffers = (privateMemory + BufferOwnership.byteCount(bufferCount: layout.bufferCount))
            .bindMemory(to: UInt32.self, capacity: Int(layout.bufferCount))
        streamQueues = StreamSendQueues(memory: privateMemory + layout.streamQueuesPrivateOffset,
                                        bufferCount: layout.bufferCount, connectionCapacity: ChannelLayout.connectionCapacity)
        var channelTap = tap
        channelTap?.channel = identifier
        requests = memory.requestRing.makeConsumer(startingIndex: startingIndex, tap: channelTap)
        completions = memory.completionRing.makeProducer(startingIndex: startingIndex, tap: channelTap)
    }

    /// The payload of a send, as the request is taken: the tap sees it (a replay fills it in).
    /// Later reads of a lent buffer (retransmissions) read the same bytes.
    @inline(__always)
    func observePayload(_ payload: UnsafeMutableRawBufferPointer, buffer index: UInt32) {
        // The request ring's consumer carries the channel's tap (one copy of it).
        if let tap = requests.tap { _ = tap.observe(.payload, value: UInt64(index), bytes: payload) }
    }

    /// Why the channel stopped, if the program broke the ring protocol.
    public var violation: RingViolation? { requests.violation ?? completions.violation }

    /// Tells the program that the network core sleeps (sleep number `sleep`, never 0) or is
    /// awake (0): the request ring's consumer-asleep word (`ConsumerSleep.swift`).
    public func announceSleep(_ sleep: UInt32) { requests.announceSleep(sleep) }

    /// Whether the program has pushed a request not yet taken: a peek at the tail, for the
    /// check after `announceSleep` (`ConsumerSleep.swift`).
    public var hasUntakenRequest: Bool { requests.producerPublishedUnseen() }

    /// Buffers of `streamSend` requests the core holds (queued, or taken and not yet handed
    /// back): lending stops above a quarter of the channel's buffers.
    var streamBuffersHeld = 0


    /// The program is gone and its channel released: nothing here reads or writes the
    /// channel's memory any more, so the kernel may free it (`retire`).
    public private(set) var isRetired = false

    /// Stops every use of the channel's memory (after its program ended and its sockets and
    /// connections were released).
    public mutating func retire() { isRetired = true }

    /// Buffers posted for receive and not yet filled.
    public var postedReceiveBufferCount: Int { postedCount }

    /// The posted receive buffer at `position` in filling order (0 is filled next), for checks
    /// of the order: a buffer a `streamSend` with `postAfterSend` posts joins the line when its
    /// connection is done with it, which only the network core sees.
    public func postedBuffer(at position: Int) -> UInt32 {
        precondition(position >= 0 && position < postedCount, "no posted buffer at that position")
        return postedBuffers[(postedStart + position) % Int(memory.layout.bufferCount)]
    }

    /// How many completions the ring takes now (0 when the channel is broken): reads the
    /// program's head, so once per pass and channel, not per completion.
    public mutating func completionRoom() -> Int { completions.freeSlotCount() }

    /// The port bound to `socket`, nil when it is not bound.
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    public func port(ofSocket socket: UInt16) -> UInt16? {
        guard Int(socket) < ChannelLayout.socketCapacity, socketPorts[Int(socket)] != 0 else { return nil }
        return socketPorts[Int(socket)]
    }

    // MARK: Requests

    /// Serves at most `budget` requests, in ring order; returns how many it took. It stops
    /// early when the ring is empty, or when the completion ring has no room for a reply (it
    /// never takes a request it might be unable to answer: the request waits in the ring).
    public mutating func serveRequests<Handler: ChannelRequestHandler>(budget: Int, handler: inout Handler) -> Int {
        guard !isRetired else { return 0 }
        guard violation == nil else {
            // Found while delivering (a hostile completion-ring index): counted here, at the
            // channel's next poll, since delivery paths only stop using the ring.
            if counters.protocolViolations == 0 { counters.protocolViolations = 1 }
            return 0
        }
        var served = 0
        while served < budget {
            guard completions.hasFreeSlot() else {
                if requests.hasElement() { counters.completionRingFullPasses &+= 1 }
                break
            }
            guard let request = requests.tryPop() else { break }
            served += 1
            counters.requests &+= 1
            serve(request, handler: &handler)
        }
        if served == budget && budget > 0 && requests.hasElement() {
            counters.throttledPasses &+= 1
        }
        if violation != nil && counters.protocolViolations == 0 { counters.protocolViolations = 1 }
        return served
    }

    /// Unbinds every socket (for a program that exits or is stopped). Posted buffers stay
    /// posted; the memory goes away with the program.
    /// UDP sockets bound now.
    public var boundSocketCount: Int {
        var count = 0
        for socket in 0..<ChannelLayout.socketCapacity where socketPorts[socket] != 0 { count += 1 }
        return count
    }

    public mutating func unbindAll<Handler: ChannelRequestHandler>(handler: inout Handler) {
        var socket = 0
        while socket < ChannelLayout.socketCapacity {
            if socketPorts[socket] != 0 {
                handler.unbind(port: socketPorts[socket], channel: identifier, socket: UInt16(socket))
                socketPorts[socket] = 0
            }
            socket += 1
        }
    }

    /// Serves one request (a private copy): a completion is pushed for everything except a
    /// successful `postReceiveBuffer`. The caller made sure there is room for it.
    private mutating func serve<Handler: ChannelRequestHandler>(_ request: ChannelRequest, handler: inout Handler) {
        switch RequestValidator.operation(of: request) {
        case .failure(let error):
            fail(request, error)
        case .success(.bind):
            bind(request, handler: &handler)
        case .success(.send):
            send(request, handler: &handler)
        case .success(.postReceiveBuffer):
            if let error = ownership.takeFromProgram(request.bufferIndex, as: .postedForReceive) {
                fail(request, error)
                return
            }
            postReceive(request.bufferIndex)
        case .success(.listen), .success(.connect), .success(.streamSend), .success(.streamShutdown), .success(.streamClose):
            serveStream(request, handler: &handler)
        case .success(.close):
            guard let port = port(ofSocket: request.socket) else {
                fail(request, .unknownSocket)
                return
            }
            handler.unbind(port: port, channel: identifier, socket: request.socket)
            socketPorts[Int(request.socket)] = 0
            counters.closed &+= 1
            complete(ChannelCompletion(kind: .closed, socket: request.socket, port: port,
                                       requestOperation: request.operation, cookie: request.cookie))
        }
    }

    private mutating func bind<Handler: ChannelRequestHandler>(_ request: ChannelRequest, handler: inout Handler) {
        guard request.port != 0 else { return fail(request, .badPort) }
        var socket = 0
        while socket < ChannelLayout.socketCapacity && socketPorts[socket] != 0 { socket += 1 }
        guard socket < ChannelLayout.socketCapacity else { return fail(request, .tooManySockets) }
        if case .failure(let error) = handler.bind(port: request.port, channel: identifier, socket: UInt16(socket)) {
            return fail(request, error)
        }
        socketPorts[socket] = request.port
        counters.bound &+= 1
        complete(ChannelCompletion(kind: .bound, socket: UInt16(socket), port: request.port,
                                   requestOperation: request.operation, cookie: request.cookie))
    }

    private mutating func send<Handler: ChannelRequestHandler>(_ request: ChannelRequest, handler: inout Handler) {
        guard let sourcePort = port(ofSocket: request.socket) else { return fail(request, .unknownSocket) }
        guard request.bufferIndex < memory.layout.bufferCount else { return fail(request, .badBufferIndex) }
        guard RequestValidator.payloadFits(offset: request.offset, length: request.length,
                                           bufferSize: memory.layout.bufferSize)
        else { return fail(request, .badOffsetOrLength) }
        if let error = ownership.takeFromProgram(request.bufferIndex, as: .sending) {
            return fail(request, error)
        }
        // In range: index checked against the count, offset + length against the buffer size.
        let buffer = memory.buffer(request.bufferIndex)
        let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[Int(request.offset)..<Int(request.offset) + Int(request.length)])
        observePayload(bytes, buffer: request.bufferIndex)
        let payload = UnsafeRawBufferPointer(bytes)
        let result = handler.send(payload: payload, to: (address: request.address, port: request.port), from: sourcePort)
        // The stack has copied the payload into a frame (or its ARP queue): the buffer is free.
        ownership.returnToProgram(request.bufferIndex)
        if case .failure(let error) = result {
            return fail(request, error, bufferReturned: true)
        }
        counters.sent &+= 1
        counters.bytesSent &+= UInt64(request.length)
        if request.flags & ChannelRequest.postAfterSend != 0, postAgain(request.bufferIndex) { return }
        complete(ChannelCompletion(kind: .sent, socket: request.socket, bufferIndex: request.bufferIndex,
                                   offset: request.offset, length: request.length, address: request.address,
                                   port: request.port, requestOperation: request.operation, cookie: request.cookie))
    }

    /// Posts buffer `index`, the program's again a moment ago (a send with `postAfterSend` is
    /// done with it), for receive as a `postReceiveBuffer` would; no completion, as a post has
    /// none. The take cannot fail then; if it did, false: the caller gives the buffer back.
    mutating func postAgain(_ index: UInt32) -> Bool {
        guard ownership.takeFromProgram(index, as: .postedForReceive) == nil else { return false }
        postReceive(index)
        return true
    }

    /// Records buffer `index` (now held as `postedForReceive`) as the newest posted buffer.
    private mutating func postReceive(_ index: UInt32) {
        let bufferCount = Int(memory.layout.bufferCount)
        precondition(postedCount < bufferCount, "more buffers posted than exist")
        postedBuffers[(postedStart + postedCount) % bufferCount] = index
        postedCount += 1
        counters.receiveBuffersPosted &+= 1
    }

    /// Answers `request` with an `error` completion and counts it.
    mutating func fail(_ request: ChannelRequest, _ error: ChannelError, bufferReturned: Bool = false) {
        counters.countError(error)
        complete(ChannelCompletion(kind: .error, error: error, socket: request.socket, bufferIndex: request.bufferIndex,
                                   offset: request.offset, length: request.length, address: request.address,
                                   port: request.port, requestOperation: request.operation,
                                   bufferReturned: bufferReturned, cookie: request.cookie))
    }

    /// Pushes a completion; the caller checked there is room, so it cannot fail unless the
    /// program broke the protocol meanwhile (then the channel is stopped anyway).
    mutating func complete(_ completion: ChannelCompletion) {
        if completions.tryPush(completion) { counters.completions &+= 1 }
    }

    /// Takes the oldest posted receive buffer (now to be filled and returned), nil when none.
    mutating func takePostedBuffer() -> UInt32? {
        guard postedCount > 0 else { return nil }
        let index = postedBuffers[postedStart]
        postedStart = (postedStart + 1) % Int(memory.layout.bufferCount)
        postedCount -= 1
        return index
    }

    /// Puts back a buffer `takePostedBuffer` returned and that was not filled: it is the oldest
    /// posted buffer again.
    mutating func untakePostedBuffer(_ index: UInt32) {
        let bufferCount = Int(memory.layout.bufferCount)
        postedStart = (postedStart + bufferCount - 1) % bufferCount
        postedBuffers[postedStart] = index
        postedCount += 1
    }

    // MARK: Receive direction

    /// Delivers a received datagram for `socket` of this channel: copies `payload` into the
    /// oldest posted receive buffer (at offset 0) and pushes a `received` completion with the
    /// source. Drops and counts it when the channel cannot take it — nothing is lost silently.
    ///
    /// This is the one copy on the receive path. The payload sits in the NIC's receive
    /// buffer, which belongs to the network core's virtqueue and is recycled as soon as the
    /// stack has read it; lending it to a program would need per-program DMA pools (a NIC
    /// buffer is not in any one channel's memory) and would let a slow program hold the NIC's
    /// receive ring hostage. A copy of at most 1472 bytes is cheap next to that.
    public mutating func deliver(payload: UnsafeRawBufferPointer, from source: (address: UInt32, port: UInt16),
                                 to socket: UInt16) -> DeliveryOutcome {
        guard violation == nil, port(ofSocket: socket) != nil else {
            counters.droppedNotDeliverable &+= 1
            return .droppedNotDeliverable
        }
        guard payload.count <= Int(memory.layout.bufferSize) else {
            counters.droppedTooLarge &+= 1
            return .droppedTooLarge
        }
        guard postedCount > 0 else {
            counters.droppedNoReceiveBuffer &+= 1
            return .droppedNoReceiveBuffer
        }
        guard completions.hasFreeSlot() else {
            counters.droppedCompletionRingFull &+= 1
            return .droppedCompletionRingFull
        }
        let index = postedBuffers[postedStart]
        postedStart = (postedStart + 1) % Int(memory.layout.bufferCount)
        postedCount -= 1
        let buffer = memory.buffer(index)
        if let source = payload.baseAddress, payload.count > 0 {
            buffer.baseAddress!.copyMemory(from: source, byteCount: payload.count)
        }
        ownership.returnToProgram(index)
        counters.received &+= 1
        counters.bytesReceived &+= UInt64(payload.count)
        complete(ChannelCompletion(kind: .received, socket: socket, bufferIndex: index, offset: 0,
                                   length: UInt32(payload.count), address: source.address, port: source.port))
        return .delivered
    }
}
