/// The driver side of virtio-rng, the entropy device: one request queue of buffers the device fills with random bytes.
import Paging

/// virtio 1.2 §5.4 ("Entropy Device"): device ID 4, no feature bits of its own (§5.4.3), no
/// device configuration (§5.4.4), one virtqueue, `requestq` (§5.4.2). The driver places
/// device-writable buffers on it; the device fills each with up to its length of random bytes
/// and returns it with the number written (§5.4.6). QEMU's `virtio-rng-pci` reads them from
/// the host's /dev/urandom (its default backend).
///
/// Entropy is wanted a few times while the kernel boots (TCP's secret keys), so requests are
/// made one at a time and waited for by polling: no interrupt, no second buffer.
public struct VirtioEntropy<Transport: VirtioTransport> {
    /// The PCI device IDs (virtio 1.2 §4.1.2.1): 0x1005 is the transitional device (QEMU's
    /// default), 0x1040 + 4 the modern-only one.
    public static var transitionalDeviceID: UInt16 { 0x1005 }
    public static var modernDeviceID: UInt16 { 0x1044 }
    /// The index of `requestq` (§5.4.2).
    public static var requestQueueIndex: UInt16 { 0 }
    /// The ring size used: one request is outstanding at a time, so a few entries suffice.
    public static var queueSize: UInt16 { 8 }

    var queue: SplitVirtqueue
    let transport: Transport
    let notifyOffset: UInt16

    /// Initializes the device behind `initializer` (virtio 1.2 §3.1.1: VERSION_1 only), sets up
    /// `requestq` in the memory `allocate` gives for the ring's byte count (host pointer and
    /// physical address; nil when there is none), and sets DRIVER_OK. A failed step marks the
    /// device FAILED and throws.
    public init(initializer: VirtioDeviceInitializer<Transport>,
                allocate: (Int) -> (memory: UnsafeMutableRawPointer, physicalAddress: PhysicalAddress)?) throws(VirtioError) {
        _ = try initializer.initialize(wanted: .version1, required: .version1)
        let index = Self.requestQueueIndex
        do throws(VirtioError) {
            let size = min(try initializer.maximumQueueSize(index: index), Self.queueSize)
            guard let area = allocate(SplitVirtqueue.byteCount(queueSize: size)) else { throw .queueUnavailable(index: index) }
            var queue = SplitVirtqueue(memory: area.memory, physicalAddress: area.physicalAddress, size: size)
            // We poll; the device need not interrupt (§2.7.7).
            queue.setInterruptsSuppressed(true)
            notifyOffset = try initializer.setUpQueue(index: index, addresses: queue.addresses)
            self.queue = queue
            transport = initializer.transport
            try initializer.finish()
        } catch {
            initializer.fail()
            throw error
        }
    }

    /// Asks the device to fill `length` bytes at `physicalAddress` and waits for the answer,
    /// calling `pause` between polls at most `pollLimit` times. Returns how many bytes the
    /// device wrote (it may write fewer than asked, §5.4.6.2), or nil when it did not answer:
    /// then the buffer still belongs to the device, which may write it at any later time, so
    /// the caller must never reuse it, nor this queue.
    public mutating func fill(physicalAddress: PhysicalAddress, length: UInt32, pollLimit: Int, pause: () -> Void) -> Int? {
        // §5.4.6.1: "The driver MUST NOT place driver-readable buffers into the queue."
        guard length > 0, let id = queue.add(buffer: physicalAddress, length: length, deviceWritable: true) else { return nil }
        if queue.publish() { transport.notify(queue: Self.requestQueueIndex, queueNotifyOffset: notifyOffset) }
        var polls = 0
        while polls < pollLimit {
            if let used = queue.takeUsed() {
                // Only our one buffer is ever outstanding; a device that names another id or
                // claims more than the buffer holds is not trusted.
                guard used.id == id, used.length <= length else { return nil }
                return Int(used.length)
            }
            pause()
            polls += 1
        }
        return nil
    }
}
