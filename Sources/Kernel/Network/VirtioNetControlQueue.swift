/// virtio-net's control virtqueue: one command at a time, sent and waited for at boot (multiqueue and RSS set-up).
import Paging
import Virtio

/// The control queue (virtio 1.2 §5.1.6.5). Commands are rare and made only while the kernel
/// boots, so one page holds one command and its ack, and `send` waits for the device.
struct VirtioNetControlQueue {
    var queue: SplitVirtqueue
    let transport: MemoryMappedVirtioTransport
    let index: UInt16
    let notifyOffset: UInt16
    /// One page: the command (device-readable) from byte 0, the ack (device-writable) at `ackOffset`.
    let page: PhysicalAddress
    static let ackOffset = 4000
    /// How long the device may take to answer: QEMU answers on the notification, so a
    /// second means it never will.
    static let timeoutNanoseconds: UInt64 = 1_000_000_000

    /// Sets up the control queue at `index` (before DRIVER_OK); nil without memory.
    /// `eventIndex`: VIRTIO_F_EVENT_IDX was negotiated, which covers this queue too (§2.7.10).
    static func make(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                     _ transport: MemoryMappedVirtioTransport, index: UInt16,
                     eventIndex: Bool) throws(VirtioError) -> VirtioNetControlQueue {
        let size = min(try initializer.maximumQueueSize(index: index), 16)
        guard let memory = PhysicalMemory.allocate(count: Page.count(covering: SplitVirtqueue.byteCount(queueSize: size))),
              let page = PhysicalMemory.allocate(count: 1) else { throw .queueUnavailable(index: index) }
        var queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory, size: size)
        queue.eventIndexEnabled = eventIndex
        queue.setInterruptsSuppressed(true)
        let notifyOffset = try initializer.setUpQueue(index: index, addresses: queue.addresses)
        return VirtioNetControlQueue(queue: queue, transport: transport, index: index, notifyOffset: notifyOffset, page: page)
    }

    /// Why a command failed.
    enum Failure: Error {
        /// The writer could not build it (a buffer too small, a value out of range).
        case unwritable
        /// The device did not answer in time.
        case timedOut
        /// The device answered VIRTIO_NET_ERR (or something that is not VIRTIO_NET_OK).
        case refused(ack: UInt8)

        /// For the boot log.
        var description: StaticString {
            switch self {
            case .unwritable: "the command could not be built"
            case .timedOut: "no answer within a second"
            case .refused: "VIRTIO_NET_ERR"
            }
        }
    }

    /// Sends the command `write` builds (returning its length) and waits for the device's ack
    /// (§5.1.6.5: class, command, data device-readable; the ack byte device-writable after it).
    mutating func send(_ write: (UnsafeMutableRawBufferPointer) -> Int?) throws(Failure) {
        let base = page.pointer
        guard let length = write(UnsafeMutableRawBufferPointer(start: base, count: Self.ackOffset)) else { throw .unwritable }
        let ackPointer = base + Self.ackOffset
        ackPointer.storeBytes(of: 0xFF, as: UInt8.self)   // neither OK (0) nor ERR (1): "not answered"
        guard queue.add(VirtqueueSegment(physicalAddress: page, length: UInt32(length), deviceWritable: false),
                        VirtqueueSegment(physicalAddress: page + Self.ackOffset, length: 1, deviceWritable: true)) != nil
        else { throw .unwritable }
        if queue.publish() { transport.notify(queue: index, queueNotifyOffset: notifyOffset) }
        let deadline = MonotonicClock.nanosecondsSinceBoot + Self.timeoutNanoseconds
        while queue.takeUsed() == nil {
            guard MonotonicClock.nanosecondsSinceBoot < deadline else { throw .timedOut }
        }
        let ack = ackPointer.load(as: UInt8.self)
        guard ack == VirtioNetControl.Acknowledgement.ok.rawValue else { throw .refused(ack: ack) }
    }
}
