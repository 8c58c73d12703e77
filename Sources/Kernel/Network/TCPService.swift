/// The network core's TCP: the connection table, segments in and out, and what programs hear about their connections.
import Channels
import Network
import RawBytes
import TCP

/// Sends a connection's segments through the stack — IPv4 and Ethernet headers, routing, ARP —
/// straight into the NIC's transmit ring. A segment that finds no transmit buffer is dropped and
/// counted by the stack; TCP's retransmission covers it.
struct StackSegmentTransmitter: TCPSegmentTransmitter {
    let now: UInt64

    mutating func transmit(_ segment: TCPOutgoingSegment) {
        _ = NetworkCore.stack!.sendIPv4(protocolNumber: .tcp, to: IPv4Address(rawValue: segment.destination.address),
                                        now: now, transmitter: &NetworkCore.device!.transmit) { buffer in
            (try? segment.write(into: buffer)) ?? 0
        }
    }
}

/// What the network core still has to tell a connection's owner.
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

/// The TCP side of the network core. Only the network core's CPU touches it.
///
/// Each pass: segments from the NIC go to `receive`; `serve` passes the table's events on to the
/// programs' channels (accepted, connected, stream bytes into posted buffers, peer finished,
/// aborted) and runs the timers every `pollInterval`. An event that cannot be delivered now
/// (completion ring full, no posted buffer) stays in `notices` and is retried next pass —
/// nothing is dropped, and a program that does not read closes its own TCP window.
enum TCPService {
    /// The connection table, behind a pointer: reaching a struct of this size through an
    /// `Optional` static makes the compiler copy it for every `!= nil` or `!` read.
    nonisolated(unsafe) static var table: UnsafeMutablePointer<TCPConnectionTable>? = nil
    nonisolated(unsafe) private static var notices: UnsafeMutablePointer<ConnectionNotice>? = nil
    /// Connections with undelivered events, at least (so a quiet pass costs one compare); exact
    /// after each scan.
    nonisolated(unsafe) private static var noticeCount = 0
    nonisolated(unsafe) private static var lastPoll: UInt64 = 0
    /// How often the connections' timers run: finer than the 1 s minimum RTO (RFC 6298) and the
    /// delayed-ACK delay, coarse enough to cost nothing.
    static let pollInterval: UInt64 = 1_000_000
    /// Connection numbers the channels can name (the table may have fewer slots).
    static let capacity = ChannelLayout.connectionCapacity
    /// The table's slots: `capacity`, or fewer when a quarter of usable memory would not hold
    /// that many connections' buffers. The buffers are allocated when a connection opens, and
    /// an allocation the heap cannot satisfy would stop the kernel — so the table, not the
    /// heap, is what runs out under a flood.
    nonisolated(unsafe) private(set) static var tableCapacity = 0
    /// The owner number of the network core's own metrics endpoint (channels are 0 and up).
    static let metricsOwner = -1

    /// Creates the table (on the boot CPU, before the network core runs): up to 256 connections
    /// with the TCP module's default 128 KiB send and receive buffers (64 MiB at most, allocated
    /// per connection as it opens, and never more than a quarter of usable memory), keys from
    /// `Entropy`.
    static func start(address: UInt32) {
        let key = SipHashKey(low: Entropy.secret(), high: Entropy.secret())
        let configuration = TCPConnectionConfiguration()
        let perConnection = UInt64(configuration.sendBufferCapacity + configuration.receiveBufferCapacity)
        tableCapacity = Int(min(UInt64(capacity), max(PhysicalMemory.usableBytes / 4 / perConnection, 8)))
        table = UnsafeMutablePointer<TCPConnectionTable>.allocate(capacity: 1)
        table!.initialize(to: TCPConnectionTable(capacity: tableCapacity, localAddress: address, secretKey: key,
                                                 configuration: configuration))
        notices = UnsafeMutablePointer<ConnectionNotice>.allocate(capacity: capacity)
        notices!.initialize(repeating: ConnectionNotice(), count: capacity)
        _ = table!.pointee.listen(port: MetricsEndpoint.port, owner: metricsOwner)
        Log.info("tcp: \(tableCapacity) connections of \(perConnection >> 10) KiB buffers, secrets from \(Entropy.hasRandomInstruction ? "RDRAND" : "timing jitter (no RDRAND)"), metrics on port \(MetricsEndpoint.port)")
    }

    /// One TCP segment for our address, from the stack.
    static func receive(_ delivery: DatagramDelivery, now: UInt64) {
        guard table != nil else { return }
        var output = StackSegmentTransmitter(now: now)
        _ = table!.pointee.receive(segment: delivery.payload, source: delivery.source.rawValue,
                           destination: delivery.destination.rawValue, now: now, output: &output)
    }

    /// Passes events on and runs timers; returns how many events were handled (work, for the
    /// busy share).
    static func serve(now: UInt64) -> Int {
        guard table != nil else { return 0 }
        var handled = 0
        while let event = table!.pointee.nextEvent() {
            let id = Int(event.id)
            if notices![id].events.isEmpty { noticeCount += 1 }
            notices![id].events.formUnion(event.events)
            handled += 1
        }
        if noticeCount > 0 {
            // Recounted on every scan: `passOn` may release connections (the metrics endpoint
            // does), and a release from a channel request clears a notice outside the scan.
            var remaining = 0
            var id = 0
            while id < capacity {
                if !notices![id].events.isEmpty {
                    passOn(TCPConnectionID(id), now: now)
                    if !notices![id].events.isEmpty { remaining += 1 }
                }
                id += 1
            }
            noticeCount = remaining
        }
        if now &- lastPoll >= pollInterval {
            lastPoll = now
            var output = StackSegmentTransmitter(now: now)
            table!.pointee.poll(now: now, output: &output)
        }
        return handled
    }

    /// Tells a connection's owner what happened, in order: the connection itself, its bytes,
    /// the peer's FIN, its end. Stops at the first thing that cannot be delivered yet.
    private static func passOn(_ id: TCPConnectionID, now: UInt64) {
        let index = Int(id)
        guard let owner = table!.pointee.owner(of: id) else {
            notices![index] = ConnectionNotice()   // released meanwhile: nobody to tell
            return
        }
        if owner == metricsOwner {
            MetricsEndpoint.serve(id, events: notices![index].events, now: now)
            notices![index].events = TCPConnectionEvents()
            return
        }
        guard ProgramChannels.isServing(channel: owner) else {
            notices![index].events = TCPConnectionEvents()   // the program is gone; abortAll resets it
            return
        }
        var events = notices![index].events
        defer { notices![index].events = events }
        if events.contains(.accepted) || events.contains(.connected) {
            let remote = table!.pointee.remote(of: id) ?? TCPEndpoint(address: 0, port: 0)
            let accepted = events.contains(.accepted)
            let completion = ChannelCompletion(kind: accepted ? .accepted : .connected, socket: id,
                                               length: UInt32(table!.pointee.localPort(of: id) ?? 0),
                                               address: remote.address, port: remote.port,
                                               cookie: accepted ? 0 : notices![index].cookie)
            guard ProgramChannels.notify(channel: owner, completion) else { return }
            events.remove(.accepted)
            events.remove(.connected)
            notices![index].announced = true
        }
        if events.contains(.closed) && !notices![index].announced {
            // A connect that never completed: answer the connect itself, and free the number
            // (the program never learnt it).
            if notices![index].connecting {
                let error = channelError(table!.pointee.error(of: id)) ?? .connectionRefused
                guard ProgramChannels.notify(channel: owner, ChannelCompletion(
                    kind: .error, error: error, requestOperation: ChannelRequest.Operation.connect.rawValue,
                    cookie: notices![index].cookie)) else { return }
            }
            var output = StackSegmentTransmitter(now: now)
            table!.pointee.release(id, now: now, output: &output)
            events = TCPConnectionEvents()
            notices![index] = ConnectionNotice()
            return
        }
        guard notices![index].announced else {
            events = TCPConnectionEvents()   // nothing else is news before the connection is
            return
        }
        if events.contains(.readable) {
            var output = StackSegmentTransmitter(now: now)
            while table!.pointee.readableCount(of: id) > 0 {
                let delivered = ProgramChannels.deliverStream(channel: owner, connection: id) { buffer in
                    table!.pointee.read(from: id, into: buffer, now: now, output: &output)
                }
                if delivered == 0 { return }   // no posted buffer: the window closes meanwhile
            }
            events.remove(.readable)
        }
        if events.contains(.peerFinished) {
            guard ProgramChannels.notify(channel: owner, ChannelCompletion(kind: .peerFinished, socket: id)) else { return }
            events.remove(.peerFinished)
        }
        if events.contains(.closed) {
            if let error = channelError(table!.pointee.error(of: id)) {
                guard ProgramChannels.notify(channel: owner, ChannelCompletion(kind: .streamAborted, error: error, socket: id))
                else { return }
            }
            events.remove(.closed)
        }
        events.remove(.writable)   // the channel's send queues are pumped every pass anyway
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

    /// A program ended or was stopped: reset its connections and stop its listeners.
    static func ownerGone(_ owner: Int, now: UInt64) {
        guard table != nil else { return }
        var output = StackSegmentTransmitter(now: now)
        table!.pointee.abortAll(owner: owner, now: now, output: &output)
    }

    // MARK: The channel requests (called from `StackRequestHandler`)

    static func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        guard port != MetricsEndpoint.port else { return .failure(.portInUse) }
        switch table!.pointee.listen(port: port, owner: channel) {
        case .success: return .success(())
        case .failure(.alreadyListening): return .failure(.portInUse)
        case .failure(.invalidEndpoint): return .failure(.badPort)
        case .failure: return .failure(.tooManySockets)
        }
    }

    static func connect(to destination: (address: UInt32, port: UInt16), channel: Int, cookie: UInt64,
                        now: UInt64) -> Result<Void, ChannelError> {
        guard destination.address != 0 else { return .failure(.noRoute) }
        var output = StackSegmentTransmitter(now: now)
        switch table!.pointee.connect(to: TCPEndpoint(address: destination.address, port: destination.port), owner: channel,
                              now: now, output: &output) {
        case .success(let id):
            notices![Int(id)] = ConnectionNotice(events: notices![Int(id)].events, announced: false,
                                                 connecting: true, cookie: cookie)
            return .success(())
        case .failure(.invalidEndpoint): return .failure(.badPort)
        case .failure: return .failure(.tooManyConnections)
        }
    }

    static func owns(_ id: UInt16, channel: Int) -> Bool {
        Int(id) < capacity && notices![Int(id)].announced && table!.pointee.owner(of: id) == channel
    }

    static func write(_ id: UInt16, bytes: UnsafeRawBufferPointer, now: UInt64) -> Result<Int, ChannelError> {
        switch table!.pointee.state(of: id) {
        case .synchronizeSent?, .synchronizeReceived?, .established?, .closeWait?:
            var output = StackSegmentTransmitter(now: now)
            return .success(table!.pointee.send(ByteReader(bytes), on: id, now: now, output: &output))
        default:
            return .failure(channelError(table!.pointee.error(of: id)) ?? .notWritable)
        }
    }

    static func shutdown(_ id: UInt16, now: UInt64) {
        var output = StackSegmentTransmitter(now: now)
        table!.pointee.shutdown(id, now: now, output: &output)
    }

    static func release(_ id: UInt16, now: UInt64) {
        var output = StackSegmentTransmitter(now: now)
        table!.pointee.release(id, now: now, output: &output)
        // `noticeCount` may now count one notice too many; the next scan recounts.
        notices![Int(id)] = ConnectionNotice()
    }
}
