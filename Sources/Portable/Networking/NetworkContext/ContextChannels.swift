/// A context's program channels: adding them, serving their requests, delivering datagrams, doorbells, and stopping programs.
import Channels
import Network
import RawBytes
import Synchronization
import TCP

/// What a context knows about one program's channel.
struct ChannelOwner {
    /// The CPU the program runs on: where its doorbell rings.
    var cpu: Int
    /// Whether the program ended or was stopped (then its channel is dead).
    var stopped = false
    /// The channel's completion count when its doorbell was last considered.
    var completionsRung: UInt64 = 0
}

/// A channel another CPU asked for (`queueChannel`), waiting for the context's next pass.
struct PendingChannel {
    var memory: ChannelMemory
    var privateMemory: UnsafeMutableRawPointer
    var cpu: Int
}

/// The channels' storage: the network side of each channel, and who owns it.
///
/// **Adding and reusing channels while serving.** Channel numbers are bits of `reserved`: a
/// CPU starting a program claims the lowest clear bit with a compare-and-swap (so two such
/// CPUs never get the same number), writes the channel into `pending[number]`, and sets the
/// number's bit in `pendingMask` with release. The context, on its own CPU, takes the mask with
/// acquire at the start of a pass (so it sees the pending entry whole) and only then puts the
/// channel into `storage`: the serving loops never see a half-built channel. The storage is a
/// dense prefix of `count` channels (the round-robin server walks it): a new number above the
/// prefix waits until the numbers below it have arrived. A channel whose program ended is
/// released and retired (nothing touches its memory again); the kernel then frees that memory
/// and clears its bit in `reserved` (`channelFreed`), and the number is reused.
struct ContextChannelState: ~Copyable {
    let storage = UnsafeMutablePointer<ServerChannel>.allocate(capacity: NetworkContextLimits.maximumChannels)
    let owners = UnsafeMutablePointer<ChannelOwner>.allocate(capacity: NetworkContextLimits.maximumChannels)
    let pending = UnsafeMutablePointer<PendingChannel?>.allocate(capacity: NetworkContextLimits.maximumChannels)
    /// Channel numbers in use or being set up (bit n: channel n).
    let reserved = Atomic<UInt64>(0)
    /// Channels written into `pending` and not yet taken by the context.
    let pendingMask = Atomic<UInt64>(0)
    /// Taken from `pendingMask` but waiting for the numbers below them (context only).
    var carried: UInt64 = 0
    /// Channels in `storage` (each initialized once it is below `count`).
    var count = 0
    /// Serves the channels round-robin; rebuilt when the dense prefix grows.
    var server: ChannelServer? = nil

    init() {
        pending.initialize(repeating: nil, count: NetworkContextLimits.maximumChannels)
        owners.initialize(repeating: ChannelOwner(cpu: 0, stopped: true), count: NetworkContextLimits.maximumChannels)
    }
}

extension NetworkContext {
    /// The number of program channels.
    public var channelCount: Int { channels.pointee.count }

    /// Adds a channel for a program on `cpu`, over `memory` (already `initialize`d, mapped into
    /// the program by the caller) and `privateMemory` (`memory.layout.serverPrivateByteCount`
    /// bytes the program never sees), at once. Returns the channel's number in this context, or
    /// nil when all numbers are in use. Only before the context starts serving, or on its own
    /// CPU between passes; other CPUs use `queueChannel`.
    public func addChannel(memory: ChannelMemory, privateMemory: UnsafeMutableRawPointer, cpu: Int) -> Int? {
        guard let number = queueChannel(memory: memory, privateMemory: privateMemory, cpu: cpu) else { return nil }
        takePendingChannels()
        return number
    }

    /// Asks for a channel for a program on `cpu` from any CPU, while the context serves: the
    /// number is the channel's from now on, and the context starts serving it at its next pass
    /// (requests the program makes before then wait in its ring). nil when all numbers are in use.
    public func queueChannel(memory: ChannelMemory, privateMemory: UnsafeMutableRawPointer, cpu: Int) -> Int? {
        var reserved = channels.pointee.reserved.load(ordering: .acquiring)
        var number = 0
        while true {
            guard reserved != UInt64.max else { return nil }
            number = (~reserved).trailingZeroBitCount
            guard number < NetworkContextLimits.maximumChannels else { return nil }
            let (exchanged, original) = channels.pointee.reserved.compareExchange(
                expected: reserved, desired: reserved | 1 << UInt64(number), ordering: .acquiringAndReleasing)
            if exchanged { break }
            reserved = original
        }
        channels.pointee.pending[number] = PendingChannel(memory: memory, privateMemory: privateMemory, cpu: cpu)
        // Release: the context's acquiring exchange of the mask sees the entry written above.
        channels.pointee.pendingMask.bitwiseOr(1 << UInt64(number), ordering: .releasing)
        return number
    }

    /// Puts the channels other CPUs asked for into service (start of a pass; one relaxed load
    /// when there are none).
    func takePendingChannels() {
        if channels.pointee.pendingMask.load(ordering: .relaxed) != 0 {
            channels.pointee.carried |= channels.pointee.pendingMask.exchange(0, ordering: .acquiring)
        }
        guard channels.pointee.carried != 0 else { return }
        var grew = false
        var progress = true
        while progress {
            progress = false
            var waiting = channels.pointee.carried
            while waiting != 0 {
                let number = waiting.trailingZeroBitCount
                waiting &= waiting - 1
                // A reused number is below the prefix; a new one must be the next in it.
                guard number <= channels.pointee.count, let entry = channels.pointee.pending[number] else { continue }
                let tap = host.channelTap
                let channel = ServerChannel(memory: entry.memory, privateMemory: entry.privateMemory, identifier: number, tap: tap)
                if var tap {
                    // The recording notes the channel and its layout; a replay checks them.
                    tap.channel = number
                    var words = entry.memory.layout.tapWords
                    withUnsafeMutableBytes(of: &words) { _ = tap.observe(.added, value: UInt64(entry.cpu), bytes: $0) }
                }
                if number == channels.pointee.count {
                    (channels.pointee.storage + number).initialize(to: channel)
                    channels.pointee.count += 1
                    grew = true
                } else {
                    channels.pointee.storage[number] = channel
                }
                channels.pointee.owners[number] = ChannelOwner(cpu: entry.cpu)
                channels.pointee.pending[number] = nil
                channels.pointee.carried &= ~(1 << UInt64(number))
                progress = true
            }
        }
        if grew || channels.pointee.server == nil {
            channels.pointee.server = ChannelServer(channels: UnsafeMutableBufferPointer(start: channels.pointee.storage,
                                                                                         count: channels.pointee.count))
        }
    }

    /// The kernel freed the memory of released channel `channel` (after `channelReleased`):
    /// its number may be used again. Any CPU.
    public func channelFreed(_ channel: Int) {
        guard channel >= 0 && channel < NetworkContextLimits.maximumChannels else { return }
        channels.pointee.reserved.bitwiseAnd(~(1 << UInt64(channel)), ordering: .releasing)
    }

    /// What channel `channel`'s program holds: UDP sockets and TCP listeners, and TCP
    /// connections. Read from another CPU (the shell's `ps`): plain loads of counts that may
    /// be a pass old.
    public func channelUsage(_ channel: Int) -> (sockets: Int, connections: Int) {
        guard channel >= 0, channel < channels.pointee.count, !channels.pointee.owners[channel].stopped else { return (0, 0) }
        let tcp = table.pointee.holdings(of: ConnectionOwner.program(channel: channel).rawValue)
        return (channels.pointee.storage[channel].boundSocketCount + tcp.listeners, tcp.connections)
    }

    /// Called on the program's CPU when it exits or is stopped: the context frees its ports,
    /// resets its connections and stops serving its channel on its next pass.
    public func programEnded(channel: Int) {
        endedChannels.pointee.bitwiseOr(1 << UInt64(channel), ordering: .releasing)
    }

    /// `channel`'s counters.
    public func channelCounters(_ channel: Int) -> ChannelCounters { channels.pointee.storage[channel].counters }

    /// Whether `channel` exists and its program is still served.
    public func isServing(channel: Int) -> Bool {
        channel >= 0 && channel < channels.pointee.count && !channels.pointee.owners[channel].stopped
            && channels.pointee.storage[channel].violation == nil
    }

    /// Serves every channel's requests (bounded per channel per pass: a flooding program cannot
    /// starve the others), then feeds queued stream sends to their connections, then stops the
    /// programs that ended or broke the protocol. Returns how many requests were taken.
    func serveChannels(now: UInt64) -> Int {
        guard channels.pointee.server != nil else { return 0 }
        var handler = ContextRequestHandler(context: self, now: now)
        let served = channels.pointee.server!.poll(handler: &handler)
        for channel in 0..<channels.pointee.count where !channels.pointee.owners[channel].stopped {
            channels.pointee.storage[channel].pumpStreams(handler: &handler)
        }
        stopEndedPrograms(now: now)
        return served
    }

    /// Before the network core halts: tells each served channel's program that the core
    /// sleeps (sleep number `sleep`, never 0, a new one each time: a program kicks once per
    /// number), then looks again at every request ring and at channels other CPUs asked for.
    /// False when something came meanwhile: the announcement is withdrawn and the core must
    /// not halt. The order, announce, fence, look, is one half of the lost-wake-up argument in
    /// `ConsumerSleep.swift`. Costs a store and a load per channel, only when idle.
    public func announceSleep(_ sleep: UInt32) -> Bool {
        let count = channels.pointee.count
        for channel in 0..<count where !channels.pointee.owners[channel].stopped {
            channels.pointee.storage[channel].announceSleep(sleep)
        }
        fenceAfterAnnouncingSleep()
        var quiet = channels.pointee.pendingMask.load(ordering: .relaxed) == 0
        for channel in 0..<count where quiet && !channels.pointee.owners[channel].stopped {
            quiet = !channels.pointee.storage[channel].hasUntakenRequest
        }
        if !quiet { announceAwake() }
        return quiet
    }

    /// After the halt (or a withdrawn `announceSleep`): the network core is awake, so the
    /// programs' next requests need no kick.
    public func announceAwake() {
        for channel in 0..<channels.pointee.count where !channels.pointee.owners[channel].stopped {
            channels.pointee.storage[channel].announceSleep(0)
        }
    }

    /// Rings the doorbell of every program whose completion ring got something since the last
    /// pass (datagrams, stream bytes, returned buffers, connection events): once per pass and
    /// channel; the host sends an IPI only to a program asleep in `wait`.
    func ringDoorbells() {
        for channel in 0..<channels.pointee.count where !channels.pointee.owners[channel].stopped {
            let produced = channels.pointee.storage[channel].counters.completions
            if produced != channels.pointee.owners[channel].completionsRung {
                channels.pointee.owners[channel].completionsRung = produced
                host.ringDoorbell(cpu: channels.pointee.owners[channel].cpu, channel: channel)
            }
        }
    }

    /// Pushes an event into `channel`'s completion ring; false when it is full (retry later).
    func notify(channel: Int, _ completion: ChannelCompletion) -> Bool {
        guard isServing(channel: channel) else { return false }
        return channels.pointee.storage[channel].notify(completion)
    }

    /// Fills one of `channel`'s posted buffers with stream bytes (see `ServerChannel.deliverStream`).
    func deliverStream(channel: Int, connection: UInt16, read: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        guard isServing(channel: channel) else { return 0 }
        return channels.pointee.storage[channel].deliverStream(connection: connection, read: read)
    }

    /// Hands a datagram for a bound port to its channel's socket (the doorbell rings at the end
    /// of the pass). A full ring or no posted buffer drops it, counted by the channel.
    func deliver(_ datagram: DatagramDelivery, channel: Int, socket: UInt16) {
        guard isServing(channel: channel), let payload = datagram.payload.baseAddress else { return }
        _ = channels.pointee.storage[channel].deliver(
            payload: UnsafeRawBufferPointer(start: payload, count: datagram.payload.count),
            from: (datagram.source.rawValue, datagram.sourcePort), to: socket)
    }

    /// Programs that ended (told by `programEnded`) and channels whose rings a program
    /// corrupted: their ports are released and their connections reset; a program that broke
    /// the protocol is also stopped (once).
    func stopEndedPrograms(now: UInt64) {
        // One relaxed load per pass when nothing has ended; the exchange takes the bits with
        // acquire, pairing with the release in `programEnded`.
        if endedChannels.pointee.load(ordering: .relaxed) != 0 {
            var ended = endedChannels.pointee.exchange(0, ordering: .acquiring)
            if let tap = host.channelTap { ended = tap.observe(.ended, value: ended) }
            for channel in 0..<channels.pointee.count where ended & (1 << UInt64(channel)) != 0 {
                release(channel: channel, now: now)
            }
        }
        for channel in 0..<channels.pointee.count
            where !channels.pointee.owners[channel].stopped && channels.pointee.storage[channel].violation != nil {
            release(channel: channel, now: now)
            host.stopProgram(cpu: channels.pointee.owners[channel].cpu, channel: channel)
        }
    }

    private func release(channel: Int, now: UInt64) {
        guard !channels.pointee.owners[channel].stopped else { return }
        channels.pointee.owners[channel].stopped = true
        var handler = ContextRequestHandler(context: self, now: now)
        channels.pointee.storage[channel].unbindAll(handler: &handler)
        ownerGone(.program(channel: channel), now: now)
        // Its TCP listeners went with `ownerGone`: the directory must stop sending their flows here.
        if mesh.pointee.contextCount > 1 { reconcileDirectory() }
        // Nothing reads the channel's memory from here on (its lent send buffers went with its
        // connections): the kernel may free it once the program is off its CPU.
        channels.pointee.storage[channel].retire()
        host.channelReleased(channel: channel, counters: channels.pointee.storage[channel].counters)
    }
}
