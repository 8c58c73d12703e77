// The stack's ARP: answering requests for our address, merging what ARP packets teach, resolving next hops, timers.

import RawBytes

extension NetworkStack {
    /// RFC 826 "Packet Reception", in its order: check the hardware and protocol types, merge
    /// the sender into the table if present, add it if the packet is for us, then answer a
    /// request for our address.
    mutating func handleARP<Transmitter: FrameTransmitter>(_ payload: ByteReader, ethernet: EthernetHeader, now: UInt64,
                                                           transmitter: inout Transmitter) throws(DropReason) {
        counters.arp.received(min(payload.count, ARPPacket.size))
        let packet = try ARPPacket(parsing: payload)
        guard !packet.senderHardwareAddress.isGroup else { throw .badAddress }
        let sender = packet.senderProtocolAddress
        // An ARP probe (RFC 5227) has sender 0.0.0.0; our own or a broadcast address must never
        // be mapped either.
        let learnable = sender != .any && sender != configuration.address && !sender.isMulticast
            && !configuration.isBroadcast(sender)
        let forUs = packet.targetProtocolAddress == configuration.address
        var learned = false
        if learnable {
            learned = arpCache.update(sender, hardwareAddress: packet.senderHardwareAddress, now: now)
            if !learned && forUs {
                if let evicted = arpCache.insert(sender, hardwareAddress: packet.senderHardwareAddress, now: now) {
                    dropPending(for: evicted)
                }
                learned = true
            }
            if learned {
                scheduleTimer(at: now.addingClamped(ARPCache.entryLifetime))
                sendPending(to: sender, hardwareAddress: packet.senderHardwareAddress, transmitter: &transmitter)
            }
        }
        guard forUs else {
            if learned { return }
            throw .notForUs
        }
        if packet.operation == .request {
            let reply = ARPPacket(operation: .reply,
                                  senderHardwareAddress: configuration.hardwareAddress,
                                  senderProtocolAddress: configuration.address,
                                  targetHardwareAddress: packet.senderHardwareAddress,
                                  targetProtocolAddress: sender)
            let source = configuration.hardwareAddress
            transmit(&transmitter) { buffer in
                reply.writeFrame(into: buffer, source: source, destination: packet.senderHardwareAddress)
            }
        } else if packet.operation != .reply {
            throw .unsupportedMessage
        }
    }

    /// Broadcasts "who has `address`?".
    mutating func sendARPRequest<Transmitter: FrameTransmitter>(for address: IPv4Address, transmitter: inout Transmitter) {
        let request = ARPPacket(operation: .request,
                                senderHardwareAddress: configuration.hardwareAddress,
                                senderProtocolAddress: configuration.address,
                                targetHardwareAddress: .zero,
                                targetProtocolAddress: address)
        let source = configuration.hardwareAddress
        transmit(&transmitter) { buffer in
            request.writeFrame(into: buffer, source: source, destination: .broadcast)
        }
    }

    /// Sends, oldest first, every queued frame waiting for `address`, now that it is at `hardwareAddress`.
    mutating func sendPending<Transmitter: FrameTransmitter>(to address: IPv4Address, hardwareAddress: MACAddress,
                                                             transmitter: inout Transmitter) {
        while let slot = pendingQueue.oldest(for: address) {
            let frame = ByteReader(pendingQueue.frame(at: slot))
            transmit(&transmitter) { buffer in
                guard buffer.count >= frame.count else { return 0 }
                let writer = NetworkOrderWriter(buffer)
                writer.copy(frame, to: 0)
                writer.store(hardwareAddress, at: 0)
                return frame.count
            }
            pendingQueue.release(slot)
        }
    }

    /// Drops every queued frame waiting for `address` (its resolution failed or was evicted).
    mutating func dropPending(for address: IPv4Address) {
        let dropped = pendingQueue.removeAll(for: address)
        if dropped > 0 { counters.countDrop(.noARPEntry, count: dropped) }
    }

    /// Makes sure `poll` looks again no later than `deadline`.
    mutating func scheduleTimer(at deadline: UInt64) {
        if deadline < nextTimerDeadline { nextTimerDeadline = deadline }
    }

    /// Timers: ARP retries (one request a second, three in all), giving up on silent addresses
    /// (their packets are dropped as `noARPEntry`), expiry of resolved entries after a minute,
    /// and dropping packets that waited too long. Call it on every pass of the polling loop: it
    /// returns at once until the earliest deadline has come.
    public mutating func poll<Transmitter: FrameTransmitter>(now: UInt64, transmitter: inout Transmitter) {
        guard now >= nextTimerDeadline else { return }
        var next = UInt64.max
        for index in 0..<arpCache.capacity {
            let entry = arpCache.entry(at: index)
            switch entry.state {
            case .free:
                continue
            case .resolved:
                let expiry = entry.updatedAt.addingClamped(ARPCache.entryLifetime)
                if now >= expiry {
                    arpCache.remove(at: index)
                } else {
                    next = min(next, expiry)
                }
            case .incomplete:
                if now >= entry.nextRequestAt {
                    if entry.requestsSent >= ARPCache.maximumRequests {
                        arpCache.remove(at: index)
                        counters.arpResolutionFailures &+= 1
                        dropPending(for: entry.address)
                        continue
                    }
                    sendARPRequest(for: entry.address, transmitter: &transmitter)
                    arpCache.recordRequest(at: index, now: now)
                }
                next = min(next, arpCache.entry(at: index).nextRequestAt)
            }
        }
        if pendingQueue.count > 0 {
            for index in 0..<pendingQueue.capacity {
                let slot = pendingQueue.slot(at: index)
                guard slot.inUse else { continue }
                let expiry = slot.enqueuedAt.addingClamped(PendingQueue.timeout)
                if now >= expiry {
                    pendingQueue.release(index)
                    counters.countDrop(.noARPEntry)
                } else {
                    next = min(next, expiry)
                }
            }
        }
        nextTimerDeadline = next
    }
}
