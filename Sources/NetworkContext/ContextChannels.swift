/// A context's program channels: adding them, serving their requests, delivering datagrams, doorbells, and stopping programs.
import Channels
import Network
import RawBytes
import Synchronization

/// What a context knows about one program's channel.
struct ChannelOwner {
    /// The CPU the program runs on: where its doorbell rings.
    var cpu: Int
    /// Whether the program ended or was stopped (then its channel is dead).
    var stopped = false
    /// The channel's completion count when its doorbell was last considered.
    var completionsRung: UInt64 = 0
}

/// The channels' storage: the network side of each channel, and who owns it.
struct ContextChannelState {
    let storage = UnsafeMutablePointer<ServerChannel>.allocate(capacity: NetworkContextLimits.maximumChannels)
    var owners = InlineArray<8, ChannelOwner>(repeating: ChannelOwner(cpu: 0))
    var count = 0
    /// Serves the channels round-robin; rebuilt when a channel is added (at boot).
    var server: ChannelServer? = nil

    init() {
        precondition(NetworkContextLimits.maximumChannels == 8, "owners has room for 8 channels")
    }
}

extension NetworkContext {
    /// The number of program channels.
    public var channelCount: Int { channels.pointee.count }

    /// Adds a channel for a program on `cpu`, over `memory` (already `initialize`d, mapped into
    /// the program by the caller) and `privateMemory` (`memory.layout.serverPrivateByteCount`
    /// bytes the program never sees). Returns the channel's number in this context, or nil when
    /// the context has no room. Call before the context starts serving.
    public func addChannel(memory: ChannelMemory, privateMemory: UnsafeMutableRawPointer, cpu: Int) -> Int? {
        let count = channels.pointee.count
        guard count < NetworkContextLimits.maximumChannels else { return nil }
        (channels.pointee.storage + count).initialize(to: ServerChannel(memory: memory, privateMemory: privateMemory,
                                                                        identifier: count))
        channels.pointee.owners[count] = ChannelOwner(cpu: cpu)
        channels.pointee.count = count + 1
        channels.pointee.server = ChannelServer(channels: UnsafeMutableBufferPointer(start: channels.pointee.storage,
                                                                                     count: count + 1))
        return count
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

    /// Rings the doorbell of every program whose completion ring got something since the last
    /// pass (datagrams, stream bytes, returned buffers, connection events): once per pass and
    /// channel; the host sends an IPI only to a program asleep in `wait`.
    func ringDoorbells() {
        for channel in 0..<channels.pointee.count where !channels.pointee.owners[channel].stopped {
            let produced = channels.pointee.storage[channel].counters.completions
            if produced != channels.pointee.owners[channel].completionsRung {
                channels.pointee.owners[channel].completionsRung = produced
                host.ringDoorbell(cpu: channels.pointee.owners[channel].cpu)
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
            let ended = endedChannels.pointee.exchange(0, ordering: .acquiring)
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
        if mesh.contextCount > 1 { reconcileDirectory() }
    }
}
