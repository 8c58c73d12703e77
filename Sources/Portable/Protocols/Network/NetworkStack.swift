// The network stack's state and its receive path: Ethernet demultiplexing of each received frame.

import RawBytes

/// The whole IPv4 stack of one interface — Ethernet, ARP, IPv4, ICMP echo and UDP — driven by
/// the network core: it hands every received frame to `receive` and calls `poll` on each pass
/// of its loop.
///
/// Nothing on the packet path allocates: the ARP cache and the queue of packets awaiting
/// resolution are allocated once by `init` and only changed in place after that; replies are
/// built directly in the driver's transmit buffers. The stack is meant to live as long as the
/// network core; copies of it share that storage, so only one copy may be used.
public struct NetworkStack {
    /// Our addresses.
    public var configuration: InterfaceConfiguration
    /// Traffic and drop counters.
    public var counters = NetworkCounters()
    /// The port of the built-in UDP echo service (RFC 862), or `nil` to disable it.
    public var udpEchoPort: UInt16? = 7
    /// The most ICMP error messages (port unreachable) sent per second; 0 sends none. RFC 1812
    /// §4.3.2.8 and RFC 1122 §3.2.2 ask hosts to limit them so they cannot be used to flood.
    public var icmpErrorsPerSecond = 100
    /// Who finishes the TCP and UDP checksums of sent frames: `.device` only when the driver
    /// negotiated checksum offload and marks every such frame for the device to finish. The
    /// TCP table's segments follow it too (their transmitter asks the stack).
    public var transmitChecksum = TransmitChecksum.software
    /// The ARP cache (read-only outside the stack).
    public internal(set) var arpCache: ARPCache

    var pendingQueue: PendingQueue
    /// The identification of the next datagram we send (RFC 791 §3.2; RFC 6864 allows any value
    /// for atomic datagrams such as ours, a counter is the simplest).
    var nextIdentification: UInt16 = 0
    /// The earliest time `poll` has something to do; `UInt64.max` when nothing is pending.
    var nextTimerDeadline: UInt64 = .max
    var icmpErrorWindowStart: UInt64 = 0
    var icmpErrorsInWindow = 0
    /// UDP ports bound by listeners (programs), with the listener's number: a small fixed
    /// table, searched linearly (a handful of programs bind a handful of ports).
    var boundPorts = InlineArray<16, UInt16>(repeating: 0)
    var boundListeners = InlineArray<16, Int>(repeating: 0)
    var boundCount = 0

    /// Creates the stack and allocates its fixed storage: `arpCacheCapacity` cache entries and
    /// `pendingQueueCapacity` frame-sized slots for packets awaiting ARP (each at least one).
    public init(configuration: InterfaceConfiguration, arpCacheCapacity: Int = 64, pendingQueueCapacity: Int = 16) {
        self.configuration = configuration
        arpCache = ARPCache(capacity: arpCacheCapacity)
        pendingQueue = PendingQueue(capacity: pendingQueueCapacity)
    }

    /// The number of outgoing packets waiting for ARP resolution.
    public var pendingPacketCount: Int { pendingQueue.count }

    /// Handles one received Ethernet frame (without FCS). `now` is nanoseconds of a monotonic
    /// clock. Replies are sent through `transmitter` before this returns. The frame is only
    /// read, never beyond its end, and is not referenced afterwards. `checksum` is what the
    /// device said about its TCP or UDP checksum (`.trusted`: not verified again).
    ///
    /// A UDP datagram for a port a listener has bound, and a TCP segment for us, are not
    /// answered here: they come back (`.datagram`, `.segment`) pointing into `frame`, for the
    /// caller to hand on before the frame's buffer is reused.
    @discardableResult
    public mutating func receive<Transmitter: FrameTransmitter>(frame: UnsafeRawBufferPointer, now: UInt64,
                                                                checksum: ReceivedChecksum = .unverified,
                                                                transmitter: inout Transmitter) -> ReceiveOutcome {
        counters.ethernet.received(frame.count)
        do throws(DropReason) {
            let outcome = try handleFrame(ByteReader(frame), now: now, checksum: checksum, transmitter: &transmitter)
            counters.framesDelivered &+= 1
            return outcome
        } catch {
            counters.countDrop(error)
            return .dropped(error)
        }
    }

    /// Binds UDP `port` to `listener` (a number the caller chooses, e.g. a channel). Datagrams
    /// to it are then delivered instead of answered — also on the built-in echo port, so a
    /// program that binds port 7 becomes its echo server. False when the port is taken, is 0,
    /// or the table is full.
    public mutating func bind(port: UInt16, listener: Int) -> Bool {
        guard port != 0, self.listener(of: port) == nil, boundCount < 16 else { return false }
        boundPorts[boundCount] = port
        boundListeners[boundCount] = listener
        boundCount += 1
        return true
    }

    /// Releases `port`.
    public mutating func unbind(port: UInt16) {
        for index in 0..<boundCount where boundPorts[index] == port {
            boundCount -= 1
            boundPorts[index] = boundPorts[boundCount]
            boundListeners[index] = boundListeners[boundCount]
            return
        }
    }

    /// The listener bound to `port`, if any.
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    public func listener(of port: UInt16) -> Int? {
        for index in 0..<boundCount where boundPorts[index] == port { return boundListeners[index] }
        return nil
    }

    /// Ethernet II demultiplexing — RFC 894. Only frames for our MAC or the broadcast address
    /// are taken (virtio-net passes everything up unless told to filter).
    private mutating func handleFrame<Transmitter: FrameTransmitter>(_ frame: ByteReader, now: UInt64, checksum: ReceivedChecksum,
                                                                     transmitter: inout Transmitter) throws(DropReason) -> ReceiveOutcome {
        // Only a frame the device merged from TCP segments may exceed one MTU.
        guard frame.count <= (checksum == .coalesced ? largestSegmentedFrameSize : EthernetHeader.maximumFrameSize)
        else { throw .oversized }
        guard let ethernet = EthernetHeader(reading: frame),
              let payload = frame.suffix(from: EthernetHeader.size)
        else { throw .truncated }
        guard ethernet.destination == configuration.hardwareAddress || ethernet.destination == .broadcast
        else { throw .notForUs }
        // Replies go to the source address: a group address there would make us multicast them.
        guard !ethernet.source.isGroup else { throw .badAddress }
        if ethernet.etherType == .arp {
            try handleARP(payload, ethernet: ethernet, now: now, transmitter: &transmitter)
            return .handled
        } else if ethernet.etherType == .ipv4 {
            return try handleIPv4(payload, ethernet: ethernet, now: now, checksum: checksum, transmitter: &transmitter)
        } else {
            throw .unknownEtherType
        }
    }

    /// The identification for the next datagram we send.
    mutating func takeIdentification() -> UInt16 {
        let identification = nextIdentification
        nextIdentification &+= 1
        return identification
    }

    /// Lets the driver lend a buffer, fills it with `build`, and counts the frame per layer.
    /// Returns false when the driver has no buffer, and counts it as a `transmitRingFull` drop
    /// unless `refusalIsRetried` (the caller keeps the frame's contents and sends them
    /// later). A frame too large for the driver's buffer (`build` returned 0) is a counted
    /// `transmitRingFull` drop; it returns false, or true with `refusalIsRetried` so that
    /// such a caller does not retry what cannot be built.
    @discardableResult
    mutating func transmit<Transmitter: FrameTransmitter>(_ transmitter: inout Transmitter, segmentSize: Int = 0,
                                                          refusalIsRetried: Bool = false,
                                                          _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        var summary = TransmittedFrame()
        func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
            let length = build(buffer)
            guard length > 0, length <= buffer.count else { return 0 }
            summary = TransmittedFrame(ByteReader(UnsafeRawBufferPointer(start: buffer.baseAddress, count: length)))
            return length
        }
        // A segmented frame counts once here, as the NIC got it (the wire sees several).
        let accepted = segmentSize > 0 ? transmitter.transmitSegmented(segmentSize: segmentSize, fill) : transmitter.transmit(fill)
        guard accepted else {
            if !refusalIsRetried { counters.countDrop(.transmitRingFull) }
            return false
        }
        guard summary.frameLength > 0 else {
            // Not built: the buffer was too small. Always a counted loss; a caller that retries
            // refusals is told it went (true), since the same frame would fail the same way again.
            counters.countDrop(.transmitRingFull)
            return refusalIsRetried
        }
        summary.count(into: &counters)
        return true
    }
}

/// The per-layer lengths of a frame we built, read back from it to count it.
struct TransmittedFrame {
    var frameLength = 0
    var etherType = EtherType(rawValue: 0)
    var ipv4Length = 0
    var ipProtocol = IPProtocol(rawValue: 0)
    var transportLength = 0

    init() {}

    init(_ frame: ByteReader) {
        frameLength = frame.count
        guard let header = EthernetHeader(reading: frame) else { return }
        etherType = header.etherType
        guard etherType == .ipv4, let payload = frame.suffix(from: EthernetHeader.size),
              let ipv4 = IPv4Header(reading: payload)
        else { return }
        ipv4Length = Int(ipv4.totalLength)
        ipProtocol = ipv4.protocolNumber
        transportLength = ipv4Length - ipv4.headerLength
    }

    func count(into counters: inout NetworkCounters) {
        counters.ethernet.sent(frameLength)
        if etherType == .arp {
            counters.arp.sent(ARPPacket.size)
        } else if etherType == .ipv4 {
            counters.ipv4.sent(ipv4Length)
            if ipProtocol == .icmp {
                counters.icmp.sent(transportLength)
            } else if ipProtocol == .udp {
                counters.udp.sent(transportLength)
            } else if ipProtocol == .tcp {
                counters.tcp.sent(transportLength)
            }
        }
    }
}
