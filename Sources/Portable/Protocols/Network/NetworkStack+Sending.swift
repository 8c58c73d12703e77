// Originating UDP datagrams and other IPv4 datagrams (TCP): routing to the next hop, ARP resolution, and queueing while it resolves.

import RawBytes

/// Where a datagram goes on the link.
enum NextHop {
    /// A known hardware address (broadcast and multicast need no ARP).
    case hardware(MACAddress)
    /// An IPv4 address to resolve: the destination on our link, or the gateway.
    case resolve(IPv4Address)
}

extension NetworkStack {
    /// Sends a UDP datagram from our address and `sourcePort` to `destination`:`port`. The next
    /// hop is the destination on our subnet, else the gateway; when its hardware address is not
    /// in the ARP cache the frame is built now, queued, and sent when ARP answers.
    public mutating func sendDatagram<Transmitter: FrameTransmitter>(from sourcePort: UInt16, to destination: IPv4Address,
                                                                     port: UInt16, payload: UnsafeRawBufferPointer,
                                                                     now: UInt64, transmitter: inout Transmitter) -> SendResult {
        let data = ByteReader(payload)
        guard data.count <= UDPHeader.maximumPayloadSize else {
            counters.countDrop(.datagramTooLarge)
            return .datagramTooLarge
        }
        let source = configuration.address
        let mode = transmitChecksum
        return route(to: destination, now: now, transmitter: &transmitter) { buffer, ethernet, identification in
            UDPFrames.writeDatagram(into: buffer, ethernet: ethernet, source: source, sourcePort: sourcePort,
                                    destination: destination, destinationPort: port, payload: data,
                                    identification: identification, checksum: mode)
        }
    }

    /// Sends an IPv4 datagram of protocol `protocolNumber` from our address to `destination`:
    /// `writePayload` writes the transport header and data straight into the frame (it gets the
    /// room after the IPv4 header and returns the length it wrote, 0 to give up). Routing, ARP
    /// and queueing are those of `sendDatagram`. The TCP connection table sends through this.
    ///
    /// `segmentSize` above 0 asks for TCP segmentation offload: the payload may then be as long
    /// as the transmitter's `largestSegmentedFrame()` allows, and the NIC cuts it into segments
    /// of that size. Such a datagram never waits for ARP (a queue slot holds one MTU): with the
    /// next hop unresolved it is dropped and counted as `arpQueueFull`, and TCP sends it again
    /// in MSS-sized pieces.
    ///
    /// `refusalIsRetried`: the caller keeps the datagram and sends it again when the driver has
    /// no buffer (TCP's backpressure), so `.transmitRingFull` is returned but not counted as a drop.
    public mutating func sendIPv4<Transmitter: FrameTransmitter>(protocolNumber: IPProtocol, to destination: IPv4Address,
                                                                 now: UInt64, segmentSize: Int = 0, refusalIsRetried: Bool = false,
                                                                 transmitter: inout Transmitter,
                                                                 payload writePayload: (UnsafeMutableRawBufferPointer) -> Int) -> SendResult {
        let source = configuration.address
        let largest = segmentSize > 0 ? largestSegmentedFrameSize : EthernetHeader.maximumFrameSize
        return route(to: destination, now: now, segmentSize: segmentSize, refusalIsRetried: refusalIsRetried,
                     transmitter: &transmitter) { buffer, ethernet, identification in
            let payloadOffset = EthernetHeader.size + IPv4Header.minimumSize
            guard buffer.count > payloadOffset else { return 0 }
            let room = min(buffer.count, largest) - payloadOffset
            let length = writePayload(UnsafeMutableRawBufferPointer(rebasing: buffer[payloadOffset..<payloadOffset + room]))
            guard length > 0, length <= room else { return 0 }
            let writer = NetworkOrderWriter(buffer)
            ethernet.write(to: writer)
            IPv4Header(protocolNumber: protocolNumber, source: source, destination: destination,
                       payloadLength: length, identification: identification)
                .write(to: writer, at: EthernetHeader.size)
            return EthernetHeader.finish(writer, length: payloadOffset + length)
        }
    }

    /// Routes a datagram to `destination` and builds its frame with `build` (given the buffer,
    /// the Ethernet header to write and an IPv4 identification): straight into a transmit
    /// buffer when the next hop's hardware address is known, otherwise into the ARP queue, to
    /// leave when ARP answers (RFC 1122 §2.3.2.2).
    private mutating func route<Transmitter: FrameTransmitter>(
        to destination: IPv4Address, now: UInt64, segmentSize: Int = 0, refusalIsRetried: Bool = false,
        transmitter: inout Transmitter,
        build: (UnsafeMutableRawBufferPointer, EthernetHeader, UInt16) -> Int
    ) -> SendResult {
        guard let hop = nextHop(for: destination) else {
            counters.countDrop(.noRoute)
            return .noRoute
        }
        let ourHardwareAddress = configuration.hardwareAddress
        let identification = takeIdentification()
        let resolved: MACAddress?
        let address: IPv4Address
        switch hop {
        case .hardware(let hardwareAddress):
            resolved = hardwareAddress
            address = destination
        case .resolve(let nextHopAddress):
            resolved = arpCache.hardwareAddress(for: nextHopAddress, now: now)
            address = nextHopAddress
        }
        if let hardwareAddress = resolved {
            let ethernet = EthernetHeader(destination: hardwareAddress, source: ourHardwareAddress, etherType: .ipv4)
            let sent = transmit(&transmitter, segmentSize: segmentSize, refusalIsRetried: refusalIsRetried) { buffer in
                build(buffer, ethernet, identification)
            }
            return sent ? .sent : .transmitRingFull
        }
        guard segmentSize == 0 else {
            counters.countDrop(.arpQueueFull)
            return .queueFull
        }
        // The destination MAC is filled in when the frame leaves the queue.
        let ethernet = EthernetHeader(destination: .zero, source: ourHardwareAddress, etherType: .ipv4)
        let queued = pendingQueue.enqueue(nextHop: address, now: now) { buffer in build(buffer, ethernet, identification) }
        guard queued else {
            counters.countDrop(.arpQueueFull)
            return .queueFull
        }
        scheduleTimer(at: now.addingClamped(PendingQueue.timeout))
        // One request per second at most (RFC 1122 §2.3.2.1): an incomplete entry is already asking.
        if arpCache.entry(for: address)?.state != .incomplete {
            if let evicted = arpCache.beginResolution(of: address, now: now) {
                dropPending(for: evicted)
            }
            scheduleTimer(at: now.addingClamped(ARPCache.retryInterval))
            sendARPRequest(for: address, transmitter: &transmitter)
        }
        return .queued
    }

    /// The link-level next hop for `destination` (RFC 1122 §3.3.1), or `nil` when there is no route.
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    func nextHop(for destination: IPv4Address) -> NextHop? {
        if destination == .any || destination == configuration.address { return nil }
        if configuration.isBroadcast(destination) { return .hardware(.broadcast) }
        if destination.isMulticast {
            // RFC 1112 §6.4: 01-00-5E followed by the low 23 bits of the group address.
            let low = destination.rawValue
            return .hardware(MACAddress(0x01, 0x00, 0x5E, UInt8(truncatingIfNeeded: low >> 16) & 0x7F,
                                        UInt8(truncatingIfNeeded: low >> 8), UInt8(truncatingIfNeeded: low)))
        }
        if configuration.isOnLink(destination) { return .resolve(destination) }
        if let gateway = configuration.gateway, gateway != configuration.address, configuration.isOnLink(gateway) {
            return .resolve(gateway)
        }
        return nil
    }
}
