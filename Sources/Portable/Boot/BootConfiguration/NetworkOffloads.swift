/// The virtio-net offloads the driver may negotiate, as the `offload=` boot option names them.

/// A set of NIC offloads: the driver asks the device for each one here and uses what the device
/// grants (virtio 1.2 §5.1.3, §5.1.6.2, §5.1.6.4, §2.7.7, §2.7.10). Turning one off lets an
/// experiment compare.
public struct NetworkOffloads: OptionSet, Equatable, Sendable {
    /// The bits `rawValue`.
    public var rawValue: UInt8
    /// The offloads `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `csum`: the device finishes the TCP and UDP checksums of sent frames (VIRTIO_NET_F_CSUM).
    public static let transmitChecksum = NetworkOffloads(rawValue: 1)
    /// `guest-csum`: the device vouches for received checksums, which the stack then does not
    /// sum again (VIRTIO_NET_F_GUEST_CSUM).
    public static let receiveChecksum = NetworkOffloads(rawValue: 2)
    /// `tso4`: TCP hands the NIC segments of up to 64 KiB, which it cuts into MSS-sized ones
    /// (VIRTIO_NET_F_HOST_TSO4; needs `csum`, virtio 1.2 §5.1.3.1).
    public static let transmitSegmentation = NetworkOffloads(rawValue: 4)
    /// `guest-tso4`: the device may merge received TCP segments into one frame of up to 64 KiB,
    /// spread over several receive buffers (VIRTIO_NET_F_GUEST_TSO4 with MRG_RXBUF; needs
    /// `guest-csum`; one network context only: frames handed between contexts fit 1.5 KiB).
    public static let receiveSegmentation = NetworkOffloads(rawValue: 8)
    /// `event-idx`: the device says after which ring index it next wants a notification
    /// (avail_event) and the driver after which it wants an interrupt (used_event), instead of
    /// the on/off ring flags, so fewer doorbell writes and interrupts are needed for the same
    /// frames (VIRTIO_F_EVENT_IDX, virtio 1.2 §2.7.7, §2.7.10).
    public static let eventIndex = NetworkOffloads(rawValue: 16)

    /// Every offload, each with its name in `offload=`, in the order the boot log lists them.
    public static let named: [(offload: NetworkOffloads, name: StaticString)] = [
        (.transmitChecksum, "csum"), (.receiveChecksum, "guest-csum"), (.transmitSegmentation, "tso4"),
        (.receiveSegmentation, "guest-tso4"), (.eventIndex, "event-idx"),
    ]
    /// Every offload this kernel implements: the default.
    public static let all: NetworkOffloads = [.transmitChecksum, .receiveChecksum, .transmitSegmentation, .receiveSegmentation,
                                              .eventIndex]
}
