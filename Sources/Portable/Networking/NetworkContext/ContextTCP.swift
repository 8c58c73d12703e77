/// A context's TCP: segments into the table, the table's events out to the programs' channels, and the channel requests on connections.
import Channels
import Network
import RawBytes
import TCP

/// What the context still has to tell a connection's owner.
struct ConnectionNotice {
    /// Events taken from the table and not yet passed on (the channel's completion ring was
    /// full, or stream bytes wait for a posted buffer).
    var events = TCPConnectionEvents()
    /// The owner was told about the connection (`accepted` or `connected`).
    var announced = false
    /// Opened by a program's `connect`, whose cookie the answer carries.
    var connecting = false
    var cookie: UInt64 = 0
}

/// The TCP bookkeeping beside the table.
struct ContextTCPState {
    /// Connection numbers the channels can name (the table may have fewer slots).
    static let capacity = ChannelLayout.connectionCapacity
    let notices: UnsafeMutablePointer<ConnectionNotice>
    /// The connections whose notice may hold undelivered events, each at most once, oldest
    /// first: a pass visits these and nothing else, so its work follows the events, not the
    /// number of connections. A connection whose events cannot all be delivered waits in
    /// `waiting` instead, and comes back here, at the back, when its channel has room: when
    /// the channels' rings or buffers run short the connections take turns.
    var pending = UniqueNumberQueue(capacity: ContextTCPState.capacity)
    /// Connections whose events wait for their channel to have room, out of `pending`: list
    /// `2 × channel` waits for room in the completion ring, `2 × channel + 1` for a posted
    /// receive buffer. A pass moves back only as many as the channel can take now, so a program
    /// that holds its buffers while a thousand requests wait costs a look per pass, not a
    /// thousand visits (`resumeWaitingConnections`).
    var waiting = WaitingLists(capacity: ContextTCPState.capacity, listCount: 2 * NetworkContextLimits.maximumChannels)

    /// The line of `waiting` for room in `channel`'s completion ring.
    static func ringLine(of channel: Int) -> Int { 2 * channel }
    /// The line of `waiting` for a posted receive buffer of `channel`.
    static func bufferLine(of channel: Int) -> Int { 2 * channel + 1 }
    /// Whether any connection waits for `channel`'s room.
    func hasWaiting(channel: Int) -> Bool {
        !waiting.isEmpty(Self.ringLine(of: channel)) || !waiting.isEmpty(Self.bufferLine(of: channel))
    }
    /// Notices visited (`passOn` calls), counted for tests and `/metrics`: the work of passing
    /// events on, which follows the events and what the channels can take.
    var visits: UInt64 = 0
    var lastPoll: UInt64 = 0
    /// The metrics endpoint's port, which programs may not listen on.
    var metricsPort: UInt16? = nil
    /// Programs' stream sends are lent to their connections (`tcp-send=lend`), not copied.
    var sendsLend = true
    /// `NetworkContextConfiguration.tcpLendingThreshold`.
    var lendingThreshold = 16 * 1024

    init() {
        notices = .allocate(capacity: Self.capacity)
        notices.initialize(repeating: ConnectionNotice(), count: Self.capacity)
    }
}

extension NetworkContext {
    func segmentOutput(now: UInt64) -> ContextSegmentTransmitter<Sender> {
        ContextSegmentTransmitter(stack: stack, sender: sender, now: now)
    }

    /// One TCP segment for our address, from the stack. In-order data of a connection whose
    /// owner is up to date goes straight into the owner's posted buffers (`ChannelDirectReceiver`).
    func receive(_ segment: SegmentDelivery, now: UInt64) {
        var output = segmentOutput(now: now)
        var direct = ChannelDirectReceiver(context: self)
        _ = table.pointee.receive(segment: segment.segment, source: segment.source,
                                  destination: segment.destination, now: now,
                                  verifyChecksum: segment.checksum == .unverified, output: &output,
                                  directReceiver: &direct)
    }

    /// Passes the table's events on and runs its timers every `tcpPollInterval`; returns how
    /// many events there were. An event that cannot be delivered now stays in its notice, and
    /// its connection waits in line for its channel's room (`waitForRoom`): nothing is dropped,
    /// and a program that does not read closes its own TCP window.
    func serveTCP(now: UInt64) -> Int {
        var handled = 0
        let notices = tcp.pointee.notices
        // The waiting first: queued ahead of this pass's news, they take the room their channels
        // have before a newcomer can (a newcomer that finds none joins the back of the line).
        resumeWaitingConnections()
        while let event = table.pointee.nextEvent() {
            let id = Int(event.id)
            notices[id].events.formUnion(event.events)
            // A waiting connection keeps its place in line for more of what waits (bytes, the
            // peer's FIN); anything else (freed send space, its end, a new connection on a
            // reused number) needs a visit now.
            if tcp.pointee.waiting.list(of: id) == nil || !Self.waitsInLine(event.events) {
                tcp.pointee.waiting.remove(id)
                tcp.pointee.pending.push(id)
            }
            handled += 1
        }
        // Each queued connection once: what cannot be delivered now waits for its channel's
        // room (or, when the reason is not the channel's, is queued again for the next pass).
        // A notice cleared meanwhile (a release from a channel request, or `passOn` releasing a
        // metrics session) is simply skipped.
        for _ in 0..<tcp.pointee.pending.count {
            guard let id = tcp.pointee.pending.pop() else { break }
            guard !notices[id].events.isEmpty else { continue }
            tcp.pointee.visits &+= 1
            passOn(TCPConnectionID(id), now: now)
            if !notices[id].events.isEmpty { waitForRoom(id) }
        }
        if now &- tcp.pointee.lastPoll >= NetworkContextLimits.tcpPollInterval {
            tcp.pointee.lastPoll = now
            var output = segmentOutput(now: now)
            table.pointee.poll(now: now, output: &output)
            expireIdleMetricsSessions(now: now)
        }
        return handled
    }

    /// Whether new `events` for a waiting connection may wait with it: they need only what it
    /// waits for (a completion and, for bytes, a posted buffer), and come after what it holds.
    static func waitsInLine(_ events: TCPConnectionEvents) -> Bool {
        events.isSubset(of: [.readable, .peerFinished])
    }

    /// Puts connection `id`, whose events `passOn` could not all deliver, in line for what its
    /// channel lacks: room in the completion ring, or a posted buffer for its bytes. When
    /// neither is lacking (the program freed ring slots meanwhile, on its own CPU), it is
    /// simply visited again next pass.
    private func waitForRoom(_ id: Int) {
        guard let raw = table.pointee.owner(of: TCPConnectionID(id)),
              case .program(let channel)? = ConnectionOwner(rawValue: raw), isServing(channel: channel) else {
            tcp.pointee.pending.push(id)
            return
        }
        let storage = channels.pointee.storage
        if storage[channel].completionRoom() == 0 {
            tcp.pointee.waiting.append(id, to: ContextTCPState.ringLine(of: channel))
        } else if tcp.pointee.notices[id].events.contains(.readable) && storage[channel].postedReceiveBufferCount == 0 {
            tcp.pointee.waiting.append(id, to: ContextTCPState.bufferLine(of: channel))
        } else {
            tcp.pointee.pending.push(id)
        }
    }

    /// Moves waiting connections back to `pending` as far as their channels can take them now:
    /// one per free completion slot, and of those waiting for buffers no more than there are
    /// posted buffers. A connection that still cannot deliver all it holds waits again, at the
    /// back of its line, so waiting connections take turns. A channel no longer served lets
    /// all of them go: their visit finds no one to tell and clears them.
    func resumeWaitingConnections() {
        guard tcp.pointee.waiting.totalCount > 0 else { return }   // the common pass: one load
        let storage = channels.pointee.storage
        for channel in 0..<channels.pointee.count {
            guard tcp.pointee.hasWaiting(channel: channel) else { continue }
            let ringLine = ContextTCPState.ringLine(of: channel), bufferLine = ContextTCPState.bufferLine(of: channel)
            var room = Int.max, buffers = Int.max
            if isServing(channel: channel) {
                room = storage[channel].completionRoom()
                buffers = storage[channel].postedReceiveBufferCount
            }
            while room > 0, let id = tcp.pointee.waiting.popFirst(of: ringLine) {
                tcp.pointee.pending.push(id)
                room -= 1
            }
            while room > 0, buffers > 0, let id = tcp.pointee.waiting.popFirst(of: bufferLine) {
                tcp.pointee.pending.push(id)
                room -= 1
                buffers -= 1
            }
        }
    }

    /// Tells a connection's owner what happened, in order: the connection itself, its bytes,
    /// the peer's FIN, its end. Stops at the first thing that cannot be delivered yet.
    private func passOn(_ id: TCPConnectionID, now: UInt64) {
        let notices = tcp.pointee.notices
        let index = Int(id)
        guard let raw = table.pointee.owner(of: id), let owner = ConnectionOwner(rawValue: raw) else {
            notices[index] = ConnectionNotice()   // released meanwhile: nobody to tell
            return
        }
        let channel: Int
        switch owner {
        case .metrics:
            let events = notices[index].events
            notices[index].events = TCPConnectionEvents()
            serveMetrics(id, events: events, now: now)
            return
        case .program(let number):
            channel = number
        }
        guard isServing(channel: channel) else {
            notices[index].events = TCPConnectionEvents()   // the program is gone; ownerGone resets it
            return
        }
        var events = notices[index].events
        defer { notices[index].events = events }
        if !events.intersection([.writable, .closed]).isEmpty {
            // Bytes handed back or the connection ended: its channel's send queue can move.
            channels.pointee.storage[channel].wakeStream(id)
            events.remove(.writable)
        }
        if events.contains(.accepted) || events.contains(.connected) {
            let remote = table.pointee.remote(of: id) ?? TCPEndpoint(address: .any, port: 0)
            let accepted = events.contains(.accepted)
            let completion = ChannelCompletion(kind: accepted ? .accepted : .connected, socket: id,
                                               length: UInt32(table.pointee.localPort(of: id) ?? 0),
                                               address: remote.address.rawValue, port: remote.port,
                                               cookie: accepted ? 0 : notices[index].cookie)
            guard notify(channel: channel, completion) else { return }
            events.remove(.accepted)
            events.remove(.connected)
            notices[index].announced = true
        }
        if events.contains(.closed) && !notices[index].announced {
            // A connect that never completed: answer the connect itself, and free the number
            // (the program never learnt it).
            if notices[index].connecting {
                let error = Self.channelError(table.pointee.error(of: id)) ?? .connectionRefused
                guard notify(channel: channel, ChannelCompletion(
                    kind: .error, error: error, requestOperation: ChannelRequest.Operation.connect.rawValue,
                    cookie: notices[index].cookie)) else { return }
            }
            var output = segmentOutput(now: now)
            table.pointee.release(id, now: now, output: &output)
            events = TCPConnectionEvents()
            notices[index] = ConnectionNotice()
            return
        }
        guard notices[index].announced else {
            events = TCPConnectionEvents()   // nothing else is news before the connection is
            return
        }
        if events.contains(.readable) {
            var output = segmentOutput(now: now)
            let table = self.table
            // The window update these reads owe waits for the pass's `transmitDeferred`
            // (`holdsAcknowledgmentsForThePass`): one for all the buffers filled here.
            while table.pointee.readableCount(of: id) > 0 {
                let delivered = deliverStream(channel: channel, connection: id) { buffer in
                    table.pointee.read(from: id, into: buffer, now: now, output: &output)
                }
                if delivered == 0 { return }   // no posted buffer: the window closes meanwhile
            }
            events.remove(.readable)
        }
        if events.contains(.peerFinished) {
            guard notify(channel: channel, ChannelCompletion(kind: .peerFinished, socket: id)) else { return }
            events.remove(.peerFinished)
        }
        if events.contains(.closed) {
            if let error = Self.channelError(table.pointee.error(of: id)) {
                guard notify(channel: channel, ChannelCompletion(kind: .streamAborted, error: error, socket: id))
                else { return }
            }
            events.remove(.closed)
        }
    }

    /// The channel error for a connection's end.
    static func channelError(_ error: TCPConnectionError?) -> ChannelError? {
        switch error {
        case .reset?: .connectionReset
        case .refused?: .connectionRefused
        case .timedOut?: .timedOut
        case nil: nil
        }
    }

    /// An owner is gone (its program ended): reset its connections and stop its listeners.
    func ownerGone(_ owner: ConnectionOwner, now: UInt64) {
        var output = segmentOutput(now: now)
        table.pointee.abortAll(owner: owner.rawValue, now: now, output: &output)
    }

    // MARK: The channel requests (from `ContextRequestHandler`)

    func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        guard port != tcp.pointee.metricsPort else { return .failure(.portInUse) }
        switch table.pointee.listen(port: port, owner: ConnectionOwner.program(channel: channel).rawValue) {
        case .success:
            mesh.pointee.directory.claim(.tcp, port: port, context: index)
            return .success(())
        case .failure(.alreadyListening): return .failure(.portInUse)
        case .failure(.invalidEndpoint): return .failure(.badPort)
        case .failure: return .failure(.tooManySockets)
        }
    }

    func connect(to destination: (address: UInt32, port: UInt16), channel: Int, cookie: UInt64,
                 now: UInt64) -> Result<Void, ChannelError> {
        let localAddress = stack.pointee.configuration.address
        // Nothing routes to 0.0.0.0, and the stack does not send to its own address (there is
        // no loopback): refuse now rather than let the SYN retransmissions run out.
        guard destination.address != 0, destination.address != localAddress.rawValue else { return .failure(.noRoute) }
        var output = segmentOutput(now: now)
        let mesh = self.mesh
        let context = index
        switch table.pointee.connect(to: TCPEndpoint(address: IPv4Address(rawValue: destination.address), port: destination.port),
                                     owner: ConnectionOwner.program(channel: channel).rawValue, now: now, output: &output,
                                     acceptingPort: { mesh.pointee.acceptsSourcePort($0, context: context, localAddress: localAddress,
                                                                             remote: destination) }) {
        case .success(let id):
            let notices = tcp.pointee.notices
            notices[Int(id)] = ConnectionNotice(events: notices[Int(id)].events, announced: false,
                                                connecting: true, cookie: cookie)
            return .success(())
        case .failure(.invalidEndpoint): return .failure(.badPort)
        case .failure: return .failure(.tooManyConnections)
        }
    }

    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    func owns(_ id: UInt16, channel: Int) -> Bool {
        Int(id) < ContextTCPState.capacity && tcp.pointee.notices[Int(id)].announced
            && table.pointee.owner(of: id) == ConnectionOwner.program(channel: channel).rawValue
    }

    /// A program's stream bytes for connection `id`: lent (read in place until acknowledged)
    /// as `lending` says, or when it says `.either` with `tcp-send=lend` and a stream of at least
    /// `lendingThreshold` bytes in flight; else copied and handed back at once.
    func write(_ id: UInt16, bytes: UnsafeRawBufferPointer, lending: StreamLending = .either, now: UInt64) -> Result<StreamWrite, ChannelError> {
        switch table.pointee.state(of: id) {
        case .synchronizeSent?, .synchronizeReceived?, .established?, .closeWait?:
            // Sent at the end of the channel work of this pass (`pass`): many small sends, one burst.
            let lends = switch lending {
            case .lend: true
            case .copy: false
            case .either: tcp.pointee.sendsLend && table.pointee.unacknowledgedSendBytes(of: id) >= tcp.pointee.lendingThreshold
            }
            return .success(StreamWrite(taken: table.pointee.sendDeferred(ByteReader(bytes), on: id, lending: lends), lent: lends))
        default:
            return .failure(Self.channelError(table.pointee.error(of: id)) ?? .notWritable)
        }
    }

    /// The program's bytes connection `id` handed back, and whether it ended. A CLOSED
    /// connection has forgotten any lent bytes (`TCPConnection.enterClosed`); one the program
    /// no longer holds has nothing of its.
    func sendProgress(_ id: UInt16) -> StreamSendProgress {
        let returned = table.pointee.takeReturnedBytes(of: id)
        switch table.pointee.state(of: id) {
        case .closed?, nil:
            return StreamSendProgress(returned: returned,
                                      ended: Self.channelError(table.pointee.error(of: id)) ?? .notWritable)
        default:
            return StreamSendProgress(returned: returned)
        }
    }

    /// Connection `id` copies the bytes it holds lent (before the program releases it).
    func recall(_ id: UInt16) -> Bool {
        table.pointee.recallLentBytes(of: id)
    }

    func shutdown(_ id: UInt16, now: UInt64) {
        var output = segmentOutput(now: now)
        table.pointee.shutdown(id, now: now, output: &output)
    }

    func release(_ id: UInt16, now: UInt64) {
        var output = segmentOutput(now: now)
        table.pointee.release(id, now: now, output: &output)
        // If it is still queued, the visit finds an empty notice and skips it; if it waits,
        // its number must not stay in a line when a new connection reuses it.
        tcp.pointee.waiting.remove(Int(id))
        tcp.pointee.notices[Int(id)] = ConnectionNotice()
    }
}

/// Copies a connection's in-order bytes from the arriving segment into its program's posted
/// receive buffers (`streamReceived` completions): the payload is copied once, NIC buffer to
/// channel buffer, instead of through the TCP receive buffer.
///
/// Only when nothing about the connection is still owed to the program — the table has no event
/// queued for it (checked by the table), it was told of the connection and no event waits in
/// its notice — so that bytes never overtake an `accepted`, earlier bytes or a `peerFinished`.
/// Bytes it cannot place (no posted buffer, completion ring full) stay with TCP and go the
/// usual way.
struct ChannelDirectReceiver<Receiver: FrameReceiver, Sender: FrameSender, Host: NetworkContextHost>: TCPDirectReceiver {
    let context: NetworkContext<Receiver, Sender, Host>

    mutating func take(_ bytes: ByteReader, connection id: TCPConnectionID, owner: Int) -> Int {
        guard case .program(let channel)? = ConnectionOwner(rawValue: owner), Int(id) < ContextTCPState.capacity,
              let source = bytes.baseAddress else { return 0 }
        let notice = context.tcp.pointee.notices[Int(id)]
        guard notice.announced, notice.events.isEmpty, !context.tcp.pointee.pending.contains(Int(id)) else { return 0 }
        // Connections waiting for this channel's room were there first: bytes that arrive now
        // wait behind them (in the connection) rather than take a buffer one of them waits for.
        guard !context.tcp.pointee.hasWaiting(channel: channel) else { return 0 }
        var taken = 0
        while taken < bytes.count {
            let delivered = context.deliverStream(channel: channel, connection: id) { buffer in
                let count = min(buffer.count, bytes.count - taken)
                buffer.baseAddress!.copyMemory(from: source + taken, byteCount: count)
                return count
            }
            if delivered == 0 { break }
            taken += delivered
        }
        return taken
    }
}
