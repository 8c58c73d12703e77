/// What a network context needs from the machine: a NIC queue pair's two halves and a host (doorbells, stops, meters).
import Channels
import RawBytes
import Network

/// The receive half of a NIC queue pair as a context drives it.
/// Generic, not existential: the driver's code inlines into the context's loop.
public protocol FrameReceiver {
    /// Hands up to `limit` received frames (Ethernet, without FCS or device headers) to `body`,
    /// one at a time with what the device said about its transport checksum, and gives each
    /// buffer back to the device after `body` returns. Returns how many frames there were.
    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Int
    /// Whether the device can interrupt the CPU that runs this receiver when a frame arrives
    /// (its interrupt is routed there): what `armArrivalInterrupt` needs.
    var interruptsOnArrival: Bool { get }
    /// Asks the device to interrupt when the next frame arrives, for a network core about to
    /// halt (`net-idle=interrupt`). False, and nothing asked, when a frame already waits or
    /// the device cannot interrupt: then the caller must not count on being woken by one.
    mutating func armArrivalInterrupt() -> Bool
    /// Stops the interrupts `armArrivalInterrupt` asked for (the core polls again).
    mutating func disarmArrivalInterrupt()
}

extension FrameReceiver {
    /// A receiver without interrupts (a test's, a replay's): never armed.
    public var interruptsOnArrival: Bool { false }
    public mutating func armArrivalInterrupt() -> Bool { false }
    public mutating func disarmArrivalInterrupt() {}
}

/// The transmit half of a NIC queue pair: the stack's `FrameTransmitter`, plus the once-per-pass
/// kick that shows queued frames to the device (one notification for many frames).
public protocol FrameSender: FrameTransmitter {
    /// Makes every frame handed over since the last flush visible to the device.
    mutating func flush()
}

/// What a context asks of the kernel it runs in. Everything here is about other CPUs or about
/// the whole machine, which a context neither owns nor may touch directly.
public protocol NetworkContextHost {
    /// Wakes the program on `cpu` if it sleeps waiting for its channel (an IPI in the kernel;
    /// nothing when it is awake or spinning).
    func ringDoorbell(cpu: Int, channel: Int)
    /// Stops the program of channel `channel` (on `cpu`): it broke its channel's protocol,
    /// so its channel is dead.
    func stopProgram(cpu: Int, channel: Int)
    /// Channel `channel` was released (its program ended or broke the protocol) and retired:
    /// the context no longer touches its memory. The kernel frees it once the program is off
    /// its CPU too, then calls `channelFreed`. `counters` are the channel's final counts, for
    /// the record: what the network core saw of the program, not what the program says.
    func channelReleased(channel: Int, counters: ChannelCounters)
    /// Writes the intrusion meter as text into `buffer`; returns the length.
    func writeMeter(into buffer: UnsafeMutableRawBufferPointer) -> Int
    /// Renders `/metrics` (Prometheus text) into `buffer`; returns the length, or nil when it
    /// did not fit (the endpoint answers 500).
    func renderMetrics(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// What sees the context's reads of program channels (`ChannelTap`): the recorder with
    /// `record=on`, the replayer on the host; nil (the default) otherwise.
    var channelTap: ChannelTap? { get }
}

extension NetworkContextHost {
    public var channelTap: ChannelTap? { nil }
}
