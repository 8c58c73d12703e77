/// The network core's end of a channel for TCP: listen and connect requests, queued stream sends, stream delivery and events.

extension ServerChannel {
    /// Serves a stream request (listen, connect, streamSend, streamShutdown, streamClose).
    /// Every request gets exactly one completion, now or — for connect, and for sends, shutdowns
    /// and closes waiting behind queued data — later.
    mutating func serveStream<Handler: ChannelRequestHandler>(_ request: ChannelRequest, handler: inout Handler) {
        switch ChannelRequest.Operation(rawValue: request.operation) {
        case .listen:
            guard request.port != 0 else { return fail(request, .badPort) }
            if case .failure(let error) = handler.listen(port: request.port, channel: identifier) {
                return fail(request, error)
            }
            complete(ChannelCompletion(kind: .listening, port: request.port, requestOperation: request.operation,
                                       cookie: request.cookie))
        case .connect:
            guard request.port != 0 else { return fail(request, .badPort) }
            if case .failure(let error) = handler.connect(to: (request.address, request.port), channel: identifier,
                                                          cookie: request.cookie) {
                return fail(request, error)
            }
        case .streamSend:
            queueStreamSend(request, handler: &handler)
        case .streamShutdown, .streamClose:
            let close = request.operation == ChannelRequest.Operation.streamClose.rawValue
            guard Int(request.socket) < ChannelLayout.connectionCapacity,
                  handler.ownsConnection(request.socket, channel: identifier),
                  !streamQueues.queue(request.socket).closePending
            else { return fail(request, .unknownSocket) }
            if !close && streamQueues.queue(request.socket).shutdownPending { return fail(request, .notWritable) }
            streamQueues.deferRequest(close: close, cookie: request.cookie, for: request.socket)
            pumpStream(request.socket, handler: &handler)
        default:
            fail(request, .unknownRequest)
        }
    }

    /// Validates a `streamSend`, takes its buffer and queues it behind the connection's earlier ones.
    private mutating func queueStreamSend<Handler: ChannelRequestHandler>(_ request: ChannelRequest, handler: inout Handler) {
        let connection = request.socket
        guard Int(connection) < ChannelLayout.connectionCapacity, handler.ownsConnection(connection, channel: identifier)
        else { return fail(request, .unknownSocket) }
        let queue = streamQueues.queue(connection)
        guard !queue.shutdownPending, !queue.closePending, !queue.shutDown else { return fail(request, .notWritable) }
        guard request.bufferIndex < memory.layout.bufferCount else { return fail(request, .badBufferIndex) }
        guard request.length > 0,
              RequestValidator.payloadFits(offset: request.offset, length: request.length, bufferSize: memory.layout.bufferSize)
        else { return fail(request, .badOffsetOrLength) }
        if let error = ownership.takeFromProgram(request.bufferIndex, as: .sending) {
            return fail(request, error)
        }
        let buffer = memory.buffer(request.bufferIndex)
        observePayload(UnsafeMutableRawBufferPointer(rebasing: buffer[Int(request.offset)..<Int(request.offset) + Int(request.length)]),
                       buffer: request.bufferIndex)
        streamBuffersHeld += 1
        streamQueues.append(request.bufferIndex, offset: request.offset, length: request.length,
                            postsAfterSend: request.flags & ChannelRequest.postAfterSend != 0, cookie: request.cookie,
                            to: connection)
        pumpStream(connection, handler: &handler)
    }

    /// Moves the held buffers of the connections that may have news along, and carries out
    /// the shutdowns and closes whose data has gone. The network core calls it each pass; it
    /// costs one compare when nothing waits.
    public mutating func pumpStreams<Handler: ChannelRequestHandler>(handler: inout Handler) {
        guard streamQueues.busyListed > 0, violation == nil else { return }
        // The busy ring, each listed connection once; one that can move again without news
        // from its connection (its send buffer is full, the completion ring was) is listed
        // again, behind the others.
        for _ in 0..<streamQueues.busyListed {
            guard let connection = streamQueues.takeBusy() else { break }
            guard streamQueues.queue(connection).hasWork else { continue }
            if pumpStream(connection, handler: &handler) { streamQueues.listBusy(connection) }
        }
    }

    /// The connection handed bytes back or ended (its `writable` or `closed` event): pump its
    /// queue in the next `pumpStreams`. Buffers that only wait for acknowledgements are not
    /// visited in between, so a pass's work follows the events, not the buffers in flight.
    public mutating func wakeStream(_ connection: UInt16) {
        guard Int(connection) < ChannelLayout.connectionCapacity, streamQueues.queue(connection).hasWork else { return }
        streamQueues.listBusy(connection)
    }

    /// Whether `connection` has sends, a shutdown or a close waiting in the network core.
    public func hasQueuedStreamWork(_ connection: UInt16) -> Bool {
        Int(connection) < ChannelLayout.connectionCapacity && streamQueues.queue(connection).hasWork
    }

    /// Moves `connection`'s held buffers along, in order: each buffer whose bytes the
    /// connection has all handed back returns to the program (`streamSent`, or posted for
    /// receive when sent with `postAfterSend`); bytes not yet
    /// taken go to the connection as far as its send buffer takes them; then a waiting
    /// shutdown or close runs. A close first recalls lent bytes (the connection copies them),
    /// so that no buffer stays lent to a connection the program let go of.
    ///
    /// Returns whether to pump again next pass without news from the connection: the
    /// completion ring was full, the send buffer took less than offered, or a recall found
    /// memory short. A queue waiting only for acknowledgements returns false; `wakeStream`
    /// brings it back.
    @discardableResult
    mutating func pumpStream<Handler: ChannelRequestHandler>(_ connection: UInt16, handler: inout Handler) -> Bool {
        while true {
            guard completions.hasFreeSlot() else { return true }
            var queue = streamQueues.queue(connection)
            if queue.head != StreamSendQueues.none {
                if queue.ended == nil {
                    let progress = handler.streamSendProgress(connection: connection, channel: identifier)
                    streamQueues.markReturned(progress.returned, of: connection)
                    if let error = progress.ended { streamQueues.end(connection, with: error) }
                    queue = streamQueues.queue(connection)
                }
                let index = queue.head
                let pending = streamQueues.pending(index)
                if pending.returned == pending.length {
                    _ = streamQueues.popHead(of: connection)
                    ownership.returnToProgram(index)
                    streamBuffersHeld -= 1
                    if pending.postsAfterSend, postAgain(index) { continue }
                    complete(ChannelCompletion(kind: .streamSent, socket: connection, bufferIndex: index,
                                               offset: pending.offset, length: pending.length,
                                               requestOperation: ChannelRequest.Operation.streamSend.rawValue,
                                               cookie: pending.cookie))
                    continue
                }
                if let error = queue.ended {
                    // The connection holds none of the program's bytes any more.
                    _ = streamQueues.popHead(of: connection)
                    ownership.returnToProgram(index)
                    streamBuffersHeld -= 1
                    counters.countError(error)
                    complete(ChannelCompletion(kind: .error, error: error, socket: connection, bufferIndex: index,
                                               offset: pending.offset, length: pending.length,
                                               requestOperation: ChannelRequest.Operation.streamSend.rawValue,
                                               bufferReturned: true, cookie: pending.cookie))
                    continue
                }
            }
            if queue.cursor != StreamSendQueues.none {
                let index = queue.cursor
                let pending = streamQueues.pending(index)
                let buffer = memory.buffer(index)
                // In range: offset + length was checked against the buffer size when queued.
                let start = Int(pending.offset) + Int(pending.taken)
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<Int(pending.offset) + Int(pending.length)])
                // Lending is allowed only while the core holds at most a quarter of the channel's
                // buffers for sending: a lent buffer comes back a round trip later, and a program
                // must keep buffers to work with (copies come back at once). The connection also
                // decides (`ContextTCP.write`: only a stream with bytes in flight lends). A buffer
                // keeps its first mode.
                let lending: StreamLending = pending.taken > 0 ? (pending.copied ? .copy : .lend)
                    : streamBuffersHeld <= Int(memory.layout.bufferCount) / 4 ? .either : .copy
                switch handler.streamWrite(connection: connection, channel: identifier, bytes: bytes, lending: lending) {
                case .failure(let error):
                    streamQueues.end(connection, with: error)
                    continue
                case .success(let write):
                    counters.streamBytesSent &+= UInt64(write.taken)
                    if write.taken > 0 { streamQueues.advanceCursor(of: connection, by: UInt32(write.taken), copied: !write.lent) }
                    if write.taken < bytes.count { return true }   // the send buffer is full: wait for acknowledgements
                    continue
                }
            }
            if queue.shutdownPending {
                handler.streamShutdown(connection: connection, channel: identifier)
                streamQueues.clearDeferred(close: false, for: connection)
                complete(ChannelCompletion(kind: .streamShutDown, socket: connection,
                                           requestOperation: ChannelRequest.Operation.streamShutdown.rawValue,
                                           cookie: queue.shutdownCookie))
            } else if queue.closePending {
                if queue.head != StreamSendQueues.none {
                    // Lent bytes still unacknowledged: the connection copies them, and their
                    // buffers go back before it is released.
                    guard handler.streamRecall(connection: connection, channel: identifier) else { return true }
                    streamQueues.markAllReturned(of: connection)
                    continue
                }
                handler.streamRelease(connection: connection, channel: identifier)
                streamQueues.clearDeferred(close: true, for: connection)
                complete(ChannelCompletion(kind: .streamClosed, socket: connection,
                                           requestOperation: ChannelRequest.Operation.streamClose.rawValue,
                                           cookie: queue.closeCookie))
                return false
            } else {
                return false
            }
        }
    }

    /// Fills the oldest posted receive buffer with stream bytes of `connection`: `read` copies up
    /// to the buffer's size into it and returns how many. Pushes `streamReceived` and returns the
    /// count; 0 (nothing taken from `read`'s source) when the channel has no posted buffer or no
    /// room in its completion ring — the bytes then stay in the connection's receive buffer,
    /// whose window closes: that is the program's backpressure on the peer.
    public mutating func deliverStream(connection: UInt16, read: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        guard violation == nil, completions.hasFreeSlot(), let index = takePostedBuffer() else { return 0 }
        let count = read(memory.buffer(index))
        guard count > 0 else {
            untakePostedBuffer(index)   // nothing to deliver: no empty completion
            return 0
        }
        ownership.returnToProgram(index)
        counters.streamBytesReceived &+= UInt64(count)
        complete(ChannelCompletion(kind: .streamReceived, socket: connection, bufferIndex: index, offset: 0,
                                   length: UInt32(count)))
        return count
    }

    /// Whether `deliverStream` could deliver now (a posted buffer and room for its completion).
    public mutating func canDeliverStream() -> Bool {
        violation == nil && postedReceiveBufferCount > 0 && completions.hasFreeSlot()
    }

    /// Pushes an event the network core raises on its own (`accepted`, `connected`, `error` for a
    /// failed connect, `peerFinished`, `streamAborted`). Returns false when the completion ring
    /// is full or the channel is broken: the caller keeps the event and tries again next pass.
    public mutating func notify(_ completion: ChannelCompletion) -> Bool {
        guard violation == nil, completions.hasFreeSlot() else { return false }
        if completion.kind == ChannelCompletion.Kind.accepted.rawValue
            || completion.kind == ChannelCompletion.Kind.connected.rawValue {
            counters.connectionsOpened &+= 1
        }
        if completion.kind == ChannelCompletion.Kind.error.rawValue, let error = completion.decodedError {
            counters.countError(error)
        }
        complete(completion)
        return true
    }
}
