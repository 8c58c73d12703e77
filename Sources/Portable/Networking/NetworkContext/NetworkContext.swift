/// One network context: a NIC queue pair, the stack, the TCP table and the program channels it serves, as one owned value.
import Channels
import Network
import RawBytes
import Synchronization
import TCP

/// How to build a context.
public struct NetworkContextConfiguration {
    /// Our addresses.
    public var interface: InterfaceConfiguration
    /// TCP connection slots (the kernel sizes it from memory: a flood fills the table, never the heap).
    public var tcpCapacity: Int
    /// The bytes of the pool every connection's send and receive buffers grow from (the
    /// kernel sizes it from memory; `BufferPool`).
    public var tcpBufferPoolBytes = 8 << 20
    /// The key of the TCP table's hash, initial sequence numbers and SYN cookies: random at boot.
    public var tcpSecret: SipHashKey
    /// Buffer sizes and timers of each connection.
    public var tcp = TCPConnectionConfiguration()
    /// The UDP port on which the context answers with the intrusion meter (nil: none).
    public var meterPort: UInt16? = nil
    /// The TCP port of the context's own Prometheus endpoint (nil: none).
    public var metricsPort: UInt16? = nil
    /// Fault injection on received frames (testing only), and the seed of its random choices.
    public var receiveImpairment = LinkImpairmentSettings()
    public var impairmentSeed: UInt64 = 1
    /// What this context shares with the other contexts of its NIC. nil: it is the only one.
    public var mesh: ContextMesh? = nil
    /// Who finishes sent TCP and UDP checksums: `.device` only when the NIC negotiated checksum
    /// offload, and then its driver marks every such frame (the two must agree).
    public var transmitChecksum = TransmitChecksum.software
    /// Whether programs' stream sends are lent to their connections until acknowledged (true)
    /// or copied into the connections' send buffers (`tcp-send=`).
    public var tcpSendLends = true
    /// From how many unacknowledged bytes a connection's sends are lent rather than copied: a
    /// stream with data in flight (bulk) lends; a server's one-buffer answer to a request is
    /// copied, its buffer back at once (lending those cost HTTP at 256 connections a quarter of
    /// its rate and 2–3 s tails: the program ran out of buffers).
    public var tcpLendingThreshold = 16 * 1024

    /// A configuration with the defaults for everything but the addresses, the table's size and its key.
    public init(interface: InterfaceConfiguration, tcpCapacity: Int, tcpSecret: SipHashKey) {
        self.interface = interface
        self.tcpCapacity = tcpCapacity
        self.tcpSecret = tcpSecret
    }
}

/// What one pass of a context did: any non-zero count is work (for the busy share).
public struct PassWork: Equatable, Sendable {
    /// Frames taken from the NIC, and frames other contexts handed over.
    public var frames = 0
    /// Channel requests served.
    public var requests = 0
    /// TCP events taken from the table.
    public var events = 0
    /// Whether anything happened.
    public var isIdle: Bool { frames == 0 && requests == 0 && events == 0 }
    public init() {}
}

/// A network context: everything that serves one NIC queue pair, owned by the one CPU that
/// runs it (the network core in dedicated mode; in symmetric mode, whichever CPU holds the
/// context's lock). It is built by the kernel's composition root, once per queue pair.
///
/// The value is a handle: its parts live in memory allocated once by `init`, so that the packet
/// path allocates nothing and a pass can reach the stack, the transmit ring and the table at
/// once without copying large structs or paying for exclusivity checks. Copies share the
/// parts; only one CPU may use them at a time.
///
/// One pass (`pass(now:)`): received frames through the stack (UDP for programs, TCP segments
/// into the table), program requests, TCP events to the programs, doorbells for programs that
/// got something, the stack's and the table's timers, and one transmit kick.
public struct NetworkContext<Receiver: FrameReceiver, Sender: FrameSender, Host: NetworkContextHost> {
    /// This context's number (its queue pair's index).
    public let index: Int
    /// The kernel services the context calls on.
    public let host: Host
    let receiver: UnsafeMutablePointer<Receiver>
    let sender: UnsafeMutablePointer<Sender>
    let stack: UnsafeMutablePointer<NetworkStack>
    let tcp: UnsafeMutablePointer<ContextTCPState>
    let table: UnsafeMutablePointer<TCPConnectionTable>
    let channels: UnsafeMutablePointer<ContextChannelState>
    let metrics: UnsafeMutablePointer<MetricsSessions<Host>>
    /// Channels whose programs have ended (bit n = channel n): set by the program's CPU with
    /// release (`programEnded`), taken by the context with an acquiring exchange, so that the
    /// context sees everything the program's CPU did before it ended.
    let endedChannels: UnsafeMutablePointer<Atomic<UInt64>>
    let receiveImpairment: UnsafeMutablePointer<ImpairedLinkDirection>?
    /// Room for the meter's text, allocated once.
    let meterText: UnsafeMutableRawBufferPointer
    /// The other contexts of the NIC: where frames this context does not serve go. Behind a
    /// pointer, as the other parts are: the mesh holds the RSS key and indirection table, and
    /// a context value that carried them would be copied whole (hundreds of bytes, `rep movsb`
    /// under TCG) wherever the value is copied, several times per frame.
    let mesh: UnsafeMutablePointer<ContextMesh>
    let handOff: UnsafeMutablePointer<HandOffCounters>

    /// Builds context `index` over one queue pair's two halves. `configuration.tcpCapacity`
    /// must be from 1 to `ChannelLayout.connectionCapacity` (the connection numbers channels
    /// can name), and `index` below the mesh's context count.
    public init(index: Int, configuration: NetworkContextConfiguration, receiver: Receiver, sender: Sender, host: Host) {
        precondition(configuration.tcpCapacity >= 1 && configuration.tcpCapacity <= ContextTCPState.capacity,
                     "a context's TCP table holds 1 to ChannelLayout.connectionCapacity connections")
        let mesh = configuration.mesh ?? ContextMesh(contextCount: 1)
        precondition(index >= 0 && index < mesh.contextCount, "context index outside its mesh")
        self.mesh = .allocate(capacity: 1)
        self.mesh.initialize(to: mesh)
        handOff = .allocate(capacity: 1)
        handOff.initialize(to: HandOffCounters())
        self.index = index
        self.host = host
        self.receiver = .allocate(capacity: 1)
        self.receiver.initialize(to: receiver)
        self.sender = .allocate(capacity: 1)
        self.sender.initialize(to: sender)
        stack = .allocate(capacity: 1)
        stack.initialize(to: NetworkStack(configuration: configuration.interface))
        stack.pointee.transmitChecksum = configuration.transmitChecksum
        table = .allocate(capacity: 1)
        table.initialize(to: TCPConnectionTable(capacity: configuration.tcpCapacity,
                                                localAddress: configuration.interface.address,
                                                secretKey: configuration.tcpSecret, configuration: configuration.tcp,
                                                bufferPool: BufferPool(byteCount: configuration.tcpBufferPoolBytes,
                                                                       largestBlock: TCPConnection.largestBlock(for: configuration.tcp))))
        table.pointee.holdsAcknowledgmentsForThePass = true
        tcp = .allocate(capacity: 1)
        tcp.initialize(to: ContextTCPState())
        tcp.pointee.sendsLend = configuration.tcpSendLends
        tcp.pointee.lendingThreshold = configuration.tcpLendingThreshold
        channels = .allocate(capacity: 1)
        channels.initialize(to: ContextChannelState())
        metrics = .allocate(capacity: 1)
        metrics.initialize(to: MetricsSessions(host: host))
        endedChannels = .allocate(capacity: 1)
        endedChannels.initialize(to: Atomic<UInt64>(0))
        if configuration.receiveImpairment.isActive {
            let impairment = UnsafeMutablePointer<ImpairedLinkDirection>.allocate(capacity: 1)
            impairment.initialize(to: ImpairedLinkDirection(settings: configuration.receiveImpairment,
                                                            seed: configuration.impairmentSeed, stream: 0,
                                                            delaySlots: NetworkContextLimits.impairmentDelaySlots))
            receiveImpairment = impairment
        } else {
            receiveImpairment = nil
        }
        meterText = .allocate(byteCount: 1400, alignment: 8)
        if let port = configuration.meterPort {
            _ = stack.pointee.bind(port: port, listener: PortListener.meter.rawValue)
        }
        if let port = configuration.metricsPort {
            tcp.pointee.metricsPort = port
            _ = table.pointee.listen(port: port, owner: ConnectionOwner.metrics.rawValue)
        }
    }

    // MARK: The pass

    /// One pass over everything the context serves (see the type's summary).
    @discardableResult
    public func pass(now: UInt64) -> PassWork {
        var work = PassWork()
        takePendingChannels()
        work.frames = receiveHandOffs(now: now) + receiveFrames(now: now)
        work.requests = serveChannels(now: now)
        work.events = serveTCP(now: now)
        // Last: the programs' queued data, with the ACKs and window updates the arrivals and
        // deliveries above owe (`holdsAcknowledgmentsForThePass`), one segment where it can.
        var output = segmentOutput(now: now)
        table.pointee.transmitDeferred(now: now, output: &output)
        ringDoorbells()
        stack.pointee.poll(now: now, transmitter: &sender.pointee)
        sender.pointee.flush()
        return work
    }

    /// Asks the NIC's receive queue to interrupt at the next frame, for a network core about
    /// to halt (`net-idle=interrupt`); false when a frame already waits or the queue cannot
    /// interrupt. Frames handed over by other contexts and programs' requests do not interrupt:
    /// they wait for the halt's timer.
    public func armArrivalInterrupt() -> Bool { receiver.pointee.armArrivalInterrupt() }
    /// Whether `armArrivalInterrupt` can ever succeed (the NIC's interrupt is routed here).
    public var interruptsOnArrival: Bool { receiver.pointee.interruptsOnArrival }
    /// Back to polling after the halt: the receive queue stops interrupting.
    public func disarmArrivalInterrupt() { receiver.pointee.disarmArrivalInterrupt() }

    /// Takes up to a budget of frames from the NIC through the stack (and the impairment, when on).
    func receiveFrames(now: UInt64) -> Int {
        let frames = receiver.pointee.receive(limit: NetworkContextLimits.receiveBudget) { frame, checksum in
            if let receiveImpairment {
                // The impairment keeps bytes, not the device's word on them: frames come out
                // unverified, so the kernel never offloads receive checksums with impair-rx=.
                receiveImpairment.pointee.submit(frame, now: now) { route(frame: $0, checksum: .unverified, now: now) }
            } else {
                route(frame: frame, checksum: checksum, now: now)
            }
        }
        if let receiveImpairment {
            receiveImpairment.pointee.releaseDue(now: now) { route(frame: $0, checksum: .unverified, now: now) }
        }
        return frames
    }

    /// Runs one received frame through this context's stack and hands on what comes back,
    /// before the frame's buffer returns to the NIC (or to its hand-off ring). `checksum`:
    /// whether the device vouched for its transport checksum.
    @discardableResult
    public func handle(frame: UnsafeRawBufferPointer, checksum: ReceivedChecksum = .unverified, now: UInt64) -> ReceiveOutcome {
        let outcome = stack.pointee.receive(frame: frame, now: now, checksum: checksum, transmitter: &sender.pointee)
        switch outcome {
        case .segment(let segment):
            receive(segment, now: now)
        case .datagram(let datagram):
            switch PortListener(rawValue: datagram.listener) {
            case .meter?: answerMeterRequest(datagram, now: now)
            case .socket(let channel, let socket)?: deliver(datagram, channel: channel, socket: socket)
            case nil: break   // only this type binds ports: cannot happen
            }
        case .handled, .dropped:
            break
        }
        return outcome
    }

    /// Answers a datagram to the meter port with the intrusion meter as text (a slow path: a
    /// monitoring tool asks now and then).
    func answerMeterRequest(_ request: DatagramDelivery, now: UInt64) {
        let length = host.writeMeter(into: meterText)
        _ = stack.pointee.sendDatagram(from: request.destinationPort, to: request.source, port: request.sourcePort,
                                       payload: UnsafeRawBufferPointer(rebasing: meterText[..<min(length, meterText.count)]),
                                       now: now, transmitter: &sender.pointee)
    }

    // MARK: What the kernel reads (slow paths: metrics, counters on the console)

    /// The stack's counters.
    public var networkCounters: NetworkCounters { stack.pointee.counters }
    /// The TCP table's counters.
    public var tcpCounters: TCPCounters { table.pointee.counters }
    /// Connections visited to pass their TCP events on to their programs: follows the events
    /// and the room the programs' channels have, not the number of connections.
    public var tcpNoticeVisits: UInt64 { tcp.pointee.visits }
    /// Connections whose events wait for room (a completion slot, a posted buffer) in their
    /// program's channel.
    public var tcpConnectionsWaitingForPrograms: Int { tcp.pointee.waiting.totalCount }
    /// TCP connections by state.
    public func tcpConnectionCounts() -> TCPConnectionCounts { table.pointee.connectionCounts() }
    /// What one TCP connection slot costs outside the buffer pool, in bytes: the table's slot
    /// and the context's bookkeeping for its number (notice and place in the pending queue).
    /// The kernel divides memory by it to size the table.
    public static var bytesPerConnection: Int {
        TCPConnectionTable.bytesPerSlot + MemoryLayout<ConnectionNotice>.stride + UniqueNumberQueue.byteCount(capacity: 1)
    }
    /// The pool the TCP buffers grow from (for its gauges).
    public var tcpBufferPool: BufferPool { table.pointee.bufferPool }
    /// How many connection slots the table has.
    public var tcpCapacity: Int { table.pointee.capacity }
    /// The metrics endpoint's requests answered and connections refused.
    public var metricsServed: UInt64 { metrics.pointee.served }
    public var metricsRefused: UInt64 { metrics.pointee.refused }
    /// Metrics sessions closed for doing nothing for `MetricsSessions.idleTimeout`.
    public var metricsExpired: UInt64 { metrics.pointee.expired }
    /// The NIC's transmit half (driver counters).
    public var transmitter: Sender { sender.pointee }

    /// Lends the context's NIC halves to `body`, for the kernel to rebuild them after a device
    /// reset. Only on the context's own CPU, between passes (nothing else touches them then).
    public func withQueuePair<Result>(_ body: (inout Receiver, inout Sender) -> Result) -> Result {
        body(&receiver.pointee, &sender.pointee)
    }
    /// The NIC's receive half (driver counters).
    public var frameReceiver: Receiver { receiver.pointee }
}
