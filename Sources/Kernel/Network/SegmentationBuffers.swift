/// Large transmit buffers for TCP segmentation offload: a few frames of up to 64 KiB per queue pair, beside the ring's 2 KiB buffers.
import Paging

/// Buffers for segments the NIC cuts (VIRTIO_NET_F_HOST_TSO4), a `PacketBufferPool` of larger
/// buffers: each holds the 12-byte virtio-net header and an Ethernet frame carrying an IPv4
/// datagram of up to 65,535 bytes. Few of them: a sender that finds none free sends MSS-sized
/// segments through the ordinary buffers instead (`TransmitPath.largestSegmentedFrame`).
enum SegmentationBuffers {
    /// 17 pages: the header, 14 bytes of Ethernet and 65,535 of IPv4 fit (65,561 bytes).
    static let bufferBytes = 17 * Page.size
    /// Buffers per queue pair: enough for a window of 64 KiB segments in flight while the device
    /// sends them (about 1.1 MiB each way of a pair, with the 2 KiB ring buffers).
    static let count = 16

    /// A queue pair's segmentation buffers, nil without the memory.
    static func make() -> PacketBufferPool? { PacketBufferPool(count: count, bufferBytes: bufferBytes) }
}
