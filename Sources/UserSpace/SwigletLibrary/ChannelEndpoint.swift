/// The program's end of one channel: sockets, buffer bookkeeping and completions, without allocation.

import Channels

/// The program's end of a channel (see `ChannelLayout`): it pushes requests, takes
/// completions, and keeps track of the buffers the program holds. Several sockets can share
/// one endpoint; `UDPSocket` wraps an endpoint with one socket.
///
/// Buffer discipline: every buffer is in exactly one place — the free list (the program's,
/// unused), lent to the caller (a `ReceivedDatagram`, or inside `withSendBuffer`), posted for
/// receive, or in flight for send. Free buffers are chained through their own first four
/// bytes (the network core does not touch a buffer it does not hold), so the endpoint needs no
/// memory of its own beyond this value. Nothing here allocates.
///
/// Keep exactly one per channel (copies share the rings but not the private indices); it is
/// not thread-safe (one program thread owns it).
public struct ChannelEndpoint {
    /// The largest UDP payload one Ethernet frame carries (1500 − 20 − 8).
    public static let maximumPayloadLength = 1472

    /// The shared memory.
    public let memory: ChannelMemory
    /// Counters.
    public internal(set) var statistics = EndpointStatistics()
    /// Buffers on the free list.
    public private(set) var freeBufferCount = 0
    /// Buffers posted for receive and not returned yet.
    public internal(set) var postedReceiveBufferCount = 0
    /// How many buffers the endpoint keeps posted for receive (`replenish` tops up to it).
    public var receiveBufferTarget: Int

    /// The request ring's producer end (`StreamEndpoint` pushes stream requests into it).
    var requests: RingProducer<ChannelRequest>
    /// The completion ring's consumer end (`StreamEndpoint` takes stream completions from it).
    var completions: RingConsumer<ChannelCompletion>
    /// Head of the free list; `noBuffer` when empty.
    private var freeListHead: UInt32 = ChannelEndpoint.noBuffer
    /// Received datagrams taken from the completion ring while waiting for something else
    /// (a bind's answer), in arrival order.
    private var held = InlineArray<8, ReceivedDatagram>(repeating: ReceivedDatagram(
        socket: 0, source: SocketAddress(address: .any, port: 0), bufferIndex: 0, offset: 0, length: 0))
    private var heldStart = 0
    private var heldCount = 0
    /// The answer to the outstanding `bind` (matched by cookie), once it has come.
    private var bindAnswer: (cookie: UInt64, result: Result<UInt16, SocketError>)?
    var nextCookie: UInt64 = 1
    var broken = false

    private static let noBuffer = UInt32.max

    /// The program's end of the channel in `memory` (initialized by the kernel with
    /// `startingIndex`, every buffer the program's). Keeps `receiveBufferTarget` buffers posted
    /// for receive once `replenish` runs (by `bind`, `receive` and `release`).
    public init(memory: ChannelMemory, startingIndex: UInt32 = 0, receiveBufferTarget: Int? = nil) {
        self.memory = memory
        requests = memory.requestRing.makeProducer(startingIndex: startingIndex)
        completions = memory.completionRing.makeConsumer(startingIndex: startingIndex)
        let count = Int(memory.layout.bufferCount)
        self.receiveBufferTarget = min(receiveBufferTarget ?? count / 2, count)
        var index = UInt32(count)
        while index > 0 {
            index -= 1
            pushFree(index)
        }
    }

    /// Whether the channel stopped working (the network core broke the protocol).
    public var isBroken: Bool { broken || requests.violation != nil || completions.violation != nil }

    // MARK: Sockets

    /// Binds UDP `port` to a new socket and returns its number, waiting for the network
    /// core's answer with `wait`. Received datagrams that arrive meanwhile (for other sockets)
    /// are held for `receive`.
    public mutating func bind<Wait: WaitPolicy>(port: UInt16, waitingWith wait: inout Wait) -> Result<UInt16, SocketError> {
        let cookie = nextCookie
        nextCookie &+= 1
        while !requests.tryPush(.bind(port: port, cookie: cookie)) {
            guard !isBroken else { return .failure(.channelBroken) }
            guard wait.wait() else { return .failure(.wouldBlock) }
        }
        bindAnswer = nil
        while true {
            takeCompletions(dropWhenHeldFull: true, stopAfterReceived: false)
            if let answer = bindAnswer, answer.cookie == cookie {
                bindAnswer = nil
                if case .success = answer.result { replenish() }
                return answer.result
            }
            guard !isBroken else { return .failure(.channelBroken) }
            guard wait.wait() else { return .failure(.wouldBlock) }
        }
    }

    /// Asks the network core to unbind `socket`; false when the request ring is full (try again).
    public mutating func close(socket: UInt16) -> Bool {
        requests.tryPush(.close(socket: socket))
    }

    // MARK: Sending

    /// Sends `bytes` from `socket` to `destination`, copied into a free buffer. `wouldBlock`
    /// when no buffer or request slot is free (nothing was sent). Errors the network core
    /// finds later are counted in `statistics`.
    public mutating func send(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddress, from socket: UInt16) -> Result<Void, SocketError> {
        guard bytes.count <= Self.maximumPayloadLength else { return .failure(.datagramTooLarge) }
        return withSendBuffer(to: destination, from: socket) { buffer in
            buffer.copyMemory(from: bytes)
            return bytes.count
        }
    }

    /// Zero-copy send: lends `fill` a free buffer of `maximumPayloadLength` bytes to write the
    /// payload into; `fill` returns its length (0 sends nothing and keeps the buffer free).
    /// `wouldBlock` when no buffer or request slot is free (then `fill` is not called);
    /// `datagramTooLarge` (nothing sent) when `fill` returns more than `maximumPayloadLength`.
    public mutating func withSendBuffer(to destination: SocketAddress, from socket: UInt16,
                                        _ fill: (UnsafeMutableRawBufferPointer) -> Int) -> Result<Void, SocketError> {
        guard !isBroken else { return .failure(.channelBroken) }
        // Collect returned buffers and refusals first: cheap (one shared read when nothing
        // is new) and keeps `statistics` current.
        processCompletions()
        guard requests.hasFreeSlot(), let index = popFree() else { return .failure(.wouldBlock) }
        let buffer = memory.buffer(index)
        let length = fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Self.maximumPayloadLength]))
        guard length > 0, length <= Self.maximumPayloadLength else {
            pushFree(index)
            return length == 0 ? .success(()) : .failure(.datagramTooLarge)
        }
        // Cannot fail: `hasFreeSlot` said there is room, and only we push.
        let request = sendRequest(socket: socket, bufferIndex: index, offset: 0, length: UInt32(length), to: destination)
        _ = requests.tryPush(request)
        countPosted(request)
        return .success(())
    }

    /// The cookie of a send made with `postAfterSend`: its refusal (the only answer it can get)
    /// says the buffer came back instead of being posted.
    static let postedAfterSendCookie: UInt64 = 0x504F_5354   // "POST"

    /// A send request; while fewer than `receiveBufferTarget` buffers are posted, one that posts
    /// its buffer for receive once sent (`ChannelRequest.postAfterSend`), counted posted now:
    /// no `sent` completion to take and no `postReceiveBuffer` to make for it.
    private mutating func sendRequest(socket: UInt16, bufferIndex: UInt32, offset: UInt32, length: UInt32,
                                      to destination: SocketAddress) -> ChannelRequest {
        let post = postedReceiveBufferCount < receiveBufferTarget
        return .send(socket: socket, bufferIndex: bufferIndex, offset: offset, length: length,
                     address: destination.address.rawValue, port: destination.port, postAfterSend: post,
                     cookie: post ? Self.postedAfterSendCookie : 0)
    }

    /// Counts a pushed send request's buffer posted when it was made with `postAfterSend`
    /// (`StreamEndpoint`'s stream sends too).
    mutating func countPosted(_ request: ChannelRequest) {
        if request.flags & ChannelRequest.postAfterSend != 0 {
            postedReceiveBufferCount += 1
            statistics.sendsPostingTheirBuffer &+= 1
        }
    }

    /// Takes back `countPosted` for a refused send (its `error` completion): one made with
    /// `postAfterSend`, marked by its cookie, was counted posted and came back instead.
    mutating func uncountPosted(ifRefused refusal: ChannelCompletion) {
        if refusal.cookie == Self.postedAfterSendCookie { postedReceiveBufferCount -= 1 }
    }

    /// Zero-copy reply: sends the first `length` bytes of a received datagram's buffer (the
    /// program may have rewritten them in place) from `socket` to `destination`. The buffer
    /// goes to the network core and comes back to the free list when sent. On `wouldBlock` the
    /// program still holds the datagram.
    public mutating func send(_ datagram: ReceivedDatagram, length: UInt32, to destination: SocketAddress,
                              from socket: UInt16) -> Result<Void, SocketError> {
        guard !isBroken else { return .failure(.channelBroken) }
        guard Int(datagram.offset) + Int(length) <= Int(memory.layout.bufferSize),
              Int(length) <= Self.maximumPayloadLength else { return .failure(.datagramTooLarge) }
        let request = sendRequest(socket: socket, bufferIndex: datagram.bufferIndex, offset: datagram.offset,
                                  length: length, to: destination)
        guard requests.tryPush(request) else { return .failure(.wouldBlock) }
        countPosted(request)
        return .success(())
    }

    // MARK: Receiving

    /// The next received datagram of any socket, lent in its buffer; `wouldBlock` when none
    /// has arrived. Give it back with `release` or by sending from it.
    public mutating func receive() -> Result<ReceivedDatagram, SocketError> {
        if heldCount == 0 { takeCompletions(dropWhenHeldFull: false, stopAfterReceived: true) }
        // Not quite to the target: the buffer of a datagram the program answers is posted again
        // by its reply (`postAfterSend`), and a free buffer posted now would make that reply
        // come back with a `sent` instead. Bursts that outrun the replies still get buffers.
        replenish(to: receiveBufferTarget - replySlack)
        if let datagram = takeHeld() { return .success(datagram) }
        return .failure(isBroken ? .channelBroken : .wouldBlock)
    }

    /// The bytes of a received datagram, valid until it is released or sent.
    public func bytes(of datagram: ReceivedDatagram) -> UnsafeRawBufferPointer {
        let buffer = memory.buffer(datagram.bufferIndex)
        return UnsafeRawBufferPointer(rebasing: buffer[Int(datagram.offset)..<Int(datagram.offset) + Int(datagram.length)])
    }

    /// Gives a received datagram's buffer back: it is posted for receive again (or kept on the
    /// free list when enough are posted or the request ring is full).
    public mutating func release(_ datagram: ReceivedDatagram) {
        pushFree(datagram.bufferIndex)
        replenish()
    }

    /// Posts free buffers for receive until `receiveBufferTarget` are posted, as far as free
    /// buffers and request slots allow.
    public mutating func replenish() { replenish(to: receiveBufferTarget) }

    /// How many posted buffers below its target `receive` leaves for replies to post again.
    var replySlack: Int { max(1, receiveBufferTarget / 4) }

    /// Posts free buffers until `target` are posted.
    private mutating func replenish(to target: Int) {
        while postedReceiveBufferCount < target && freeListHead != Self.noBuffer && requests.hasFreeSlot() {
            guard let index = popFree() else { return }
            _ = requests.tryPush(.postReceiveBuffer(index))
            postedReceiveBufferCount += 1
        }
    }

    // MARK: Completions

    /// Takes the completions waiting now (returned buffers, refusals, bind answers), holding
    /// received datagrams for `receive` as far as its queue allows. `send` and `receive` do
    /// this themselves; a program that only sends now and then may call it to keep
    /// `statistics` and `freeBufferCount` current.
    public mutating func processCompletions() {
        takeCompletions(dropWhenHeldFull: false, stopAfterReceived: false)
    }

    /// Takes waiting completions: returned buffers go to the free list, bind answers to
    /// `bindAnswer`, received datagrams to the held queue. Stops after the first received
    /// datagram when `stopAfterReceived`, and before taking a completion when the held queue
    /// is full unless `dropWhenHeldFull` (only `bind` asks for that: its answer may be behind
    /// datagrams nobody is receiving; those are then counted in `droppedWhileWaiting`).
    private mutating func takeCompletions(dropWhenHeldFull: Bool, stopAfterReceived: Bool) {
        while dropWhenHeldFull || heldCount < 8 {
            guard let completion = completions.tryPop() else { return }
            if handle(completion) && stopAfterReceived { return }
        }
    }

    /// Handles one completion; true when it was a received datagram.
    private mutating func handle(_ completion: ChannelCompletion) -> Bool {
        let layout = memory.layout
        let bufferValid = completion.bufferIndex < layout.bufferCount
        switch completion.decodedKind {
        case .received:
            guard bufferValid, UInt64(completion.offset) + UInt64(completion.length) <= UInt64(layout.bufferSize) else {
                statistics.malformedCompletions &+= 1
                broken = true
                return false
            }
            postedReceiveBufferCount -= 1
            statistics.received &+= 1
            hold(ReceivedDatagram(socket: completion.socket,
                                  source: SocketAddress(address: IPv4Address(rawValue: completion.address), port: completion.port),
                                  bufferIndex: completion.bufferIndex, offset: completion.offset, length: completion.length))
            return true
        case .sent:
            guard bufferValid else { statistics.malformedCompletions &+= 1; broken = true; return false }
            statistics.sendsCompleted &+= 1
            pushFree(completion.bufferIndex)
        case .bound:
            bindAnswer = (completion.cookie, .success(completion.socket))
        case .closed:
            break
        case .error:
            let error = completion.decodedError ?? .unknownRequest
            switch ChannelRequest.Operation(rawValue: completion.requestOperation) {
            case .bind:
                bindAnswer = (completion.cookie, .failure(.refused(error)))
            case .send:
                statistics.sendErrors &+= 1
                statistics.lastSendError = error
                uncountPosted(ifRefused: completion)
                // Every buffer we send is ours; the refusal gives it back either way.
                if bufferValid { pushFree(completion.bufferIndex) }
            case .postReceiveBuffer:
                statistics.receivePostErrors &+= 1
                postedReceiveBufferCount -= 1
                if bufferValid { pushFree(completion.bufferIndex) }
            case .close, nil:
                break
            case .listen, .connect, .streamSend, .streamShutdown, .streamClose:
                statistics.malformedCompletions &+= 1   // stream requests are StreamEndpoint's
            }
        case .listening, .accepted, .connected, .streamReceived, .streamSent, .peerFinished, .streamShutDown,
             .streamAborted, .streamClosed, nil:
            // Stream completions belong to a `StreamEndpoint` (an endpoint serves one or the other).
            statistics.malformedCompletions &+= 1
        }
        return false
    }

    /// Queues a received datagram for `receive`; when the queue is full its buffer goes back
    /// to the free list (to be posted again) and the loss is counted.
    private mutating func hold(_ datagram: ReceivedDatagram) {
        guard heldCount < 8 else {
            statistics.droppedWhileWaiting &+= 1
            pushFree(datagram.bufferIndex)
            return
        }
        held[(heldStart + heldCount) % 8] = datagram
        heldCount += 1
    }

    private mutating func takeHeld() -> ReceivedDatagram? {
        guard heldCount > 0 else { return nil }
        let datagram = held[heldStart]
        heldStart = (heldStart + 1) % 8
        heldCount -= 1
        return datagram
    }

    // MARK: Free list

    /// Puts buffer `index` on the free list: its first four bytes link to the previous head.
    mutating func pushFree(_ index: UInt32) {
        memory.buffer(index).storeBytes(of: freeListHead, toByteOffset: 0, as: UInt32.self)
        freeListHead = index
        freeBufferCount += 1
    }

    /// Takes a buffer from the free list; nil when it is empty or the link is corrupt.
    mutating func popFree() -> UInt32? {
        let index = freeListHead
        guard index != Self.noBuffer else { return nil }
        let next = memory.buffer(index).load(fromByteOffset: 0, as: UInt32.self)
        guard next == Self.noBuffer || next < memory.layout.bufferCount else {
            broken = true
            return nil
        }
        freeListHead = next
        freeBufferCount -= 1
        return index
    }
}
