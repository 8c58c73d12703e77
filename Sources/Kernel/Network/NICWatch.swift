/// The NIC's health, read every 10 ms by the first network context: link up or down (set_link), and DEVICE_NEEDS_RESET, recovered by a reset.
import NetworkContext
import NetworkRecording
import Synchronization
import Virtio

/// Reads virtio-net's link bit (virtio 1.2 §5.1.4, with VIRTIO_NET_F_STATUS) and the device
/// status (§2.1) at most every `interval`, logs each change and keeps the counts
/// (`DeviceHealthWatch`) that `/metrics` shows. Polling, like everything the network core
/// does: the configuration-change interrupt stays off. Two MMIO reads per 10 ms cost nothing
/// measurable, and a link change is seen within 10 ms.
///
/// A link that goes down costs nothing else: frames sent meanwhile are dropped by the device,
/// and TCP retransmits them once it is back (a 2 s outage is survived by every connection).
/// A device that sets DEVICE_NEEDS_RESET is logged, counted, and reset: the same features,
/// its queue pair set up anew in the same memory (`VirtioNetReset`); frames in flight are
/// lost and TCP retransmits them. Only with one queue pair: several pairs belong to contexts
/// on other CPUs, which cannot be stopped under them, so there the device stays stopped (logged).
struct NICWatch {
    let transport: MemoryMappedVirtioTransport
    /// The features negotiated at boot: a reset asks for exactly these again.
    let features: FeatureSet
    /// Whether VIRTIO_NET_F_STATUS was negotiated: without it the link is always up (§5.1.4.2).
    let readsLink: Bool
    /// The record of readings.
    private(set) var health: DeviceHealthWatch
    private var nextReading: UInt64
    static let interval: UInt64 = 10_000_000

    init(device: VirtioNetDevice, now: UInt64) {
        transport = device.transport
        features = device.features
        readsLink = device.features.contains(.status)
        health = DeviceHealthWatch(linkUp: device.linkUp, now: now)
        nextReading = now
    }

    /// Fault injections asked for by the shell's `fault nic` (relaxed: a request, not a
    /// publication; the context that owns the NIC acts on a new value).
    static let faultRequests = Atomic<UInt64>(0)
    private var faultsSeen: UInt64 = 0

    /// Reads the device if `interval` has passed, logs what changed, and resets a device that
    /// needs it. `context` is the context that owns queue pair 0, on whose CPU this runs.
    mutating func check(now: UInt64, context: KernelNetworkContext, contextCount: Int) {
        let faults = Self.faultRequests.load(ordering: .relaxed)
        if faults != faultsSeen {
            faultsSeen = faults
            Log.warning("net: fault injection: breaking the transmit ring's protocol (the shell's fault nic)")
            context.withQueuePair { _, transmit in transmit.inner.breakRingForFaultInjection() }
        }
        guard now >= nextReading else { return }
        nextReading = now &+ Self.interval
        let status = DeviceStatus(rawValue: transport.read8(.deviceStatus))
        switch health.observe(now: now, linkUp: readLink(), status: status) {
        case nil: break
        case .linkDown: Log.warning("net: link down (frames sent now are lost; TCP retransmits them when it is back)")
        case .linkUp(let down): Log.info("net: link up again after \(seconds: down) s")
        case .needsReset:
            Log.error("net: the NIC set DEVICE_NEEDS_RESET (status \(hex: status.rawValue, digits: 2)): it stopped working")
            reset(now: now, context: context, contextCount: contextCount)
        }
    }

    /// Whether the link is up: VIRTIO_NET_S_LINK_UP of the device's `status` (§5.1.4), or
    /// always without VIRTIO_NET_F_STATUS.
    private func readLink() -> Bool {
        !readsLink || VirtioNetConfiguration.NetStatus(
            rawValue: transport.readDeviceConfiguration16(offset: VirtioNetConfiguration.Offset.status)).contains(.linkUp)
    }

    /// Resets the device and sets its queue pair up again, when it has only one.
    private mutating func reset(now: UInt64, context: KernelNetworkContext, contextCount: Int) {
        guard contextCount == 1 else {
            Log.error("net: not reset: \(contextCount) queue pairs are served by contexts on other CPUs; networking has stopped")
            return
        }
        let failure = context.withQueuePair { receive, transmit -> VirtioError? in
            do throws(VirtioError) {
                try VirtioNetReset.recover(transport: transport, features: features, receive: &receive.inner, transmit: &transmit.inner)
                return nil
            } catch {
                return error
            }
        }
        if failure != nil {
            Log.error("net: the NIC could not be set up again after its reset; networking has stopped")
            return
        }
        health.resetDone(now: now, linkUp: readLink())
        Log.info("net: NIC reset and set up again in \(seconds: MonotonicClock.nanosecondsSinceBoot &- now) s (frames in flight lost; TCP retransmits them)")
    }
}
