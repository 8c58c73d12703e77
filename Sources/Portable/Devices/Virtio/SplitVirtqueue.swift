/// The driver side of a split virtqueue: add buffers, publish them, take back used ones.

import Paging
import Synchronization

/// A split virtqueue as the driver sees it — virtio 1.2 §2.7.
///
/// The memory block (see `SplitVirtqueueLayout`) is shared with the device, which behaves as
/// another processor reading the descriptor table and the available ring and writing the
/// used ring. The synchronizing accesses are those to the two ring indices and the advice:
///
/// - driver → device: descriptors and available-ring entries are written with plain stores,
///   then `publish()` stores avail.idx with release ordering; the device's read of avail.idx
///   (acquire, or its barrier in §2.7.13) pairs with it, so it sees the entries.
/// - device → driver: the device writes a used element and then used.idx (§2.7.13: with a
///   write barrier between); `takeUsed()` loads used.idx with acquire ordering, pairing with
///   that store, before reading the element.
/// - notification suppression (VIRTQ_USED_F_NO_NOTIFY or avail_event; VIRTQ_AVAIL_F_NO_INTERRUPT
///   or used_event with EVENT_IDX) is advice read after a full fence: `publish()` fences
///   between storing avail.idx and reading the device's advice, and `takeUsed()` between
///   storing used_event and trusting an empty used ring (§2.7.13, §2.7.14).
///
/// The ring fields are little-endian (virtio 1.x, §2.7); every access converts explicitly,
/// which costs nothing on x86-64.
///
/// Nothing here allocates (checked by compiling a client with `-no-allocations`; that is also
/// why option sets are built with `union` and `init()` rather than array literals, which that
/// mode counts as allocations): the free list of descriptors is threaded through the `next`
/// fields of free descriptors (the device never reads a free descriptor), and the length of
/// each outstanding chain lives in the block's driver-only bookkeeping page.
/// Not thread-safe on the driver side (one core owns a queue); copies share the memory but
/// not the driver state, so keep exactly one.
public struct SplitVirtqueue {
    /// The number of entries (a power of two, 1 to 32768).
    public let size: UInt16
    /// The physical addresses to give the device (`VirtioDeviceInitializer.setUpQueue`).
    public let addresses: VirtqueueAddresses
    /// Whether VIRTIO_F_EVENT_IDX was negotiated. Then both sides name a ring index instead of
    /// setting an on/off flag: `publish()` notifies only when it moves avail.idx past the
    /// device's avail_event (§2.7.10), and the driver writes used_event to say when it wants
    /// an interrupt (§2.7.7; see `setInterruptsSuppressed`). Set it once, before DRIVER_OK;
    /// setting it writes used_event for the current suppression state.
    public var eventIndexEnabled: Bool = false {
        didSet { setInterruptsSuppressed(interruptsSuppressed) }
    }

    private let descriptorTable: UnsafeMutableRawPointer
    private let availableRing: UnsafeMutableRawPointer
    private let usedRing: UnsafeMutableRawPointer
    /// Driver-only: the chain length of every outstanding head descriptor, 0 when not one.
    private let chainLengths: UnsafeMutablePointer<UInt16>
    private let mask: UInt16

    /// Head of the free-descriptor list (meaningless when `freeDescriptorCount` is 0).
    private var freeHead: UInt16 = 0
    /// Descriptors not given to the device.
    public private(set) var freeDescriptorCount: Int
    /// The available index the next added buffer gets (ahead of avail.idx until `publish`).
    private var nextAvailableIndex: UInt16 = 0
    /// The avail.idx value the device was last shown.
    private var publishedAvailableIndex: UInt16 = 0
    /// The used index of the next element to take.
    private var nextUsedIndex: UInt16 = 0
    /// Used elements whose id was out of range or not outstanding: a device bug, skipped.
    public private(set) var invalidUsedElementCount: Int = 0
    /// With EVENT_IDX and interrupts wanted: used_event was written and no full fence has
    /// followed it yet, so the next "nothing new" answer of `takeUsed` must fence and look again.
    private var usedEventAwaitsFence = false
    /// How far ahead of the driver's used index used_event is parked while interrupts are
    /// suppressed with EVENT_IDX: half the 16-bit index space. The device interrupts only when
    /// used.idx moves past used_event (§2.7.7), and it can be at most a queue size ahead of the
    /// driver, so for queues of fewer than 32768 entries it never gets there.
    public static let parkedUsedEventDistance: UInt16 = 0x8000

    /// The bytes of memory a queue of `queueSize` entries needs (4 KiB aligned).
    public static func byteCount(queueSize: UInt16) -> Int {
        SplitVirtqueueLayout(queueSize: Int(queueSize)).byteCount
    }

    /// A queue of `size` entries in `memory` (at least `byteCount(queueSize: size)` bytes,
    /// 4 KiB aligned), which the device reaches at `physicalAddress`. The memory is zeroed
    /// here: the device must see empty rings with index 0.
    public init(memory: UnsafeMutableRawPointer, physicalAddress: PhysicalAddress, size: UInt16) {
        precondition(size >= 1 && size <= 32768 && size & (size &- 1) == 0,
                     "split virtqueue size must be a power of two up to 32768 (virtio 1.2 §2.7)")
        precondition(physicalAddress.isPageAligned,
                     "virtqueue memory must be page aligned")
        precondition(UInt(bitPattern: memory) % UInt(Page.size) == 0,
                     "virtqueue memory must be page aligned")
        let layout = SplitVirtqueueLayout(queueSize: Int(size))
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: layout.byteCount)
        self.size = size
        self.mask = size &- 1
        descriptorTable = memory
        availableRing = memory + layout.availableRingOffset
        usedRing = memory + layout.usedRingOffset
        chainLengths = (memory + layout.bookkeepingOffset).bindMemory(to: UInt16.self, capacity: Int(size))
        addresses = VirtqueueAddresses(size: size, descriptorTable: physicalAddress,
                                       driverArea: physicalAddress + layout.availableRingOffset,
                                       deviceArea: physicalAddress + layout.usedRingOffset)
        freeDescriptorCount = Int(size)
        // Free list 0 → 1 → … → size−1.
        var index: UInt16 = 0
        while index < size &- 1 {
            setNext(of: index, index &+ 1)
            index += 1
        }
    }

    /// The same queue, empty, in the same memory (zeroed again), with the same event-index
    /// and suppression settings: for setting the queue up anew after a device reset (virtio
    /// 1.2 §2.4: a reset makes the device forget its queues; §3.1.1 step 7 then gives them
    /// again). Every outstanding buffer is forgotten: the caller takes its buffers back.
    public func emptied() -> SplitVirtqueue {
        var fresh = SplitVirtqueue(memory: descriptorTable, physicalAddress: addresses.descriptorTable, size: size)
        fresh.eventIndexEnabled = eventIndexEnabled
        fresh.setInterruptsSuppressed(interruptsSuppressed)
        return fresh
    }

    /// Fault injection: makes a buffer available whose head descriptor index is out of range
    /// (0xFFFF in the available ring, §2.7.6 says ring entries are descriptor indices below
    /// the queue size), as a broken driver would. A device must take it as fatal: QEMU reports
    /// "Guest says index 65535 is available" and sets DEVICE_NEEDS_RESET (§2.1.2). Only for
    /// testing recovery: afterwards the queue is good only for `emptied()`.
    public mutating func injectIndexFault() {
        let slot = Int(nextAvailableIndex & mask)
        availableRing.storeBytes(of: UInt16(0xFFFF).littleEndian, toByteOffset: AvailableRing.entryOffset(slot), as: UInt16.self)
        nextAvailableIndex &+= 1
        _ = publish()
    }

    // MARK: Adding buffers

    /// Adds a single-descriptor buffer. Returns its descriptor id (the same id `takeUsed`
    /// returns for it; index your own per-buffer state by it), or nil when no descriptor is
    /// free. The device does not see it until `publish()`.
    public mutating func add(buffer physicalAddress: PhysicalAddress, length: UInt32, deviceWritable: Bool) -> UInt16? {
        guard freeDescriptorCount >= 1 else { return nil }
        let head = takeFreeDescriptor()
        writeDescriptor(head, address: physicalAddress, length: length,
                        flags: deviceWritable ? .write : VirtqueueDescriptor.Flags(), next: 0)
        chainLengths[Int(head)] = 1
        makeAvailable(head)
        return head
    }

    /// Adds a two-descriptor chain (e.g. a header and a data buffer). Returns the head's
    /// descriptor id, or nil when fewer than two descriptors are free. Device-readable
    /// segments must come before device-writable ones (§2.7.4.2).
    public mutating func add(_ first: VirtqueueSegment, _ second: VirtqueueSegment) -> UInt16? {
        guard freeDescriptorCount >= 2 else { return nil }
        precondition(!first.deviceWritable || second.deviceWritable,
                     "device-writable descriptors must follow device-readable ones (virtio 1.2 §2.7.4.2)")
        let head = takeFreeDescriptor()
        let tail = takeFreeDescriptor()
        writeDescriptor(head, address: first.physicalAddress, length: first.length,
                        flags: first.deviceWritable ? VirtqueueDescriptor.Flags.next.union(.write) : .next, next: tail)
        writeDescriptor(tail, address: second.physicalAddress, length: second.length,
                        flags: second.deviceWritable ? .write : VirtqueueDescriptor.Flags(), next: 0)
        chainLengths[Int(head)] = 2
        makeAvailable(head)
        return head
    }

    /// Added buffers the device has not been shown yet.
    public var unpublishedCount: Int { Int(nextAvailableIndex &- publishedAvailableIndex) }

    /// Makes every added buffer visible to the device. Returns whether the device asked to be
    /// notified (then call `VirtioTransport.notify`); false when nothing was added since the
    /// last publish. With EVENT_IDX that is when this publish moved avail.idx past avail_event,
    /// the index after which the device said it wants to hear again (§2.7.10); otherwise when
    /// the device has not set VIRTQ_USED_F_NO_NOTIFY.
    public mutating func publish() -> Bool {
        let new = nextAvailableIndex
        let old = publishedAvailableIndex
        guard new != old else { return false }
        // RELEASE: the descriptor and ring-entry stores of `add` happen before this store;
        // the device reads avail.idx first and only then the entries (§2.7.13 "the driver
        // MUST perform a suitable memory barrier before the idx update").
        atomic(availableRing + AvailableRing.indexOffset).pointee.store(new.littleEndian, ordering: .releasing)
        publishedAvailableIndex = new
        // FULL FENCE: the idx store must be globally visible before we read the device's
        // suppression state below. Without it the store could sit in our store buffer while
        // we read a stale "no notification needed" — and a device that checked avail.idx
        // before setting that state would then sleep on a buffer it never saw. x86 reorders
        // exactly this store→load pair, so an acquire load is not enough (Linux uses
        // virtio_mb() here for the same reason). Pairs with the device's own barrier between
        // writing used.flags/avail_event and re-reading avail.idx.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if eventIndexEnabled {
            // §2.7.10: "if the idx field in the available ring (which determined where that
            // descriptor index was placed) was equal to avail_event, the driver MUST send a
            // notification": one of the entries old..<new was placed at avail_event. Relaxed:
            // the fence above orders it.
            let event = UInt16(littleEndian: atomic(usedRing + UsedRing.availableEventOffset(queueSize: Int(size)))
                .pointee.load(ordering: .relaxed))
            return Self.movedPast(event: event, new: new, old: old)
        }
        let flags = UInt16(littleEndian: atomic(usedRing + UsedRing.flagsOffset).pointee.load(ordering: .relaxed))
        return flags & UsedRing.Flags.noNotify.rawValue == 0
    }

    // MARK: Taking used buffers

    /// Whether the device has returned a buffer that `takeUsed` would take now.
    public var hasUsed: Bool { usedIndex() != nextUsedIndex }

    /// The next buffer the device has finished with: its descriptor id (as `add` returned)
    /// and the number of bytes the device wrote into it. Its descriptors become free again.
    /// Nil when the device has returned nothing new.
    public mutating func takeUsed() -> (id: UInt16, length: UInt32)? {
        while true {
            var published = usedIndex()
            if published == nextUsedIndex {
                guard usedEventAwaitsFence else { return nil }
                // §2.7.14: re-check after re-enabling interrupts. The used_event store below
                // (or in `setInterruptsSuppressed`) could still sit in our store buffer while
                // the load above read a stale used.idx; a device that published in between
                // and then read the old used_event would not interrupt, and we would not see
                // its buffer either. FULL FENCE: x86 reorders exactly this store→load pair.
                // Pairs with the device's barrier between writing used.idx and reading
                // used_event. Once per drain, not per empty poll.
                usedEventAwaitsFence = false
                atomicMemoryFence(ordering: .sequentiallyConsistent)
                published = usedIndex()
                guard published != nextUsedIndex else { return nil }
            }
            // Plain loads: the acquire load of used.idx above ordered them after the device's
            // element stores.
            let element = usedRing + UsedRing.elementOffset(Int(nextUsedIndex & mask))
            let rawIdentifier = UInt32(littleEndian: element.load(fromByteOffset: UsedRing.elementIdentifierOffset, as: UInt32.self))
            let length = UInt32(littleEndian: element.load(fromByteOffset: UsedRing.elementLengthOffset, as: UInt32.self))
            nextUsedIndex &+= 1
            if eventIndexEnabled { moveUsedEvent(seen: published) }
            // A device must return only heads it was given (§2.7.8); skip anything else
            // rather than corrupt the free list.
            guard rawIdentifier < UInt32(size), chainLengths[Int(rawIdentifier)] != 0 else {
                invalidUsedElementCount += 1
                continue
            }
            let head = UInt16(truncatingIfNeeded: rawIdentifier)
            releaseChain(head)
            return (id: head, length: length)
        }
    }

    // MARK: Interrupt suppression

    /// Whether the driver asks the device not to interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT, or
    /// used_event parked out of reach with EVENT_IDX).
    public private(set) var interruptsSuppressed: Bool = false

    /// Asks the device not to send interrupts for this queue (§2.7.7) — the network core
    /// polls — or to send them again. Only a hint either way: the driver still finds buffers
    /// by looking at used.idx.
    ///
    /// Without VIRTIO_F_EVENT_IDX this is the VIRTQ_AVAIL_F_NO_INTERRUPT flag. With it the
    /// device ignores the flag and interrupts when used.idx moves past used_event (§2.7.7),
    /// so used_event does the work: parked half the index space ahead while suppressed (and
    /// kept there as buffers are taken), else set to the used.idx last seen (see `takeUsed`).
    public mutating func setInterruptsSuppressed(_ suppressed: Bool) {
        interruptsSuppressed = suppressed
        let flags: AvailableRing.Flags = suppressed ? .noInterrupt : AvailableRing.Flags()
        // Relaxed: the device reads the flag whenever it is about to interrupt; a late view
        // costs at most one spurious or skipped interrupt, never a lost buffer.
        atomic(availableRing + AvailableRing.flagsOffset).pointee.store(flags.rawValue.littleEndian, ordering: .relaxed)
        if eventIndexEnabled { moveUsedEvent(seen: usedIndex()) }
    }

    /// Switches interrupts on for one wait — a polling driver about to halt
    /// (`net-idle=interrupt`) — unless the device has returned buffers the driver has not
    /// taken yet: then they stay off and the answer is false (take those first). True: the
    /// device interrupts at its next publication; switch them off again after the wait.
    /// §2.7.14's race is closed here, not left to `takeUsed`: FULL FENCE between arming
    /// (used_event, or the flag) and reading used.idx again, since x86 lets that load pass the
    /// store. A device that published in between and read the old used_event did not interrupt,
    /// and its buffer is seen here instead. Pairs with the device's barrier between writing
    /// used.idx and reading used_event.
    public mutating func armInterruptUnlessUsed() -> Bool {
        setInterruptsSuppressed(false)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        usedEventAwaitsFence = false
        guard !hasUsed else {
            setInterruptsSuppressed(true)
            return false
        }
        return true
    }

    /// The used_event value the driver last wrote (meaningful with EVENT_IDX only).
    public var usedEvent: UInt16 {
        UInt16(littleEndian: atomic(availableRing + AvailableRing.usedEventOffset(queueSize: Int(size))).pointee.load(ordering: .relaxed))
    }

    /// Writes used_event (§2.7.7) after the driver saw used.idx at `seen`. Interrupts wanted:
    /// `seen`, i.e. "interrupt me when you publish past what I have seen" — the device's next
    /// publication then interrupts even if the caller stopped short of `seen` (a pass takes a
    /// budget of frames and there is no later poll to finish the rest; Linux writes its own
    /// index instead and relies on NAPI polling again). Suppressed: parked
    /// `parkedUsedEventDistance` ahead of what was taken, out of the device's reach.
    /// Relaxed: `takeUsed` fences before it trusts an empty ring (interrupts wanted), and a
    /// late view costs a polling driver at most one interrupt no one listens to.
    @inline(__always)
    private mutating func moveUsedEvent(seen: UInt16) {
        let event = interruptsSuppressed ? nextUsedIndex &+ Self.parkedUsedEventDistance : seen
        atomic(availableRing + AvailableRing.usedEventOffset(queueSize: Int(size)))
            .pointee.store(event.littleEndian, ordering: .relaxed)
        usedEventAwaitsFence = !interruptsSuppressed
    }

    /// vring_need_event (virtio 1.2 §2.7.7, §2.7.10): whether moving a ring index from `old`
    /// to `new` placed an entry at index `event`, i.e. `event` lies in [old, new) modulo 2^16.
    /// The driver asks it of avail_event when it publishes; a device asks it of used_event.
    @inline(__always)
    public static func movedPast(event: UInt16, new: UInt16, old: UInt16) -> Bool {
        new &- event &- 1 < new &- old
    }

    // MARK: Internals

    /// The 16-bit ring field at `pointer`, accessed atomically.
    @inline(__always)
    private func atomic(_ pointer: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt16>> {
        pointer.assumingMemoryBound(to: Atomic<UInt16>.self)
    }

    /// used.idx. ACQUIRE: pairs with the device's store of used.idx after it wrote the
    /// element (§2.7.13), so the element loads that follow see what the device wrote.
    @inline(__always)
    private func usedIndex() -> UInt16 {
        UInt16(littleEndian: atomic(usedRing + UsedRing.indexOffset).pointee.load(ordering: .acquiring))
    }

    /// Puts `head` in the next available-ring slot (not yet visible: see `publish`).
    @inline(__always)
    private mutating func makeAvailable(_ head: UInt16) {
        availableRing.storeBytes(of: head.littleEndian,
                                 toByteOffset: AvailableRing.entryOffset(Int(nextAvailableIndex & mask)),
                                 as: UInt16.self)
        nextAvailableIndex &+= 1
    }

    @inline(__always)
    private mutating func takeFreeDescriptor() -> UInt16 {
        let descriptor = freeHead
        freeHead = next(of: descriptor)
        freeDescriptorCount -= 1
        return descriptor
    }

    /// Returns the chain starting at `head` to the free list.
    private mutating func releaseChain(_ head: UInt16) {
        let count = Int(chainLengths[Int(head)])
        chainLengths[Int(head)] = 0
        var last = head
        var remaining = count - 1
        while remaining > 0 {
            last = next(of: last)
            remaining -= 1
        }
        setNext(of: last, freeDescriptorCount == 0 ? 0 : freeHead)
        freeHead = head
        freeDescriptorCount += count
    }

    @inline(__always)
    private func writeDescriptor(_ index: UInt16, address: PhysicalAddress, length: UInt32,
                                 flags: VirtqueueDescriptor.Flags, next: UInt16) {
        let descriptor = descriptorTable + Int(index) * VirtqueueDescriptor.byteCount
        descriptor.storeBytes(of: address.rawValue.littleEndian, toByteOffset: VirtqueueDescriptor.addressOffset, as: UInt64.self)
        descriptor.storeBytes(of: length.littleEndian, toByteOffset: VirtqueueDescriptor.lengthOffset, as: UInt32.self)
        descriptor.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: VirtqueueDescriptor.flagsOffset, as: UInt16.self)
        descriptor.storeBytes(of: next.littleEndian, toByteOffset: VirtqueueDescriptor.nextOffset, as: UInt16.self)
    }

    @inline(__always)
    private func next(of index: UInt16) -> UInt16 {
        UInt16(littleEndian: descriptorTable.load(
            fromByteOffset: Int(index) * VirtqueueDescriptor.byteCount + VirtqueueDescriptor.nextOffset, as: UInt16.self))
    }

    @inline(__always)
    private func setNext(of index: UInt16, _ next: UInt16) {
        descriptorTable.storeBytes(of: next.littleEndian,
                                   toByteOffset: Int(index) * VirtqueueDescriptor.byteCount + VirtqueueDescriptor.nextOffset,
                                   as: UInt16.self)
    }
}
