/// Serves every channel of the network core in turn, a bounded number of requests each per pass.

/// The network core's set of channels, served round-robin with a per-channel budget.
///
/// Throttling: one `poll` pass takes at most `budgetPerChannel` requests from each channel.
/// A program that floods its request ring therefore gets the same share of a pass as a
/// quiet one gets if it needs it, and its extra requests simply wait in its own ring (the
/// ring fills, and its library reports `wouldBlock`): it slows itself down, not the others.
/// Each pass also starts one channel later than the previous one, so that when a resource
/// shared by all channels runs out mid-pass (the NIC's transmit ring: `throttled` errors),
/// it is not always the same channel that finds it empty. A pass that stops a channel at its
/// budget counts `throttledPasses` for it.
///
/// The channels live in memory the kernel supplies (no allocation here); keep exactly one
/// server per set of channels.
public struct ChannelServer {
    /// The channels, indexed by `ServerChannel.identifier` by convention.
    public let channels: UnsafeMutableBufferPointer<ServerChannel>
    /// Requests one pass takes from a channel at most.
    public let budgetPerChannel: Int
    /// The channel the next pass starts with.
    private var nextStart = 0

    /// A server for `channels`, taking at most `budgetPerChannel` requests per channel per pass.
    public init(channels: UnsafeMutableBufferPointer<ServerChannel>, budgetPerChannel: Int = 32) {
        precondition(budgetPerChannel >= 1, "a channel must get at least one request per pass")
        self.channels = channels
        self.budgetPerChannel = budgetPerChannel
    }

    /// One pass over every channel; returns the number of requests taken.
    public mutating func poll<Handler: ChannelRequestHandler>(handler: inout Handler) -> Int {
        let count = channels.count
        guard count > 0 else { return 0 }
        var served = 0
        var step = 0
        while step < count {
            let index = (nextStart + step) % count
            served += channels[index].serveRequests(budget: budgetPerChannel, handler: &handler)
            step += 1
        }
        nextStart = (nextStart + 1) % count
        return served
    }

    /// Delivers a received datagram to `socket` of channel `channel` (see `ServerChannel.deliver`).
    public mutating func deliver(payload: UnsafeRawBufferPointer, from source: (address: UInt32, port: UInt16),
                                 channel: Int, socket: UInt16) -> DeliveryOutcome {
        precondition(channel >= 0 && channel < channels.count, "no such channel")
        return channels[channel].deliver(payload: payload, from: source, to: socket)
    }
}
