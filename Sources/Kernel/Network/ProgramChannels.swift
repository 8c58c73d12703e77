/// The network core's side of the application channels: setting them up for programs, serving
/// their requests through the stack, delivering datagrams, and ringing the doorbell.
import Channels
import Network
import RawBytes
import Synchronization

/// What the network core knows about one program's channel.
struct ChannelOwner {
    /// The CPU the program runs on: where the doorbell IPI goes.
    var cpu: Int
    /// Whether the program was stopped for breaking the protocol (then its channel is dead).
    var stopped = false
    /// The channel's completion count when its doorbell was last considered.
    var completionsRung: UInt64 = 0
}

enum ProgramChannels {
    static let maximumChannels = 8
    static let layout = ChannelLayout()
    nonisolated(unsafe) private static var storage: UnsafeMutablePointer<ServerChannel>? = nil
    nonisolated(unsafe) private static var owners = InlineArray<8, ChannelOwner>(repeating: ChannelOwner(cpu: 0))
    nonisolated(unsafe) private(set) static var count = 0
    nonisolated(unsafe) private static var server: ChannelServer? = nil
    /// Channels whose programs have ended (bit n = channel n), set by the program's CPU with
    /// release and taken by the network core with acquire (an exchange), which then releases
    /// their ports. Only the network core touches the stack, so it does the unbinding itself.
    private static let endedChannels = Atomic<UInt64>(0)

    /// Called on a program's CPU when it exits or is stopped: its channel's ports are freed.
    static func ownerEnded(channel: Int) {
        endedChannels.bitwiseOr(1 << UInt64(channel), ordering: .releasing)
    }

    /// Makes a channel for a program on `cpu`: its shared memory (rings and packet buffers,
    /// which the caller maps into the program) and the network core's private bookkeeping
    /// (never mapped). Called on the boot CPU before the network core starts. Returns the
    /// physical address of the shared memory and its size, or nil.
    static func create(cpu: Int) -> (physical: UInt64, byteCount: Int, channel: Int)? {
        if storage == nil {
            storage = UnsafeMutablePointer<ServerChannel>.allocate(capacity: maximumChannels)
        }
        guard count < maximumChannels,
              let shared = PhysicalMemory.allocate(count: layout.byteCount / 4096),
              let privateMemory = PhysicalMemory.allocate(count: ChannelLayout.roundUpToPage(layout.serverPrivateByteCount) / 4096)
        else { return nil }
        let memory = ChannelMemory(base: UnsafeMutableRawPointer(bitPattern: UInt(shared))!, layout: layout)
        memory.initialize()
        let channel = count
        (storage! + channel).initialize(to: ServerChannel(
            memory: memory, privateMemory: UnsafeMutableRawPointer(bitPattern: UInt(privateMemory))!, identifier: channel))
        owners[channel] = ChannelOwner(cpu: cpu)
        count += 1
        server = ChannelServer(channels: UnsafeMutableBufferPointer(start: storage!, count: count))
        return (shared, layout.byteCount, channel)
    }

    /// Serves every channel's requests (bounded per channel per pass: a flooding program
    /// cannot starve the others), then feeds queued stream sends to their connections (TCP
    /// acknowledgements free send-buffer space). Returns how many requests were taken.
    static func serve(now: UInt64) -> Int {
        guard server != nil else { return 0 }
        var handler = StackRequestHandler(now: now)
        let served = server!.poll(handler: &handler)
        for channel in 0..<count where !owners[channel].stopped {
            storage![channel].pumpStreams(handler: &handler)
        }
        stopProgramsThatBrokeTheProtocol(now: now)
        return served
    }

    /// Rings the doorbell of every program whose completion ring got something this pass
    /// (datagrams, stream bytes, returned buffers, connection events): once per pass and
    /// channel, and only an IPI when the program sleeps in `wait`.
    static func ringDoorbells() {
        for channel in 0..<count where !owners[channel].stopped {
            let produced = storage![channel].counters.completions
            if produced != owners[channel].completionsRung {
                owners[channel].completionsRung = produced
                Doorbell.ring(cpu: owners[channel].cpu)
            }
        }
    }

    /// `channel`'s counters (for the metrics endpoint).
    static func counters(channel: Int) -> ChannelCounters { storage![channel].counters }

    /// Whether `channel` exists and its program still runs.
    static func isServing(channel: Int) -> Bool {
        channel >= 0 && channel < count && !owners[channel].stopped && storage![channel].violation == nil
    }

    /// Pushes a network-core event into `channel`'s completion ring; false when it is full.
    static func notify(channel: Int, _ completion: ChannelCompletion) -> Bool {
        guard isServing(channel: channel) else { return false }
        return storage![channel].notify(completion)
    }

    /// Fills one of `channel`'s posted buffers with stream bytes (see `ServerChannel.deliverStream`).
    static func deliverStream(channel: Int, connection: UInt16, read: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        guard isServing(channel: channel) else { return 0 }
        return storage![channel].deliverStream(connection: connection, read: read)
    }

    /// A channel whose ring indices were corrupted is stopped by the server for good; its
    /// program is stopped too (one IPI, once), and its ports are released.
    private static func stopProgramsThatBrokeTheProtocol(now: UInt64) {
        // One relaxed load per pass when nothing has ended; the exchange takes the bits with
        // acquire, pairing with the release in `ownerEnded`.
        if endedChannels.load(ordering: .relaxed) != 0 {
            let ended = endedChannels.exchange(0, ordering: .acquiring)
            for channel in 0..<count where ended & (1 << UInt64(channel)) != 0 {
                owners[channel].stopped = true
                var handler = StackRequestHandler(now: 0)
                storage![channel].unbindAll(handler: &handler)
                TCPService.ownerGone(channel, now: now)
            }
        }
        for channel in 0..<count where owners[channel].stopped == false && storage![channel].violation != nil {
            owners[channel].stopped = true
            var handler = StackRequestHandler(now: 0)
            storage![channel].unbindAll(handler: &handler)
            TCPService.ownerGone(channel, now: now)
            let block = CPU.blockPointer(owners[channel].cpu)
            LocalAPIC.send(.init(vector: UInt8(InterruptVector.stopProgram), deliveryMode: .fixed, destination: block.pointee.apicID))
        }
    }

    /// Hands a datagram for a bound port to its channel, then rings the program's doorbell if
    /// it is asleep in the `wait` system call.
    static func deliver(_ delivery: DatagramDelivery) {
        guard server != nil, let payload = delivery.payload.baseAddress else { return }
        let channel = delivery.listener >> 8
        let socket = UInt16(truncatingIfNeeded: delivery.listener & 0xFF)
        // The doorbell rings at the end of the pass (`ringDoorbells`).
        _ = server!.deliver(payload: UnsafeRawBufferPointer(start: payload, count: delivery.payload.count),
                            from: (delivery.source.rawValue, delivery.sourcePort), channel: channel, socket: socket)
    }

    /// The listener number the stack keeps for (channel, socket).
    static func listener(channel: Int, socket: UInt16) -> Int { channel << 8 | Int(socket) }
}

/// The stack as the channel server needs it: ports bound for channels, datagrams sent from them,
/// and TCP listeners and connections (through `TCPService`).
/// It works on the network core's stack and transmit path directly (the channel server it is
/// called from is separate state, so the accesses never overlap).
struct StackRequestHandler: ChannelRequestHandler {
    let now: UInt64

    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError> {
        NetworkCore.stack!.bind(port: port, listener: ProgramChannels.listener(channel: channel, socket: socket))
            ? .success(()) : .failure(.portInUse)
    }

    mutating func unbind(port: UInt16, channel: Int, socket: UInt16) {
        if NetworkCore.stack!.listener(of: port) == ProgramChannels.listener(channel: channel, socket: socket) {
            NetworkCore.stack!.unbind(port: port)
        }
    }

    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError> {
        switch NetworkCore.stack!.sendDatagram(from: sourcePort, to: IPv4Address(rawValue: destination.address),
                                               port: destination.port, payload: payload, now: now,
                                               transmitter: &NetworkCore.device!.transmit) {
        case .sent, .queued: .success(())
        case .datagramTooLarge: .failure(.datagramTooLarge)
        case .noRoute: .failure(.noRoute)
        case .queueFull, .transmitRingFull: .failure(.throttled)
        }
    }

    mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        TCPService.listen(port: port, channel: channel)
    }

    mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                          cookie: UInt64) -> Result<Void, ChannelError> {
        TCPService.connect(to: destination, channel: channel, cookie: cookie, now: now)
    }

    func ownsConnection(_ connection: UInt16, channel: Int) -> Bool {
        TCPService.owns(connection, channel: channel)
    }

    mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer) -> Result<Int, ChannelError> {
        TCPService.write(connection, bytes: bytes, now: now)
    }

    mutating func streamShutdown(connection: UInt16, channel: Int) {
        TCPService.shutdown(connection, now: now)
    }

    mutating func streamRelease(connection: UInt16, channel: Int) {
        TCPService.release(connection, now: now)
    }
}

/// Waking a program that sleeps in `wait`: the one interrupt an application CPU takes, and only
/// when it has asked for it by going to sleep.
enum Doorbell {
    /// Sends the wake-up IPI if CPU `cpu` sleeps in `wait`. The sleeper stores `sleeping`
    /// and then re-checks its word; we pushed the completion and then load `sleeping`. Both
    /// sides put a sequentially consistent fence between their store and their load (x86 may
    /// reorder a store with a later load), so at least one of them sees the other: either the
    /// sleeper sees the new completion and does not sleep, or we see it asleep and wake it.
    static func ring(cpu: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let block = CPU.blockPointer(cpu)
        if block.pointee.sleeping.load(ordering: .relaxed) != 0 {
            block.pointee.sleeping.store(0, ordering: .relaxed)
            LocalAPIC.sendWakeUp(to: block.pointee.apicID)
        }
    }
}
