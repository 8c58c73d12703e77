/// The in-memory layout of a split virtqueue: descriptors, available ring, used ring.
import Paging

/// A buffer descriptor (struct virtq_desc, 16 bytes, little-endian) — virtio 1.2 §2.7.5.
public enum VirtqueueDescriptor {
    /// The size of one descriptor; the table is `queueSize` of them, 16-byte aligned.
    public static let byteCount = 16
    /// addr, le64: the buffer's physical address.
    public static let addressOffset = 0
    /// len, le32: the buffer's length.
    public static let lengthOffset = 8
    /// flags, le16: `Flags`.
    public static let flagsOffset = 12
    /// next, le16: the next descriptor of the chain when `Flags.next` is set.
    public static let nextOffset = 14

    /// Descriptor flags — §2.7.5.
    public struct Flags: OptionSet, Sendable {
        /// The 16 flag bits.
        public var rawValue: UInt16
        /// The flags `rawValue`.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// VIRTQ_DESC_F_NEXT (1): the chain continues at `next`.
        public static let next = Flags(rawValue: 1)
        /// VIRTQ_DESC_F_WRITE (2): the device writes this buffer (else it reads it).
        public static let write = Flags(rawValue: 2)
        /// VIRTQ_DESC_F_INDIRECT (4): the buffer is a table of descriptors.
        public static let indirect = Flags(rawValue: 4)
    }
}

/// The driver area (struct virtq_avail, little-endian, 2-byte aligned) — virtio 1.2 §2.7.6:
/// flags, idx, ring[queueSize], used_event.
public enum AvailableRing {
    /// flags, le16: `Flags`.
    public static let flagsOffset = 0
    /// idx, le16: where the driver will put the next entry (free-running, wraps at 2^16).
    public static let indexOffset = 2
    /// ring, le16 × queueSize: descriptor chain heads.
    public static let ringOffset = 4
    /// The offset of ring entry `slot`.
    public static func entryOffset(_ slot: Int) -> Int { ringOffset + 2 * slot }
    /// used_event, le16 (with VIRTIO_F_EVENT_IDX): interrupt me after this used index.
    public static func usedEventOffset(queueSize: Int) -> Int { ringOffset + 2 * queueSize }
    /// The ring's size in bytes: 6 + 2 × queueSize.
    public static func byteCount(queueSize: Int) -> Int { 6 + 2 * queueSize }

    /// Available ring flags — §2.7.6.
    public struct Flags: OptionSet, Sendable {
        /// The 16 flag bits.
        public var rawValue: UInt16
        /// The flags `rawValue`.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// VIRTQ_AVAIL_F_NO_INTERRUPT (1): the driver does not want interrupts (§2.7.7).
        public static let noInterrupt = Flags(rawValue: 1)
    }
}

/// The device area (struct virtq_used, little-endian, 4-byte aligned) — virtio 1.2 §2.7.8:
/// flags, idx, ring[queueSize] of (id le32, len le32), avail_event.
public enum UsedRing {
    /// flags, le16: `Flags`.
    public static let flagsOffset = 0
    /// idx, le16: where the device will put the next element (free-running).
    public static let indexOffset = 2
    /// ring of struct virtq_used_elem.
    public static let ringOffset = 4
    /// The size of one used element.
    public static let elementByteCount = 8
    /// The offset of used element `slot`.
    public static func elementOffset(_ slot: Int) -> Int { ringOffset + elementByteCount * slot }
    /// Within an element: id, le32 — the head of the used descriptor chain.
    public static let elementIdentifierOffset = 0
    /// Within an element: len, le32 — bytes the device wrote into the buffer.
    public static let elementLengthOffset = 4
    /// avail_event, le16 (with VIRTIO_F_EVENT_IDX): notify me after this available index.
    public static func availableEventOffset(queueSize: Int) -> Int { ringOffset + elementByteCount * queueSize }
    /// The ring's size in bytes: 6 + 8 × queueSize.
    public static func byteCount(queueSize: Int) -> Int { 6 + 8 * queueSize }

    /// Used ring flags — §2.7.8.
    public struct Flags: OptionSet, Sendable {
        /// The 16 flag bits.
        public var rawValue: UInt16
        /// The flags `rawValue`.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// VIRTQ_USED_F_NO_NOTIFY (1): the device does not need notifications (§2.7.10).
        public static let noNotify = Flags(rawValue: 1)
    }
}

/// Where the parts of a split virtqueue sit in the one memory block `SplitVirtqueue` uses.
///
/// ```
/// offset 0                 descriptor table   16 × N   (device reads)
/// availableRingOffset      available ring     6 + 2N   (driver writes, device reads)
/// usedRingOffset           used ring          6 + 8N   (device writes, driver reads)
/// bookkeepingOffset        chain lengths      2N       (driver only, never given to the device)
/// ```
/// Each part starts on its own 4 KiB page, which satisfies the 16/2/4-byte alignments of
/// §2.7 and keeps the parts the device writes apart from those it only reads.
public struct SplitVirtqueueLayout: Equatable, Sendable {
    /// Where the available ring starts.
    public var availableRingOffset: Int
    /// Where the used ring starts.
    public var usedRingOffset: Int
    /// Where the driver's private per-descriptor bookkeeping starts.
    public var bookkeepingOffset: Int
    /// The whole block's size, a multiple of the page size.
    public var byteCount: Int

    /// The layout for a queue of `queueSize` entries.
    public init(queueSize: Int) {
        func pages(_ bytes: Int) -> Int { Page.roundUp(bytes) }
        availableRingOffset = pages(VirtqueueDescriptor.byteCount * queueSize)
        usedRingOffset = availableRingOffset + pages(AvailableRing.byteCount(queueSize: queueSize))
        bookkeepingOffset = usedRingOffset + pages(UsedRing.byteCount(queueSize: queueSize))
        byteCount = bookkeepingOffset + pages(2 * queueSize)
    }
}

/// What the device needs to know about a queue: its size and the physical addresses of its
/// three parts (queue_size, queue_desc, queue_driver, queue_device — §4.1.4.3).
public struct VirtqueueAddresses: Equatable, Sendable {
    /// Entries in the queue.
    public var size: UInt16
    /// The descriptor table.
    public var descriptorTable: PhysicalAddress
    /// The driver area: the available ring.
    public var driverArea: PhysicalAddress
    /// The device area: the used ring.
    public var deviceArea: PhysicalAddress

    /// Addresses with these values.
    public init(size: UInt16, descriptorTable: PhysicalAddress, driverArea: PhysicalAddress, deviceArea: PhysicalAddress) {
        self.size = size
        self.descriptorTable = descriptorTable
        self.driverArea = driverArea
        self.deviceArea = deviceArea
    }
}

/// One buffer of a descriptor chain: where it is, how long, and who writes it.
public struct VirtqueueSegment: Equatable, Sendable {
    /// The physical address the device uses.
    public var physicalAddress: PhysicalAddress
    /// The length in bytes.
    public var length: UInt32
    /// Whether the device writes it (receive buffers) rather than reads it (transmit).
    public var deviceWritable: Bool

    /// A segment with these values.
    public init(physicalAddress: PhysicalAddress, length: UInt32, deviceWritable: Bool) {
        self.physicalAddress = physicalAddress
        self.length = length
        self.deviceWritable = deviceWritable
    }
}
