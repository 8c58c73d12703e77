/// The virtio-net driver: finds the device on PCI, negotiates, and sets up its queue pairs (several with VIRTIO_NET_F_MQ, steered by RSS).
import BootConfiguration
import Network
import PCI
import Paging
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

/// Packet buffers of one size, in one physically contiguous block: each holds the 12-byte
/// virtio-net header (virtio 1.2 §5.1.6) and then a whole Ethernet frame. The rings' buffers
/// are `bufferBytes` each; the segmentation buffers (`SegmentationBuffers`) are larger.
struct PacketBufferPool {
    /// The size of a ring's buffers: a header and a 1514-byte frame, rounded up.
    static let bufferBytes = 2048
    let base: PhysicalAddress
    let count: Int
    /// Bytes from one buffer to the next.
    let stride: Int

    init?(count: Int, bufferBytes: Int = PacketBufferPool.bufferBytes) {
        guard let base = PhysicalMemory.allocate(count: Page.count(covering: count * bufferBytes)) else { return nil }
        self.base = base
        self.count = count
        stride = bufferBytes
    }

    func address(_ index: Int) -> PhysicalAddress { base + index * stride }
    func pointer(_ index: Int) -> UnsafeMutableRawPointer { address(index).pointer }
}

/// The device side of the receive path: receiveqN of the pair (virtio 1.2 §5.1.2). Every
/// buffer is always either with the device or being handled by the network core, so the
/// descriptor id returned by the queue is enough to find it again.
struct ReceivePath {
    var queue: SplitVirtqueue
    let buffers: PacketBufferPool
    let transport: MemoryMappedVirtioTransport
    /// The virtqueue's index (2 × pair) and notification offset.
    let queueIndex: UInt16
    let notifyOffset: UInt16
    /// Which buffer each descriptor id carries (the queue hands ids back in `takeUsed`).
    let bufferOfDescriptor: UnsafeMutablePointer<UInt16>
    /// Frames shorter than the virtio-net header (a device bug): counted and recycled.
    var runtFrames: UInt64 = 0
    /// Doorbell writes: buffers given back that the device asked to hear about (with
    /// EVENT_IDX only when it had caught up with the ring, §2.7.10).
    var notifications: UInt64 = 0
    /// VIRTIO_NET_F_GUEST_CSUM was negotiated: the header's flags may vouch for a frame's checksum.
    var trustsChecksums = false
    /// Frames whose transport checksum the device vouched for (not summed again by the stack).
    var checksumsTrusted: UInt64 = 0
    /// VIRTIO_NET_F_GUEST_TSO4 with MRG_RXBUF: the device may merge TCP segments into one frame
    /// of up to 64 KiB spread over several buffers, gathered here (nil: off).
    var merged: MergedReceiveBuffers? = nil
    /// The verdict of the frame being gathered (its first buffer's header says it).
    var gatheredChecksum = ReceivedChecksum.unverified
    /// Frames the device merged from several TCP segments, and those that spanned buffers.
    var coalescedFrames: UInt64 = 0
    /// Merged packets dropped: a bad buffer count, or larger than the gathering area.
    var badMergedFrames: UInt64 = 0

    /// Gives buffer `index` to the device (made visible at the next `publish`).
    mutating func post(_ index: Int) {
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(PacketBufferPool.bufferBytes),
                                 deviceWritable: true) else { return }
        bufferOfDescriptor[Int(id)] = UInt16(index)
    }

    /// Whether this queue's MSI-X vector is routed to a CPU (symmetric mode, or
    /// `net-idle=interrupt`); without it there is nothing to arm (`FrameReceiver`).
    var interruptsOnArrival = false

    /// `net-idle=interrupt`: see `FrameReceiver.armArrivalInterrupt` and
    /// `SplitVirtqueue.armInterruptUnlessUsed` (which closes the §2.7.14 race).
    mutating func armArrivalInterrupt() -> Bool {
        interruptsOnArrival && queue.armInterruptUnlessUsed()
    }

    mutating func disarmArrivalInterrupt() {
        if interruptsOnArrival { queue.setInterruptsSuppressed(true) }
    }

    /// Hands up to `limit` received frames (without the virtio-net header) to `body`, then
    /// returns their buffers to the device. Returns how many frames there were.
    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Int {
        var handled = 0
        while handled < limit, let used = queue.takeUsed() {
            let index = Int(bufferOfDescriptor[Int(used.id)])
            let length = Int(used.length)
            if merged?.isGathering == true {
                // A later buffer of a merged packet: frame bytes only, no header (§5.1.6.4).
                let piece = UnsafeRawBufferPointer(start: buffers.pointer(index), count: min(length, PacketBufferPool.bufferBytes))
                if merged!.append(piece) {
                    if let frame = merged!.frame {
                        body(frame, gatheredChecksum)
                        merged!.abandon()
                    }
                } else {
                    badMergedFrames &+= 1
                }
            } else if length > VirtioNetHeader.byteCount && length <= PacketBufferPool.bufferBytes {
                let buffer = buffers.pointer(index)
                let frame = UnsafeRawBufferPointer(start: buffer + VirtioNetHeader.byteCount,
                                                   count: length - VirtioNetHeader.byteCount)
                // §5.1.6.4: with GUEST_CSUM, DATA_VALID says the device checked the checksum and
                // NEEDS_CSUM that it is incomplete but the data vouched for (a peer on the host
                // left it to be finished); either way the stack must not sum it again. The header
                // is read only when an offload gave it something to say.
                var checksum = ReceivedChecksum.unverified
                let header = trustsChecksums || merged != nil ? VirtioNetHeader(loadingFrom: UnsafeRawPointer(buffer)) : VirtioNetHeader()
                if trustsChecksums && !header.flags.isDisjoint(with: [.dataValid, .needsChecksum]) {
                    checksum = .trusted
                    checksumsTrusted &+= 1
                }
                if merged != nil {
                    // GUEST_TSO4 with MRG_RXBUF: a gso_type says the device merged segments (the
                    // frame may exceed one MTU); num_buffers says how many buffers the packet spans.
                    if header.segmentationType & 0x7F != VirtioNetHeader.SegmentationType.none.rawValue, checksum == .trusted {
                        checksum = .coalesced
                        coalescedFrames &+= 1
                    }
                    if header.bufferCount != 1 {
                        if merged!.begin(first: frame, bufferCount: Int(header.bufferCount)) {
                            gatheredChecksum = checksum
                        } else {
                            badMergedFrames &+= 1
                        }
                        post(index)
                        handled += 1
                        continue
                    }
                }
                body(frame, checksum)
            } else {
                runtFrames += 1
            }
            post(index)
            handled += 1
        }
        if handled > 0 { publish() }
        return handled
    }

    /// Posts every buffer (at start, and after a device reset).
    mutating func postAllBuffers() {
        for buffer in 0..<buffers.count { post(buffer) }
    }

    /// Shows the posted buffers to the device and notifies it if it asked to be.
    mutating func publish() {
        if queue.publish() {
            transport.notify(queue: queueIndex, queueNotifyOffset: notifyOffset)
            notifications &+= 1
        }
    }
}

/// The transmit path: transmitqN of the pair. Frames are built straight into free buffers
/// (no copy after the stack writes them), queued, and announced to the device in batches by
/// `flush` — one notification per poll-loop pass instead of one per frame.
struct TransmitPath: FrameTransmitter {
    var queue: SplitVirtqueue
    let buffers: PacketBufferPool
    let transport: MemoryMappedVirtioTransport
    /// The virtqueue's index (2 × pair + 1) and notification offset.
    let queueIndex: UInt16
    let notifyOffset: UInt16
    let bufferOfDescriptor: UnsafeMutablePointer<UInt16>
    /// A stack of buffer indices not in flight.
    let freeBuffers: UnsafeMutablePointer<UInt16>
    var freeCount: Int
    var framesSent: UInt64 = 0
    /// Doorbell writes: flushes the device asked to hear about (with EVENT_IDX only when it
    /// had caught up with the ring, §2.7.10).
    var notifications: UInt64 = 0
    /// Fault injection on sent frames (`impair-tx=`), nil when off: frames are then built in
    /// `impairmentScratch` and judged before they reach the ring (a copy only in this mode).
    var impairment: ImpairedLinkDirection? = nil
    var impairmentScratch: UnsafeMutableRawPointer? = nil
    /// Whether `impairment` is set (a Bool test: `!= nil` would copy the optional every frame).
    var impairs = false
    /// VIRTIO_NET_F_CSUM was negotiated and the stacks leave TCP and UDP checksums to the
    /// device: every such frame is marked NEEDS_CSUM (the stacks' `TransmitChecksum.device`).
    var offloadsChecksums = false
    /// Frames sent with NEEDS_CSUM.
    var checksumsOffloaded: UInt64 = 0
    /// VIRTIO_NET_F_HOST_TSO4 was negotiated and these large buffers were allocated: TCP may
    /// hand over segments of up to 64 KiB for the device to cut (`transmitSegmented`).
    var segmentation: PacketBufferPool? = nil
    /// A stack of large buffer indices not in flight.
    var freeSegmentationBuffers: UnsafeMutablePointer<UInt16>? = nil
    var freeSegmentationCount = 0
    /// Frames sent with a GSO header (TCPV4), and the wire segments the device made of them.
    var segmentedFrames: UInt64 = 0
    var segmentedPieces: UInt64 = 0
    /// `bufferOfDescriptor` marks a large buffer with this bit.
    static let largeBufferBit: UInt16 = 0x8000

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
        if offloadsChecksums { requestChecksum(buffer, length: length) }
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
        if offloadsChecksums { requestChecksum(buffer, length: frame.count) }
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(VirtioNetHeader.byteCount + frame.count),
                                 deviceWritable: false) else { return false }
        bufferOfDescriptor[Int(id)] = UInt16(index)
        freeCount -= 1
        framesSent += 1
        return true
    }

    /// Marks the frame in `buffer` (after its zeroed header) for the device to finish its TCP or
    /// UDP checksum, whose field holds the pseudo-header sum: NEEDS_CSUM with csum_start at the
    /// transport header and csum_offset at its checksum field (virtio 1.2 §5.1.6.2). Other
    /// frames (ARP, ICMP) carry complete checksums and keep the all-zero header.
    private mutating func requestChecksum(_ buffer: UnsafeMutableRawPointer, length: Int) {
        let frame = UnsafeRawBufferPointer(start: buffer + VirtioNetHeader.byteCount, count: length)
        guard let request = ChecksumOffloadRequest(frame: frame) else { return }
        VirtioNetHeader(flags: .needsChecksum, checksumStart: request.start, checksumOffset: request.offset).store(to: buffer)
        checksumsOffloaded &+= 1
    }

    /// Makes every buffer, and every large one when there are any, free: none is in flight (at
    /// start, and after a device reset).
    mutating func freeAllBuffers() {
        for buffer in 0..<buffers.count { freeBuffers[buffer] = UInt16(buffer) }
        freeCount = buffers.count
        if let free = freeSegmentationBuffers {
            for buffer in 0..<SegmentationBuffers.count { free[buffer] = UInt16(buffer) }
            freeSegmentationCount = SegmentationBuffers.count
        }
    }

    /// Takes back the buffers the device has sent.
    mutating func reclaim() {
        while let used = queue.takeUsed() {
            let buffer = bufferOfDescriptor[Int(used.id)]
            if buffer & Self.largeBufferBit != 0, let free = freeSegmentationBuffers {
                free[freeSegmentationCount] = buffer & ~Self.largeBufferBit
                freeSegmentationCount += 1
            } else {
                freeBuffers[freeCount] = buffer
                freeCount += 1
            }
        }
    }

    /// The largest frame `transmitSegmented` takes now: an IPv4 datagram of 64 KiB when TSO is
    /// on, a large buffer is free (taking back sent ones first) and a descriptor is; else 0.
    /// Never under `impair-tx=`, whose copies go through the 2 KiB buffers.
    mutating func largestSegmentedFrame() -> Int {
        guard segmentation != nil, !impairs else { return 0 }
        if freeSegmentationCount == 0 { reclaim() }
        guard freeSegmentationCount > 0, queue.freeDescriptorCount > 0 else { return 0 }
        return min(largestSegmentedFrameSize, SegmentationBuffers.bufferBytes - VirtioNetHeader.byteCount)
    }

    /// Builds a TCP frame of up to 64 KiB in a large buffer and, when it is longer than one
    /// MTU, asks the device to cut it (virtio 1.2 §5.1.6.2): gso_type TCPV4, gso_size the
    /// segment size, hdr_len the headers' length, and NEEDS_CSUM at the TCP checksum (TSO
    /// implies checksum offload: the field holds the pseudo-header sum). A frame that came out
    /// short is sent as it is, with checksum offload only.
    mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        let capacity = largestSegmentedFrame()
        guard capacity > 0, let buffers = segmentation, let free = freeSegmentationBuffers else { return transmit(build) }
        let index = Int(free[freeSegmentationCount - 1])
        let buffer = buffers.pointer(index)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.byteCount)
        let length = build(UnsafeMutableRawBufferPointer(start: buffer + VirtioNetHeader.byteCount, count: capacity))
        guard length > 0 && length <= capacity else { return true }
        let frame = UnsafeRawBufferPointer(start: buffer + VirtioNetHeader.byteCount, count: length)
        guard let request = ChecksumOffloadRequest(frame: frame) else { return true }  // not TCP/IPv4: cannot be
        if length > EthernetHeader.maximumFrameSize {
            // hdr_len: up to the end of the TCP header (its data offset, RFC 9293 §3.1).
            let tcpHeaderLength = Int(frame[Int(request.start) + 12] >> 4) * 4
            VirtioNetHeader(flags: .needsChecksum, segmentationType: VirtioNetHeader.SegmentationType.tcpIPv4.rawValue,
                            headerLength: request.start + UInt16(tcpHeaderLength), segmentSize: UInt16(segmentSize),
                            checksumStart: request.start, checksumOffset: request.offset).store(to: buffer)
            segmentedFrames &+= 1
            let payload = length - Int(request.start) - tcpHeaderLength
            segmentedPieces &+= UInt64((payload + segmentSize - 1) / segmentSize)
        } else {
            VirtioNetHeader(flags: .needsChecksum, checksumStart: request.start, checksumOffset: request.offset).store(to: buffer)
        }
        checksumsOffloaded &+= 1
        guard let id = queue.add(buffer: buffers.address(index), length: UInt32(VirtioNetHeader.byteCount + length),
                                 deviceWritable: false) else { return false }
        bufferOfDescriptor[Int(id)] = UInt16(index) | Self.largeBufferBit
        freeSegmentationCount -= 1
        framesSent += 1
        return true
    }

    /// Shows queued frames to the device and notifies it if it asked to be.
    mutating func flush() {
        if impairs { releaseHeldFrames() }
        guard queue.unpublishedCount > 0 else { return }
        if queue.publish() {
            transport.notify(queue: queueIndex, queueNotifyOffset: notifyOffset)
            notifications &+= 1
        }
    }
}

/// One queue pair: what one network context drives.
struct QueuePair {
    var receive: ReceivePath
    var transmit: TransmitPath
}

/// How the device spreads received flows over the queue pairs.
enum ReceiveSteering {
    /// One queue pair: nothing to spread.
    case single
    /// VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: the device (for tap, the host kernel) picks a queue
    /// per flow by its own rules, which the guest cannot predict (§5.1.6.5.6).
    case automatic
    /// VIRTIO_NET_CTRL_MQ_RSS_CONFIG with this key and table (§5.1.6.5.7).
    case receiveSideScaling(ReceiveSideScaling)
}

/// A virtio-net device made ready: its MAC address and its queue pairs.
struct VirtioNetDevice {
    /// 0x1000 is the transitional virtio-net (QEMU's default), 0x1041 the modern-only one
    /// (virtio 1.2 §4.1.2).
    static func isVirtioNet(_ function: PCIFunction) -> Bool {
        function.vendorID == VirtioPCIDevice.vendorID && (function.deviceID == 0x1000 || function.deviceID == 0x1041)
    }
    /// What we accept whatever `offload=` says (the offloads come from `offloadFeatures`).
    static let wantedFeatures: FeatureSet = [.mac, .status]

    /// The feature bits of the offloads `offload=` allows (§5.1.3).
    static func offloadFeatures(_ offloads: NetworkOffloads) -> FeatureSet {
        var features: FeatureSet = []
        if offloads.contains(.transmitChecksum) { features.insert(.deviceChecksum) }
        if offloads.contains(.receiveChecksum) { features.insert(.guestChecksum) }
        // §5.1.3.1: GUEST_TSO4 requires GUEST_CSUM; merged buffers let a 64 KiB packet arrive
        // in 2 KiB receive buffers.
        if offloads.contains(.receiveSegmentation) && offloads.contains(.receiveChecksum) {
            features.formUnion([.guestTCPSegmentationIPv4, .mergeableReceiveBuffers])
        }
        // §5.1.3.1: HOST_TSO4 requires CSUM.
        if offloads.contains(.transmitSegmentation) && offloads.contains(.transmitChecksum) {
            features.insert(.hostTCPSegmentationIPv4)
        }
        // §2.7.7, §2.7.10: ring event indices instead of the notification flags, on every queue.
        if offloads.contains(.eventIndex) { features.insert(.ringEventIndex) }
        return features
    }

    /// The offloads in use: those asked for that the device granted.
    var offloads: NetworkOffloads {
        var offloads: NetworkOffloads = []
        if features.contains(.deviceChecksum) { offloads.insert(.transmitChecksum) }
        if features.contains(.guestChecksum) { offloads.insert(.receiveChecksum) }
        if features.contains(.hostTCPSegmentationIPv4) && pairs.allSatisfy({ $0.transmit.segmentation != nil }) {
            offloads.insert(.transmitSegmentation)
        }
        if features.contains(.guestTCPSegmentationIPv4) && pairs.allSatisfy({ $0.receive.merged != nil }) {
            offloads.insert(.receiveSegmentation)
        }
        if features.contains(.ringEventIndex) { offloads.insert(.eventIndex) }
        return offloads
    }
    /// What we also accept when asked for several queue pairs: the control queue, multiqueue
    /// and RSS (§5.1.6.5.5, §5.1.6.5.7).
    static let multiqueueFeatures: FeatureSet = [.controlQueue, .multiqueue, .receiveSideScaling]
    static let requiredFeatures: FeatureSet = [.version1]
    static let maximumQueueSize: UInt16 = 256
    /// The hash types we ask RSS for: TCP and UDP over IPv4 by their four-tuple, other IPv4
    /// by addresses. TCP's four-tuple is what `ContextMesh` predicts for outgoing connections.
    static let hashTypes: VirtioNetHashTypes = [.ipv4, .tcpIPv4, .udpIPv4]

    let hardwareAddress: MACAddress
    /// The device's registers (for `NICWatch`'s readings of its status).
    let transport: MemoryMappedVirtioTransport
    let features: FeatureSet
    let linkUp: Bool
    /// The queue pairs in use, pair i at index i.
    var pairs: [QueuePair]
    /// How received flows are spread over them.
    let steering: ReceiveSteering
    /// Why fewer pairs than asked for are in use (nil when all are, or one was asked for).
    let shortfall: StaticString?

    /// Brings up the device at `function` with up to `queuePairs` queue pairs: modern
    /// capabilities, bus mastering, the status handshake, the queues, then DRIVER_OK, and with
    /// several pairs the control command that enables them (RSS when the device offers it,
    /// else automatic steering). A device without MQ, or one that refuses the command, runs
    /// with one pair, and `shortfall` says why.
    ///
    /// Device interrupts stay suppressed (network cores poll) unless `receiveInterrupt` names
    /// a CPU and vector for a pair: then that pair's receive queue is routed to that MSI-X
    /// interrupt, and nothing else is. `interruptsOn` (symmetric mode): they are wanted from
    /// the start, and a device that cannot route them is refused. Otherwise
    /// (`net-idle=interrupt`) they stay suppressed until a halting network core arms them, and
    /// a device without MSI-X leaves the pairs unrouted (`ReceivePath.interruptsOnArrival`).
    static func start(_ function: PCIFunction, queuePairs wanted: Int, offloads: NetworkOffloads, interruptsOn: Bool,
                      receiveInterrupt: (Int) -> (apicID: UInt32, vector: UInt8)?)
        throws(NetworkDeviceError) -> VirtioNetDevice {
        let transport: MemoryMappedVirtioTransport
        let bars: BaseAddressRegisters
        do throws(VirtioPCIError) {
            (transport, bars) = try MemoryMappedVirtioTransport.open(function)
        } catch {
            switch error {
            case .notModern: throw .notModern
            case .barUnusable(let bar): throw .barUnusable(bar: bar)
            }
        }
        // virtio-net's device configuration (§5.1.4: MAC, status, queue pairs) is not optional.
        guard transport.device != 0 else { throw .notModern }
        let initializer = VirtioDeviceInitializer(transport: transport)
        // Features and queues, then (symmetric mode) the receive interrupts, then DRIVER_OK:
        // any failure marks the device FAILED (virtio 1.2 §3.1.1) and leaves the kernel without it.
        let features: FeatureSet
        let configuration: VirtioNetConfiguration
        var pairs: [QueuePair] = []
        var control: VirtioNetControlQueue? = nil
        do throws(VirtioError) {
            var asked = wanted > 1 ? wantedFeatures.union(multiqueueFeatures) : wantedFeatures
            asked.formUnion(offloadFeatures(offloads))
            features = try initializer.initialize(wanted: asked, required: requiredFeatures)
            configuration = VirtioNetConfiguration(transport: transport, features: features)
            // §5.1.6.5.5: several pairs need MQ (or RSS) and the control queue to enable them.
            let canSpread = features.contains(.controlQueue)
                && (features.contains(.multiqueue) || features.contains(.receiveSideScaling))
            let count = canSpread ? max(1, min(wanted, Int(configuration.maximumQueuePairs), Int(InterruptVector.networkQueueCount))) : 1
            for pair in 0..<count {
                pairs.append(QueuePair(receive: try makeReceivePath(initializer, transport, pair: UInt16(pair), features: features),
                                       transmit: try makeTransmitPath(initializer, transport, pair: UInt16(pair), features: features)))
            }
            if count > 1, let index = configuration.controlQueueIndex {
                control = try VirtioNetControlQueue.make(initializer, transport, index: index,
                                                         eventIndex: features.contains(.ringEventIndex))
            }
        } catch {
            initializer.fail()
            throw .virtio(error)
        }
        if receiveInterrupt(0) != nil {
            let routed = routeReceiveInterrupts(function, bars, transport, pairs: pairs.count, receiveInterrupt)
            if !routed && interruptsOn {
                initializer.fail()
                throw .interruptsUnavailable
            }
            for index in pairs.indices {
                pairs[index].receive.interruptsOnArrival = routed
                if interruptsOn { pairs[index].receive.queue.setInterruptsSuppressed(false) }
            }
        }
        do throws(VirtioError) {
            try initializer.finish()
        } catch {
            initializer.fail()
            throw .virtio(error)
        }
        let mac = configuration.mac ?? (0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
        for index in pairs.indices {
            pairs[index].transmit.offloadsChecksums = features.contains(.deviceChecksum)
            pairs[index].receive.trustsChecksums = features.contains(.guestChecksum)
            // A gathering area only with merged buffers (GUEST_TSO4); 17 pages hold 64 KiB of
            // IPv4 behind its Ethernet header.
            if features.contains(.mergeableReceiveBuffers), let area = PhysicalMemory.allocate(count: 17) {
                pairs[index].receive.merged = MergedReceiveBuffers(scratch: area.pointer,
                                                                   capacity: SegmentationBuffers.bufferBytes)
            }
            // Large buffers only with TSO; without memory for them, segments stay one MSS.
            if features.contains(.hostTCPSegmentationIPv4), let buffers = SegmentationBuffers.make() {
                pairs[index].transmit.segmentation = buffers
                pairs[index].transmit.freeSegmentationBuffers = .allocate(capacity: SegmentationBuffers.count)
            }
            pairs[index].transmit.freeAllBuffers()
            pairs[index].receive.postAllBuffers()
            pairs[index].receive.publish()
        }
        // Enable the pairs: until the command succeeds the device uses the first pair only
        // (§5.1.6.5.5), so a refusal leaves a working single-queue device.
        var steering = ReceiveSteering.single
        var shortfall: StaticString? = nil
        if wanted > 1 && pairs.count == 1 {
            shortfall = features.contains(.multiqueue) ? "the device offers one queue pair" : "the device does not offer multiqueue (VIRTIO_NET_F_MQ)"
        }
        if pairs.count > 1 {
            if var queue = control, let chosen = enable(&queue, pairs: pairs.count, features: features, configuration: configuration) {
                steering = chosen
                if pairs.count < wanted { shortfall = "the device has fewer queue pairs" }
            } else {
                shortfall = "the device refused the multiqueue command"
                pairs.removeSubrange(1...)
            }
        }
        return VirtioNetDevice(
            hardwareAddress: MACAddress(mac.0, mac.1, mac.2, mac.3, mac.4, mac.5), transport: transport, features: features,
            linkUp: !features.contains(.status) || configuration.status.contains(.linkUp),
            pairs: pairs, steering: steering, shortfall: shortfall)
    }

    /// Sends RSS_CONFIG when the device does RSS over TCP/IPv4 (so that `ContextMesh` can
    /// predict it), else VQ_PAIRS_SET; returns the steering in force, or nil on failure.
    private static func enable(_ control: inout VirtioNetControlQueue, pairs: Int, features: FeatureSet,
                               configuration: VirtioNetConfiguration) -> ReceiveSteering? {
        if features.contains(.receiveSideScaling), let supported = configuration.supportedHashTypes,
           supported.contains(.tcpIPv4), (configuration.rssMaximumKeySize ?? 0) >= UInt8(ToeplitzHash.keyByteCount) {
            // The largest power-of-two table the device takes, up to our own maximum.
            var length = IndirectionTable.maximumLength
            while length > 1 && length > Int(configuration.rssMaximumIndirectionTableLength ?? 1) { length /= 2 }
            if let table = IndirectionTable(length: length, queueCount: pairs) {
                let scaling = ReceiveSideScaling(table: table)
                let key = scaling.hash.key
                do throws(VirtioNetControlQueue.Failure) {
                    try control.send { buffer in
                        table.withUnsafeEntries { entries in
                            key.span.withUnsafeBytes { keyBytes in
                                VirtioNetControl.writeRSSConfiguration(
                                    hashTypes: hashTypes.intersection(supported), indirectionTable: entries,
                                    unclassifiedQueue: 0, maximumTransmitQueues: UInt16(pairs), key: keyBytes, to: buffer)
                            }
                        }
                    }
                    return .receiveSideScaling(scaling)
                } catch {
                    Log.warning("net: the device refused RSS_CONFIG (\(error.description)); trying automatic steering")
                }
            }
        }
        do throws(VirtioNetControlQueue.Failure) {
            try control.send { VirtioNetControl.writeSetQueuePairs(UInt16(pairs), to: $0) }
            return .automatic
        } catch {
            Log.warning("net: the device refused VQ_PAIRS_SET (\(error.description))")
            return nil
        }
    }

    /// Virtio 1.2 §4.1.5.1.2: MSI-X on first, then receive queue i mapped to table entry i
    /// (checked by read-back), before DRIVER_OK so that no event reaches a stale vector.
    private static func routeReceiveInterrupts(_ function: PCIFunction, _ bars: BaseAddressRegisters,
                                               _ transport: MemoryMappedVirtioTransport, pairs: Int,
                                               _ interrupt: (Int) -> (apicID: UInt32, vector: UInt8)?) -> Bool {
        guard let table = MSIX.enable(function: function, bars: bars) else { return false }
        for pair in 0..<pairs {
            guard let target = interrupt(pair), table.route(entry: pair, apicID: target.apicID, vector: target.vector)
            else { return false }
            do throws(MSIXVectorAssignmentError) {
                try transport.assignMSIXVector(queue: VirtioNetConfiguration.receiveQueueIndex(pair: UInt16(pair)),
                                               entry: UInt16(pair), tableEntryCount: table.entryCount)
            } catch {
                return false
            }
        }
        return true
    }

    /// Sets up virtqueue `index` with interrupts suppressed (the network core polls), using
    /// ring event indices when VIRTIO_F_EVENT_IDX was negotiated: the feature covers every
    /// queue of the device, so each must read avail_event and write used_event (§2.7.7, §2.7.10).
    private static func makeQueue(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                                  index: UInt16, features: FeatureSet) throws(VirtioError) -> (SplitVirtqueue, UInt16) {
        let size = min(try initializer.maximumQueueSize(index: index), maximumQueueSize)
        let bytes = SplitVirtqueue.byteCount(queueSize: size)
        guard let memory = PhysicalMemory.allocate(count: Page.count(covering: bytes)) else {
            throw .queueUnavailable(index: index)
        }
        var queue = SplitVirtqueue(memory: memory.pointer, physicalAddress: memory, size: size)
        queue.eventIndexEnabled = features.contains(.ringEventIndex)
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
                                        _ transport: MemoryMappedVirtioTransport, pair: UInt16,
                                        features: FeatureSet) throws(VirtioError) -> ReceivePath {
        let index = VirtioNetConfiguration.receiveQueueIndex(pair: pair)
        let (queue, notifyOffset) = try makeQueue(initializer, index: index, features: features)
        guard let buffers = PacketBufferPool(count: Int(queue.size)) else { throw .queueUnavailable(index: index) }
        return ReceivePath(queue: queue, buffers: buffers, transport: transport, queueIndex: index, notifyOffset: notifyOffset,
                           bufferOfDescriptor: descriptorTable(Int(queue.size)))
    }

    private static func makeTransmitPath(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>,
                                         _ transport: MemoryMappedVirtioTransport, pair: UInt16,
                                         features: FeatureSet) throws(VirtioError) -> TransmitPath {
        let index = VirtioNetConfiguration.transmitQueueIndex(pair: pair)
        let (queue, notifyOffset) = try makeQueue(initializer, index: index, features: features)
        guard let buffers = PacketBufferPool(count: Int(queue.size)) else { throw .queueUnavailable(index: index) }
        // Every buffer is made free by `freeAllBuffers` once the large ones are known too.
        return TransmitPath(queue: queue, buffers: buffers, transport: transport, queueIndex: index, notifyOffset: notifyOffset,
                            bufferOfDescriptor: descriptorTable(Int(queue.size)), freeBuffers: descriptorTable(buffers.count),
                            freeCount: 0)
    }
}
