/// The NIC's health, read every 10 ms by the first network context: link up or down (set_link), and DEVICE_NEEDS_RESET.
import Virtio

/// Reads virtio-net's link bit (virtio 1.2 §5.1.4, with VIRTIO_NET_F_STATUS) and the device
/// status (§2.1) at most every `interval`, logs each change and keeps the counts
/// (`DeviceHealthWatch`) that `/metrics` shows. Polling, like everything the network core
/// does: the configuration-change interrupt stays off. Two MMIO reads per 10 ms cost nothing
/// measurable, and a link change is seen within 10 ms.
///
/// A link that goes down costs nothing else: frames sent meanwhile are dropped by the device,
/// and TCP retransmits them once it is back (a 2 s outage is survived by every connection).
/// A device that sets DEVICE_NEEDS_RESET is logged and counted; the network core cannot
/// rebuild its queues under running contexts, so networking stops there (see the README).
struct NICWatch {
    let transport: MemoryMappedVirtioTransport
    /// Whether VIRTIO_NET_F_STATUS was negotiated: without it the link is always up (§5.1.4.2).
    let readsLink: Bool
    /// The record of readings.
    private(set) var health: DeviceHealthWatch
    private var nextReading: UInt64
    static let interval: UInt64 = 10_000_000

    init(device: VirtioNetDevice, now: UInt64) {
        transport = device.transport
        readsLink = device.features.contains(.status)
        health = DeviceHealthWatch(linkUp: device.linkUp, now: now)
        nextReading = now
    }

    /// Reads the device if `interval` has passed, and logs what changed.
    mutating func check(now: UInt64) {
        guard now >= nextReading else { return }
        nextReading = now &+ Self.interval
        let status = DeviceStatus(rawValue: transport.read8(.deviceStatus))
        let linkUp = !readsLink || VirtioNetConfiguration.NetStatus(
            rawValue: transport.readDeviceConfiguration16(offset: VirtioNetConfiguration.Offset.status)).contains(.linkUp)
        switch health.observe(now: now, linkUp: linkUp, status: status) {
        case nil: break
        case .linkDown: Log.warning("net: link down (frames sent now are lost; TCP retransmits them when it is back)")
        case .linkUp(let down): Log.info("net: link up again after \(seconds: down) s")
        case .needsReset: Log.error("net: the NIC set DEVICE_NEEDS_RESET (status \(hex: status.rawValue, digits: 2)): it stopped working")
        }
    }
}
