/// Watches a virtio-net device's link status and DEVICE_NEEDS_RESET over time, turning readings into events and counts.

/// What the network core learns by reading, now and then, the link bit of virtio-net's
/// `status` (virtio 1.2 §5.1.4: VIRTIO_NET_S_LINK_UP, with VIRTIO_NET_F_STATUS) and the
/// device status's DEVICE_NEEDS_RESET bit (§2.1.1: "the device has experienced an error from
/// which it can't recover"; QEMU sets it on a ring the driver broke, e.g. a descriptor index
/// out of range). A reading produces at most one event; the counts are the watch's record.
///
/// Plain integers: one network core reads the device and owns the watch; readers on other
/// CPUs (the metrics page) may see a count one reading late, never a torn one (aligned 64-bit
/// stores on x86-64).
public struct DeviceHealthWatch: Sendable {
    /// What a reading changed.
    public enum Event: Equatable, Sendable {
        /// The link went down.
        case linkDown
        /// The link came back after `downNanoseconds`.
        case linkUp(downNanoseconds: UInt64)
        /// The device set DEVICE_NEEDS_RESET (reported once until `resetDone`).
        case needsReset
    }

    /// The link state as last read.
    public private(set) var linkUp: Bool
    /// When the link went down, while it is down.
    public private(set) var linkDownSince: UInt64?
    /// Times the link went down and came back up.
    public private(set) var linkDowns: UInt64 = 0
    public private(set) var linkUps: UInt64 = 0
    /// Times the device asked for a reset, and resets done.
    public private(set) var resetsNeeded: UInt64 = 0
    public private(set) var resetsDone: UInt64 = 0
    /// Whether a needed reset has been reported and not yet done.
    public private(set) var resetPending = false

    /// A watch of a device whose link was `linkUp` when it started.
    public init(linkUp: Bool, now: UInt64) {
        self.linkUp = linkUp
        if !linkUp { linkDownSince = now }
    }

    /// Takes one reading. DEVICE_NEEDS_RESET wins over a link change in the same reading: a
    /// device that needs a reset says nothing reliable about its link.
    public mutating func observe(now: UInt64, linkUp newLinkUp: Bool, status: DeviceStatus) -> Event? {
        if status.contains(.deviceNeedsReset) {
            guard !resetPending else { return nil }
            resetPending = true
            resetsNeeded &+= 1
            return .needsReset
        }
        guard newLinkUp != linkUp else { return nil }
        linkUp = newLinkUp
        if newLinkUp {
            linkUps &+= 1
            let since = linkDownSince ?? now
            linkDownSince = nil
            return .linkUp(downNanoseconds: now &- since)
        }
        linkDowns &+= 1
        linkDownSince = now
        return .linkDown
    }

    /// The device was reset and set up again, with its link `linkUp`.
    public mutating func resetDone(now: UInt64, linkUp newLinkUp: Bool) {
        resetPending = false
        resetsDone &+= 1
        if newLinkUp != linkUp { _ = observe(now: now, linkUp: newLinkUp, status: []) }
    }
}
