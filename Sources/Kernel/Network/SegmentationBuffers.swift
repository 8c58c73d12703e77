/// Large transmit buffers for TCP segmentation offload: a few frames of up to 64 KiB per queue pair, beside the ring's 2 KiB buffers.
import Paging

/// Buffers for segments the NIC cuts (VIRTIO_NET_F_HOST_TSO4), in one physically contiguous
/// block: each holds the 12-byte virtio-net header and an Ethernet frame carrying an IPv4
/// datagram of up to 65,535 bytes. Few of them: a sender that finds none free sends MSS-sized
/// segments through the ordinary buffers instead (`TransmitPath.largestSegmentedFrame`).
struct SegmentationBuffers {
    /// 17 pages: the header, 14 bytes of Ethernet and 65,535 of IPv4 fit (65,561 bytes).
    static let bufferBytes = 17 * Page.size
    /// Buffers per queue pair: enough for a window of 64 KiB segments in flight while the device
    /// sends them (about 1.1 MiB each way of a pair, with the 2 KiB ring buffers).
    static let count = 16
    let base: PhysicalAddress

    init?() {
        guard let base = PhysicalMemory.allocate(count: Page.count(covering: Self.count * Self.bufferBytes)) else { return nil }
        self.base = base
    }

    func address(_ index: Int) -> PhysicalAddress { base + index * Self.bufferBytes }
    func pointer(_ index: Int) -> UnsafeMutableRawPointer { (base + index * Self.bufferBytes).pointer }
}
