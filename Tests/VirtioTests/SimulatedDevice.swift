/// The device side of a split virtqueue, simulated in host memory the way a device reads and
/// writes it (physical address = host pointer), for testing the driver side.
import Synchronization
import Paging
import Virtio

/// Page-aligned host memory posing as DMA memory, filled with garbage so the queue must
/// zero it.
final class QueueMemory {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 4096)
        pointer.initializeMemory(as: UInt8.self, repeating: 0xCC, count: byteCount)
    }
    deinit { pointer.deallocate() }
    var physicalAddress: PhysicalAddress { PhysicalAddress(UInt64(UInt(bitPattern: pointer))) }
}

/// One descriptor as the device reads it.
struct SeenDescriptor: Equatable {
    var address: UInt64
    var length: UInt32
    var flags: UInt16
    var next: UInt16
}

/// A buffer (descriptor chain) the device took from the available ring.
struct SeenBuffer: Equatable {
    var head: UInt16
    var chain: [SeenDescriptor]
}

/// The device: reads avail.idx with acquire ordering (pairing with the driver's release
/// store in `publish`), writes used elements and then used.idx with release ordering (pairing
/// with the driver's acquire load in `takeUsed`). Only the thread that owns it may call it.
final class SimulatedDevice: @unchecked Sendable {
    let size: Int
    let descriptorTable: UnsafeMutableRawPointer
    let availableRing: UnsafeMutableRawPointer
    let usedRing: UnsafeMutableRawPointer
    /// The next available-ring position the device will read (the device's own state).
    var lastAvailableIndex: UInt16 = 0
    /// The used index the device will publish next.
    var usedIndex: UInt16 = 0

    init(addresses: VirtqueueAddresses) {
        size = Int(addresses.size)
        descriptorTable = UnsafeMutableRawPointer(bitPattern: UInt(addresses.descriptorTable.rawValue))!
        availableRing = UnsafeMutableRawPointer(bitPattern: UInt(addresses.driverArea.rawValue))!
        usedRing = UnsafeMutableRawPointer(bitPattern: UInt(addresses.deviceArea.rawValue))!
    }

    private func atomic(_ pointer: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt16>> {
        pointer.assumingMemoryBound(to: Atomic<UInt16>.self)
    }

    /// avail.idx as the device sees it.
    var availableIndex: UInt16 {
        UInt16(littleEndian: atomic(availableRing + AvailableRing.indexOffset).pointee.load(ordering: .acquiring))
    }

    /// avail.flags.
    var availableFlags: UInt16 {
        UInt16(littleEndian: atomic(availableRing + AvailableRing.flagsOffset).pointee.load(ordering: .relaxed))
    }

    /// used_event.
    var usedEvent: UInt16 {
        UInt16(littleEndian: atomic(availableRing + AvailableRing.usedEventOffset(queueSize: size)).pointee.load(ordering: .relaxed))
    }

    /// Sets or clears VIRTQ_USED_F_NO_NOTIFY.
    func setNoNotify(_ on: Bool) {
        atomic(usedRing + UsedRing.flagsOffset).pointee.store((on ? UsedRing.Flags.noNotify.rawValue : 0).littleEndian, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Sets avail_event (with VIRTIO_F_EVENT_IDX).
    func setAvailableEvent(_ value: UInt16) {
        atomic(usedRing + UsedRing.availableEventOffset(queueSize: size)).pointee.store(value.littleEndian, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    func descriptor(_ index: UInt16) -> SeenDescriptor {
        let base = descriptorTable + Int(index) * VirtqueueDescriptor.byteCount
        return SeenDescriptor(
            address: UInt64(littleEndian: base.load(fromByteOffset: VirtqueueDescriptor.addressOffset, as: UInt64.self)),
            length: UInt32(littleEndian: base.load(fromByteOffset: VirtqueueDescriptor.lengthOffset, as: UInt32.self)),
            flags: UInt16(littleEndian: base.load(fromByteOffset: VirtqueueDescriptor.flagsOffset, as: UInt16.self)),
            next: UInt16(littleEndian: base.load(fromByteOffset: VirtqueueDescriptor.nextOffset, as: UInt16.self)))
    }

    /// Takes every buffer published since the last call, in ring order.
    func takeAvailable(limit: Int = .max) -> [SeenBuffer] {
        var buffers: [SeenBuffer] = []
        let published = availableIndex
        while lastAvailableIndex != published && buffers.count < limit {
            let slot = Int(lastAvailableIndex) & (size - 1)
            let head = UInt16(littleEndian: availableRing.load(fromByteOffset: AvailableRing.entryOffset(slot), as: UInt16.self))
            var chain = [descriptor(head)]
            while chain.last!.flags & VirtqueueDescriptor.Flags.next.rawValue != 0 {
                precondition(chain.count <= size, "descriptor loop")
                chain.append(descriptor(chain.last!.next))
            }
            buffers.append(SeenBuffer(head: head, chain: chain))
            lastAvailableIndex &+= 1
        }
        return buffers
    }

    /// Writes a used element (not yet visible).
    func complete(id: UInt32, length: UInt32) {
        let element = usedRing + UsedRing.elementOffset(Int(usedIndex) & (size - 1))
        element.storeBytes(of: id.littleEndian, toByteOffset: UsedRing.elementIdentifierOffset, as: UInt32.self)
        element.storeBytes(of: length.littleEndian, toByteOffset: UsedRing.elementLengthOffset, as: UInt32.self)
        usedIndex &+= 1
    }

    /// Makes completed elements visible: RELEASE store of used.idx after the element stores.
    func publishUsed() {
        atomic(usedRing + UsedRing.indexOffset).pointee.store(usedIndex.littleEndian, ordering: .releasing)
    }

    /// used.idx as stored.
    var storedUsedIndex: UInt16 {
        UInt16(littleEndian: atomic(usedRing + UsedRing.indexOffset).pointee.load(ordering: .relaxed))
    }

    // MARK: Notification suppression, as a device does it (virtio 1.2 §2.7.7, §2.7.10)

    /// used.idx when the device last decided whether to interrupt (QEMU's signalled_used).
    var signalledUsedIndex: UInt16 = 0
    /// Interrupts raised by `interruptIfDue`.
    var interruptsRaised = 0

    /// Whether moving a ring index from `old` to `new` placed an entry at index `event`,
    /// counted entry by entry: the spec's words, independent of the driver's formula.
    static func placedEntry(at event: UInt16, from old: UInt16, to new: UInt16) -> Bool {
        var index = old
        while index != new {
            if index == event { return true }
            index &+= 1
        }
        return false
    }

    /// Decides after `publishUsed` whether to interrupt the driver, as §2.7.7 says: with
    /// EVENT_IDX when one of the entries published since the last decision was placed at
    /// used_event; without it when something was published and VIRTQ_AVAIL_F_NO_INTERRUPT is
    /// clear. FULL FENCE first: the device's barrier between storing used.idx and reading the
    /// driver's advice, which the driver's fence in `takeUsed` pairs with.
    @discardableResult
    func interruptIfDue(eventIndex: Bool) -> Bool {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let new = storedUsedIndex
        let due = eventIndex ? Self.placedEntry(at: usedEvent, from: signalledUsedIndex, to: new)
                             : new != signalledUsedIndex && availableFlags & AvailableRing.Flags.noInterrupt.rawValue == 0
        signalledUsedIndex = new
        if due { interruptsRaised += 1 }
        return due
    }

    /// Sets avail_event to the first entry not taken yet, as QEMU does after each buffer it
    /// takes: "notify me when you place an entry there", i.e. once I have caught up.
    func askForNotificationWhenCaughtUp() {
        setAvailableEvent(lastAvailableIndex)
    }
}
