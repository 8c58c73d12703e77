/// The virtio-net driver: finds the device on PCI, negotiates, and sets up one polled queue pair.
import Network
import PCI
import Virtio

/// Why a virtio-net device could not be used; the kernel reports it and goes on without a NIC.
enum NetworkDeviceError: Error {
    case notModern
    case barUnusable(bar: UInt8)
    case virtio(VirtioError)
    case outOfMemory
    /// Symmetric mode needs the receive queue's MSI-X interrupt, and the device could not give it.
    case interruptsUnavailable
}

/// Receive and transmit buffers of one size, in one physically contiguous block: each holds
/// the 12-byte virtio-net header (virtio 1.2 §5.1.6) and then a whole Ethernet frame.
struct PacketBufferPool {
    static let bufferBytes = 2048
    let base: UInt64
    let count: Int

    init?(count: Int) {
        guard let base = PhysicalMemory.allocate(count: count * Self.bufferBytes / 4096) else { return nil }
        self.base = base
        self.count = count
    }

    func address(_ index: Int) -> UInt64 { base + UInt64(index * Self.bufferBytes) }
    func pointer(_ index: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address(index)))! }
}

/// The device side of the receive path: queue 0 of the pair (virtio 1.2 §5.1.2). Every
/// buffer is always either with the device or being handled by the network core, so the
/// descriptor id returned by the queue is enough to find it again.
struct ReceivePath {
    var queue: SplitVirtqueue
    let buffers: PacketBufferPool
    let transport: MemoryMappedVirtioTransport
    let notifyOffset: UInt16
    /// Which buffer each descriptor id carries (the queue hands ids back in `takeUsed`).
    let bufferOfDescriptor: UnsafeMutablePointer<UInt16>
    /// Frames shorter than the virtio-net header (a device bug): counted and recycled.
    var runtFrames: UInt64 = 0

    /// Gives buffer `index` to the device (made visible at the next `publish`).
    mutating func post(_ index: Int) {
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(PacketBufferPool.bufferBytes),
                                 deviceWritable: true) else { return }
        bufferOfDescriptor[Int(id)] = UInt16(index)
    }

    /// Hands up to `limit` received frames (without the virtio-net header) to `body`, then
    /// returns their buffers to the device. Returns how many frames there were.
    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var handled = 0
        while handled < limit, let used = queue.takeUsed() {
            let index = Int(bufferOfDescriptor[Int(used.id)])
            let length = Int(used.length)
            if length > VirtioNetHeader.byteCount && length <= PacketBufferPool.bufferBytes {
                let frame = UnsafeRawBufferPointer(start: buffers.pointer(index) + VirtioNetHeader.byteCount,
                                                   count: length - VirtioNetHeader.byteCount)
                body(frame)
            } else {
                runtFrames += 1
            }
            post(index)
            handled += 1
        }
        if handled > 0 && queue.publish() { transport.notify(queue: 0, queueNotifyOffset: notifyOffset) }
        return handled
    }
}

/// The transmit path: queue 1 of the pair. Frames are built straight into free buffers
/// (no copy after the stack writes them), queued, and announced to the device in batches by
/// `flush` — one notification per poll-loop pass instead of one per frame.
struct TransmitPath: FrameTransmitter {
    var queue: SplitVirtqueue
    let buffers: PacketBufferPool
    let transport: MemoryMappedVirtioTransport
    let notifyOffset: UInt16
    let bufferOfDescriptor: UnsafeMutablePointer<UInt16>
    /// A stack of buffer indices not in flight.
    let freeBuffers: UnsafeMutablePointer<UInt16>
    var freeCount: Int
    var framesSent: UInt64 = 0
    var notifications: UInt64 = 0
    /// Fault injection on sent frames (`impair-tx=`), nil when off: frames are then built in
    /// `impairmentScratch` and judged before they reach the ring (a copy only in this mode).
    var impairment: ImpairedLinkDirection? = nil
    var impairmentScratch: UnsafeMutableRawPointer? = nil
    /// Whether `impairment` is set (a Bool test: `!= nil` would copy the optional every frame).
    var impairs = false

    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        if impairs { return transmitImpaired(build) }
        reclaim()
        guard freeCount > 0, queue.freeDescriptorCount > 0 else { return false }
        let index = Int(freeBuffers[freeCount - 1])
        let buffer = buffers.pointer(index)
        // An all-zero header: no checksum offload, no segmentation (§5.1.6.2).
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.byteCount)
        let frameCapacity = PacketBufferPool.bufferBytes - VirtioNetHeader.byteCount
        let length = build(UnsafeMutableRawBufferPointer(start: buffer + VirtioNetHeader.byteCount, count: frameCapacity))
        guard length > 0 && length <= frameCapacity else { return true }
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(VirtioNetHeader.byteCount + length),
                                 deviceWritable: false) else { return false }
        bufferOfDescriptor[Int(id)] = UInt16(index)
        freeCount -= 1
        framesSent += 1
        return true
    }

    /// `transmit` under `impair-tx=`: build, judge (drop, duplicate, hold), then copy what goes
    /// out into the ring. A frame that finds the ring full is lost, as on a real congested link.
    private mutating func transmitImpaired(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        let frameCapacity = PacketBufferPool.bufferBytes - VirtioNetHeader.byteCount
        let length = build(UnsafeMutableRawBufferPointer(start: impairmentScratch!, count: frameCapacity))
        guard length > 0 && length <= frameCapacity else { return true }
        // Moved out while it runs: its `deliver` closure mutates `self`.
        var direction = impairment.take()!
        direction.submit(UnsafeRawBufferPointer(start: impairmentScratch!, count: length),
                         now: MonotonicClock.nanosecondsSinceBoot) { frame in _ = self.copyIntoRing(frame) }
        impairment = direction
        return true
    }

    /// Releases held frames whose time has come (called by `flush`).
    private mutating func releaseHeldFrames() {
        guard var direction = impairment.take() else { return }
        direction.releaseDue(now: MonotonicClock.nanosecondsSinceBoot) { frame in _ = self.copyIntoRing(frame) }
        impairment = direction
    }

    /// Puts a copy of a finished frame into the ring.
    private mutating func copyIntoRing(_ frame: UnsafeRawBufferPointer) -> Bool {
        reclaim()
        guard freeCount > 0, queue.freeDescriptorCount > 0, let source = frame.baseAddress else { return false }
        let index = Int(freeBuffers[freeCount - 1])
        let buffer = buffers.pointer(index)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.byteCount)
        (buffer + VirtioNetHeader.byteCount).copyMemory(from: source, byteCount: frame.count)
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(VirtioNetHeader.byteCount + frame.count),
                                 deviceWritable: false) else { return false }
        bufferOfDescriptor[Int(id)] = UInt16(index)
        freeCount -= 1
        framesSent += 1
        return true
    }

    /// Takes back the buffers the device has sent.
    mutating func reclaim() {
        while let used = queue.takeUsed() {
            freeBuffers[freeCount] = bufferOfDescriptor[Int(used.id)]
            freeCount += 1
        }
    }

    /// Shows queued frames to the device and notifies it if it asked to be.
    mutating func flush() {
        if impairs { releaseHeldFrames() }
        guard queue.unpublishedCount > 0 else { return }
        if queue.publish() {
            transport.notify(queue: 1, queueNotifyOffset: notifyOffset)
            notifications += 1
        }
    }
}

/// A virtio-net device made ready: its MAC address and its two paths.
struct VirtioNetDevice {
    static let vendor: UInt16 = 0x1AF4
    /// 0x1000 is the transitional virtio-net (QEMU's default), 0x1041 the modern-only one
    /// (virtio 1.2 §4.1.2).
    static func isVirtioNet(_ function: PCIFunction) -> Bool {
        function.vendorID == vendor && (function.deviceID == 0x1000 || function.deviceID == 0x1041)
    }
    /// What we accept: nothing we do not handle (no checksum offload, no merged buffers).
    static let wantedFeatures: FeatureSet = [.mac, .status]
    static let requiredFeatures: FeatureSet = [.version1]
    static let maximumQueueSize: UInt16 = 256

    let hardwareAddress: MACAddress
    let features: FeatureSet
    let linkUp: Bool
    var receive: ReceivePath
    var transmit: TransmitPath

    /// Brings up the device at `function`: modern capabilities, bus mastering, the status
    /// handshake, both queues, then DRIVER_OK. Device interrupts stay suppressed (the network
    /// core polls) unless `receiveInterrupt` names a CPU and vector: then the receive queue's
    /// used buffers raise that MSI-X interrupt (symmetric mode), and nothing else does.
    static func start(_ function: PCIFunction, receiveInterrupt: (apicID: UInt32, vector: UInt8)? = nil)
        throws(NetworkDeviceError) -> VirtioNetDevice {
        let space = PortConfigurationSpace()
        var structures = VirtioPCIStructures()
        for capability in CapabilitySequence(space: space, address: function.address)
            where capability.id == VirtioPCICapability.capabilityID {
            if let parsed = VirtioPCICapability.parse(capabilityOffset: capability.offset,
                                                      read32: { space.read32(function.address, offset: $0) }) {
                structures.record(parsed)
            }
        }
        guard structures.isModern, let common = structures.commonConfiguration,
              let notification = structures.notification, let deviceConfiguration = structures.deviceConfiguration else {
            throw .notModern
        }
        let bars = readBaseAddressRegisters(space, function.address)
        func mapped(_ capability: VirtioPCICapability) throws(NetworkDeviceError) -> UInt64 {
            guard capability.bar < 6, case .memory(let base, let size, _, _) = bars[Int(capability.bar)],
                  base != 0, UInt64(capability.offset) + UInt64(capability.length) <= size else {
                throw .barUnusable(bar: capability.bar)
            }
            let address = base + UInt64(capability.offset)
            guard KernelAddressSpace.mapDevice(physical: address, byteCount: UInt64(max(capability.length, 1))) else {
                throw .barUnusable(bar: capability.bar)
            }
            return address
        }
        // Memory decoding and DMA on; the legacy INTx line off: the network core polls.
        var command = space.readCommand(function.address)
        command.formUnion([.memorySpace, .busMaster, .interruptDisable])
        space.writeCommand(function.address, command)

        let transport = MemoryMappedVirtioTransport(
            common: try mapped(common), notifyBase: try mapped(notification),
            notifyOffsetMultiplier: notification.notifyOffsetMultiplier, device: try mapped(deviceConfiguration))
        let initializer = VirtioDeviceInitializer(transport: transport)
        // Features and queues, then (symmetric mode) the receive interrupt, then DRIVER_OK:
        // any failure marks the device FAILED (virtio 1.2 §3.1.1) and leaves the kernel without it.
        let features: FeatureSet
        var receive: ReceivePath
        let transmit: TransmitPath
        do throws(VirtioError) {
            features = try initializer.initialize(wanted: wantedFeatures, required: requiredFeatures)
            receive = try makeReceivePath(initializer, transport)
            transmit = try makeTransmitPath(initializer, transport)
        } catch {
            initializer.fail()
            throw .virtio(error)
        }
        if let receiveInterrupt {
            guard routeReceiveInterrupt(function, bars, transport, receiveInterrupt) else {
                initializer.fail()
                throw .interruptsUnavailable
            }
            receive.queue.setInterruptsSuppressed(false)
        }
        do throws(VirtioError) {
            try initializer.finish()
        } catch {
            initializer.fail()
            throw .virtio(error)
        }
        let configuration = VirtioNetConfiguration(transport: transport, features: features)
        let mac = configuration.mac ?? (0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
        var device = VirtioNetDevice(
            hardwareAddress: MACAddress(mac.0, mac.1, mac.2, mac.3, mac.4, mac.5), features: features,
            linkUp: !features.contains(.status) || configuration.status.contains(.linkUp),
            receive: receive, transmit: transmit)
        for index in 0..<device.receive.buffers.count { device.receive.post(index) }
        if device.receive.queue.publish() { transport.notify(queue: 0, queueNotifyOffset: device.receive.notifyOffset) }
        return device
    }

    /// Virtio 1.2 §4.1.5.1.2: MSI-X on first, then the receive queue mapped to table entry 0
    /// (checked by read-back), before DRIVER_OK so that no event reaches a stale vector.
    private static func routeReceiveInterrupt(_ function: PCIFunction, _ bars: BaseAddressRegisters,
                                              _ transport: MemoryMappedVirtioTransport,
                                              _ interrupt: (apicID: UInt32, vector: UInt8)) -> Bool {
        guard let table = MSIX.enable(function: function, bars: bars),
              table.route(entry: 0, apicID: interrupt.apicID, vector: interrupt.vector) else { return false }
        do throws(MSIXVectorAssignmentError) {
            try transport.assignMSIXVector(queue: 0, entry: 0, tableEntryCount: table.entryCount)
            return true
        } catch {
            return false
        }
    }

    private static func makeQueue(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                                  index: UInt16) throws(VirtioError) -> (SplitVirtqueue, UInt16) {
        let size = min(try initializer.maximumQueueSize(index: index), maximumQueueSize)
        let bytes = SplitVirtqueue.byteCount(queueSize: size)
        guard let memory = PhysicalMemory.allocate(count: (bytes + 4095) / 4096) else {
            throw .queueUnavailable(index: index)
        }
        var queue = SplitVirtqueue(memory: UnsafeMutableRawPointer(bitPattern: UInt(memory))!,
                                   physicalAddress: memory, size: size)
        queue.setInterruptsSuppressed(true)
        let notifyOffset = try initializer.setUpQueue(index: index, addresses: queue.addresses)
        return (queue, notifyOffset)
    }

    private static func descriptorTable(_ count: Int) -> UnsafeMutablePointer<UInt16> {
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        table.initialize(repeating: 0, count: count)
        return table
    }

    private static func makeReceivePath(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                                        _ transport: MemoryMappedVirtioTransport) throws(VirtioError) -> ReceivePath {
        let (queue, notifyOffset) = try makeQueue(initializer, index: 0)
        guard let buffers = PacketBufferPool(count: Int(queue.size)) else { throw .queueUnavailable(index: 0) }
        return ReceivePath(queue: queue, buffers: buffers, transport: transport, notifyOffset: notifyOffset,
                           bufferOfDescriptor: descriptorTable(Int(queue.size)))
    }

    private static func makeTransmitPath(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                                         _ transport: MemoryMappedVirtioTransport) throws(VirtioError) -> TransmitPath {
        let (queue, notifyOffset) = try makeQueue(initializer, index: 1)
        guard let buffers = PacketBufferPool(count: Int(queue.size)) else { throw .queueUnavailable(index: 1) }
        let free = descriptorTable(buffers.count)
        for index in 0..<buffers.count { free[index] = UInt16(index) }
        return TransmitPath(queue: queue, buffers: buffers, transport: transport, notifyOffset: notifyOffset,
                            bufferOfDescriptor: descriptorTable(Int(queue.size)), freeBuffers: free,
                            freeCount: buffers.count)
    }
}
