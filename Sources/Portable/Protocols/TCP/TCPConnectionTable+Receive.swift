// The connection table's segment path: parse, demultiplex by four-tuple, listeners with a half-open bound and SYN cookies, RSTs for closed ports.
import InternetAddress

import RawBytes

extension TCPConnectionTable {
    /// Processes one arriving TCP segment: `bytes` is the IPv4 payload (TCP header and data),
    /// `source` and `destination` the IPv4 addresses in host order. Verifies it (checksum
    /// included), hands it to its connection or listener, and says what happened. Any answer
    /// (ACK, RST, SYN-ACK) goes to `output` during the call. `verifyChecksum` false: the
    /// device vouched for the checksum (checksum offload), so it is not summed again.
    public mutating func receive<Output: TCPSegmentTransmitter>(segment bytes: ByteReader, source: IPv4Address, destination: IPv4Address,
                                                                now: UInt64, verifyChecksum: Bool = true,
                                                                output: inout Output) -> TCPReceiveOutcome {
        var none = NoDirectReceiver()
        return receive(segment: bytes, source: source, destination: destination, now: now, verifyChecksum: verifyChecksum,
                       output: &output, directReceiver: &none)
    }

    /// `receive`, letting `directReceiver` take in-order data of connections already shown to
    /// their owners straight from the segment (copied once; see `TCPDirectReceiver`).
    public mutating func receive<Output: TCPSegmentTransmitter, Receiver: TCPDirectReceiver>(
        segment bytes: ByteReader, source: IPv4Address, destination: IPv4Address, now: UInt64, verifyChecksum: Bool = true,
        output: inout Output, directReceiver: inout Receiver) -> TCPReceiveOutcome {
        tableCounters.segmentsReceived &+= 1
        guard destination == localAddress else { return drop(.notForUs) }
        // RFC 1122 §4.2.3.10: segments from a broadcast or multicast address (or 0, which no
        // host has) are not to be answered; none can be a connection's peer.
        guard source != .any, source != .broadcast, !source.isMulticast else { return drop(.invalidSource) }
        let segment: TCPSegment
        do {
            segment = try TCPSegment(parsing: bytes, source: source, destination: destination, verifyChecksum: verifyChecksum)
        } catch {
            return drop(error == .badChecksum ? .badChecksum : .malformed)
        }
        // Port 0 is reserved (RFC 6335 §6): no connection has it, so nothing answers it.
        guard segment.header.sourcePort != 0, segment.header.destinationPort != 0 else { return drop(.malformed) }
        if segment.header.flags.contains(.reset) { tableCounters.resetsReceived &+= 1 }
        return withUnsafeMutablePointer(to: &directReceiver) { receiver in
            withCountingTransmitter(&output) { counting in
                let outcome = demultiplex(segment, source: source, now: now, output: &counting, receiver: receiver)
                record(counting)
                return outcome
            }
        }
    }

    mutating func drop(_ reason: TCPDropReason) -> TCPReceiveOutcome {
        tableCounters.drops[reason] &+= 1
        return .dropped(reason)
    }

    /// The four-tuple first (RFC 9293 §3.10.7: an existing connection takes its segments),
    /// then a listener on the port, else the CLOSED answer.
    mutating func demultiplex<Output: TCPSegmentTransmitter, Receiver: TCPDirectReceiver>(
        _ segment: TCPSegment, source: IPv4Address, now: UInt64, output: inout Output,
        receiver: UnsafeMutablePointer<Receiver>) -> TCPReceiveOutcome {
        let header = segment.header
        let remote = TCPEndpoint(address: source, port: header.sourcePort)
        var reopenedAfter: SequenceNumber? = nil
        if let index = lookup(localPort: header.destinationPort, remote: remote) {
            if let lastSent = reopensTimeWait(index, with: segment) {
                // The old incarnation ends here; the SYN opens the new one at the listener.
                tableCounters.timeWaitReopened &+= 1
                freeSlot(index)
                reopenedAfter = lastSent
            } else {
                return deliver(segment, to: index, now: now, output: &output, receiver: receiver)
            }
        }
        guard let portIndex = listeningPortIndex(header.destinationPort) else {
            return answerClosed(segment, remote: remote, output: &output)
        }
        return receiveAtListener(segment, remote: remote, portIndex: portIndex, now: now, output: &output,
                                 reopenedAfter: reopenedAfter)
    }

    /// Whether a SYN may reopen connection `index` straight from TIME-WAIT — RFC 1122
    /// §4.2.2.13, RFC 6191 §2 without timestamps: a SYN (no ACK, no RST) whose sequence number
    /// lies beyond everything the old incarnation received, on a connection its owner has
    /// released (its number must otherwise stay valid), on a port somebody still listens on
    /// (else the connection answers as before). Returns the old incarnation's SND.MAX,
    /// which the new one's ISS must exceed; nil when the SYN goes to the connection as any
    /// segment does (which answers it with an ACK, §3.10.7.4).
    ///
    /// Without this a client that reuses its port at once — Linux does when the server closed
    /// first, as an HTTP server with `Connection: close` does — gets an ACK for its SYN,
    /// answers it with a RST and retries the SYN: a wasted round of three segments and a wait
    /// for every new connection.
    @inline(__always)
    func reopensTimeWait(_ index: Int, with segment: TCPSegment) -> SequenceNumber? {
        let flags = segment.header.flags
        guard connections[index].state == .timeWait, slots[index].isReleased, flags.contains(.synchronize),
              !flags.contains(.acknowledgment), !flags.contains(.reset),
              segment.header.sequenceNumber > connections[index].receiveNext,
              listeningPortIndex(slots[index].localPort) != nil else { return nil }
        return connections[index].sendMaximum
    }

    /// Hands `segment` to existing connection `index` and settles it.
    @inline(__always)
    mutating func deliver<Output: TCPSegmentTransmitter, Receiver: TCPDirectReceiver>(
        _ segment: TCPSegment, to index: Int, now: UInt64, output: inout Output,
        receiver: UnsafeMutablePointer<Receiver>) -> TCPReceiveOutcome {
        let before = snapshot(index)
        connections[index].holdsAcknowledgment = holdsAcknowledgmentsForThePass
        defer { connections[index].holdsAcknowledgment = false }
        if slots[index].isAnnounced && !slots[index].isReleased && !slots[index].isQueued {
            // Its owner knows it, and no event about it waits here to be taken (a new
            // connection's `accepted` does until the owner's side takes it — and a number
            // can be new to a connection while the owner's side still remembers the last
            // one): in-order bytes may go straight to the owner.
            var sink = BoundDirectReceiver(receiver: receiver, connection: TCPConnectionID(index), owner: slots[index].owner)
            connections[index].receive(segment: segment, now: now, output: &output, sink: &sink)
        } else {
            connections[index].receive(segment: segment, now: now, output: &output)
        }
        settle(index, before: before, now: now, output: &output)
        return .delivered(TCPConnectionID(index))
    }

    /// RFC 9293 §3.10.7.1 (CLOSED): a RST is dropped, never answered; a segment with ACK gets
    /// <SEQ=SEG.ACK><CTL=RST>; any other gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    mutating func answerClosed<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, remote: TCPEndpoint,
                                                             output: inout Output) -> TCPReceiveOutcome {
        guard !segment.header.flags.contains(.reset) else { return drop(.resetWithoutConnection) }
        transmitReset(answering: segment, remote: remote, output: &output)
        return drop(.noListener)
    }

    /// The RST that answers `segment` when no connection exists (§3.10.7.1, and §3.10.7.2 for
    /// an ACK to a listener, which has the same form).
    func transmitReset<Output: TCPSegmentTransmitter>(answering segment: TCPSegment, remote: TCPEndpoint, output: inout Output) {
        let header = segment.header
        let reply: TCPHeader
        if header.flags.contains(.acknowledgment) {
            reply = TCPHeader(sourcePort: header.destinationPort, destinationPort: header.sourcePort,
                              sequenceNumber: header.acknowledgmentNumber, acknowledgmentNumber: SequenceNumber(0),
                              flags: [.reset], window: 0)
        } else {
            reply = TCPHeader(sourcePort: header.destinationPort, destinationPort: header.sourcePort,
                              sequenceNumber: SequenceNumber(0), acknowledgmentNumber: header.sequenceNumber + segment.sequenceLength,
                              flags: [.reset, .acknowledgment], window: 0)
        }
        output.transmit(TCPOutgoingSegment(source: TCPEndpoint(address: localAddress, port: header.destinationPort),
                                           destination: remote, header: reply, options: TCPOptions(),
                                           payload: ByteReader(), payloadContinuation: ByteReader()))
    }

    /// RFC 9293 §3.10.7.2 (LISTEN) for a segment of no connection to a listening port: RST
    /// ignored; ACK → a cookie ACK or a RST; SYN → a new half-open connection, or a cookie
    /// beyond the port's half-open bound (RFC 4987 §3.6); anything else dropped.
    ///
    /// `reopenedAfter`: the SYN reopens a TIME-WAIT connection whose SND.MAX this was; the new
    /// connection's ISS lies beyond it (RFC 1122 §4.2.2.13 (1)), so the peer cannot take a
    /// stray segment of the old incarnation for one of the new. (Beyond the half-open bound the
    /// answer is a SYN cookie, whose ISS is the cookie: such a reopening does without that.)
    mutating func receiveAtListener<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, remote: TCPEndpoint, portIndex: Int,
                                                                  now: UInt64, output: inout Output,
                                                                  reopenedAfter: SequenceNumber? = nil) -> TCPReceiveOutcome {
        let flags = segment.header.flags
        if flags.contains(.reset) { return drop(.resetWithoutConnection) }
        if flags.contains(.acknowledgment) {
            if !flags.contains(.synchronize) && cookiesRecentlySent(now: now) {
                return receiveCookie(segment, remote: remote, now: now, output: &output)
            }
            transmitReset(answering: segment, remote: remote, output: &output)
            return drop(.notSynchronize)
        }
        guard flags.contains(.synchronize) else { return drop(.notSynchronize) }
        let port = segment.header.destinationPort
        if listeningPorts[portIndex].halfOpen >= halfOpenLimitPerListener {
            guard synCookiesEnabled else { return drop(.backlogFull) }
            sendCookie(answering: segment, remote: remote, now: now, output: &output)
            return .synCookieSent
        }
        guard let index = allocateSlot() else { return drop(.tableFull) }
        let owner = chooseOwner(port: port) ?? 0
        var generator = initialSequenceNumbers
        if let lastSent = reopenedAfter {
            // The clock-driven ISN usually lies beyond the old SND.MAX already; when the old
            // incarnation sent faster than 4 µs a byte, start a window beyond it (as Linux does).
            // Chosen here once, and handed to the connection as it is.
            let usual = generator.initialSequenceNumber(local: TCPEndpoint(address: localAddress, port: port),
                                                        remote: remote, nowNanoseconds: now)
            generator = .fixed(usual > lastSent ? usual : lastSent + 65537)
        }
        fillSlot(index, localPort: port, remote: remote, owner: owner, isPassive: true,
                 initialSequenceNumbers: generator)
        connections[index].listen()
        let before = snapshot(index)
        connections[index].receive(segment: segment, now: now, output: &output)
        if connections[index].state == .synchronizeReceived {
            slots[index].countsAsHalfOpen = true
            listeningPorts[portIndex].halfOpen += 1
        }
        settle(index, before: before, now: now, output: &output)
        return .delivered(TCPConnectionID(index))
    }

    /// Whether a cookie went out within the cookie lifetime: only then can an ACK carry one.
    @inline(__always)
    func cookiesRecentlySent(now: UInt64) -> Bool {
        guard let sent = lastCookieSent else { return false }
        return now &- sent <= UInt64(SynCookieGenerator.maximumAge + 1) * SynCookieGenerator.counterPeriodNanoseconds
    }

    /// <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK> with the options our connections send, and no
    /// state kept — RFC 4987 §3.6.
    mutating func sendCookie<Output: TCPSegmentTransmitter>(answering segment: TCPSegment, remote: TCPEndpoint,
                                                           now: UInt64, output: inout Output) {
        let header = segment.header
        let local = TCPEndpoint(address: localAddress, port: header.destinationPort)
        let cookie = synCookies.cookie(local: local, remote: remote, peerInitialSequence: header.sequenceNumber,
                                       maximumSegmentSize: segment.options.maximumSegmentSize,
                                       windowScale: segment.options.windowScale, now: now)
        let reply = TCPHeader(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: cookie,
                              acknowledgmentNumber: header.sequenceNumber + 1, flags: [.synchronize, .acknowledgment],
                              window: synchronizeAnswer.window)
        output.transmit(TCPOutgoingSegment(source: local, destination: remote, header: reply, options: cookieAnswerOptions(for: segment),
                                           payload: ByteReader(), payloadContinuation: ByteReader()))
        lastCookieSent = now
        tableCounters.synCookiesSent &+= 1
    }

    /// Our SYN-ACK options for a SYN with `segment`'s options: our MSS, and our shift only
    /// when the peer offered window scaling (RFC 7323 §1.3: both must send the option).
    func cookieAnswerOptions(for segment: TCPSegment) -> TCPOptions {
        TCPOptions(maximumSegmentSize: synchronizeAnswer.maximumSegmentSize,
                   windowScale: segment.options.windowScale == nil ? nil : synchronizeAnswer.windowScale)
    }

    /// An ACK to a listener while cookies are in use — RFC 4987 §3.6: when `SEG.ACK - 1` is a
    /// valid cookie for this four-tuple and `SEG.SEQ - 1`, rebuild the connection: a connection
    /// in LISTEN is fed the SYN the peer sent (its ISN and the options the cookie kept) with its
    /// ISN forced to the cookie, its SYN-ACK is swallowed (the peer has the cookie one), and then
    /// it is fed this ACK, which establishes it (with any data or FIN the ACK carries).
    mutating func receiveCookie<Output: TCPSegmentTransmitter>(_ segment: TCPSegment, remote: TCPEndpoint,
                                                              now: UInt64, output: inout Output) -> TCPReceiveOutcome {
        let header = segment.header
        let local = TCPEndpoint(address: localAddress, port: header.destinationPort)
        let cookie = header.acknowledgmentNumber - 1
        let peerInitialSequence = header.sequenceNumber - 1
        guard let contents = synCookies.validate(cookie: cookie, local: local, remote: remote,
                                                 peerInitialSequence: peerInitialSequence, now: now) else {
            transmitReset(answering: segment, remote: remote, output: &output)
            return drop(.cookieRejected)
        }
        // Full: a RST, so the peer learns at once that the connection it believes it has does
        // not exist (its next send or read fails) instead of waiting for answers that never
        // come. Staying silent left clients "connected" with requests nobody served.
        guard let index = allocateSlot() else {
            transmitReset(answering: segment, remote: remote, output: &output)
            return drop(.tableFull)
        }
        let owner = chooseOwner(port: local.port) ?? 0
        fillSlot(index, localPort: local.port, remote: remote, owner: owner, isPassive: true,
                 initialSequenceNumbers: .fixed(cookie))
        connections[index].listen()
        var synchronize = segment
        synchronize.header = TCPHeader(sourcePort: remote.port, destinationPort: local.port, sequenceNumber: peerInitialSequence,
                                       acknowledgmentNumber: SequenceNumber(0), flags: [.synchronize], window: header.window)
        synchronize.options = TCPOptions(maximumSegmentSize: contents.maximumSegmentSize, windowScale: contents.windowScale)
        synchronize.payload = ByteReader()
        var swallowed = TCPSynchronizeRecorder()
        connections[index].receive(segment: synchronize, now: now, output: &swallowed)
        // The rebuilt connection must have answered exactly as the cookie SYN-ACK did (same ISN,
        // same options), or the two ends would disagree on sequence numbers or window scaling.
        let expected = TCPOptions(maximumSegmentSize: synchronizeAnswer.maximumSegmentSize,
                                  windowScale: contents.windowScale == nil ? nil : synchronizeAnswer.windowScale)
        guard connections[index].state == .synchronizeReceived, let answer = swallowed.header,
              answer.sequenceNumber == cookie, answer.flags == [.synchronize, .acknowledgment],
              swallowed.options.maximumSegmentSize == expected.maximumSegmentSize,
              swallowed.options.windowScale == expected.windowScale else {
            freeSlot(index)
            transmitReset(answering: segment, remote: remote, output: &output)
            return drop(.cookieRejected)
        }
        tableCounters.synCookiesAccepted &+= 1
        let before = snapshot(index)
        connections[index].receive(segment: segment, now: now, output: &output)
        settle(index, before: before, now: now, output: &output)
        return .delivered(TCPConnectionID(index))
    }

    // MARK: - Listeners

    /// Starts `owner` listening on `port`. Several owners on one port form a group: each new
    /// connection goes to the member that was given one least recently (round-robin).
    public mutating func listen(port: UInt16, owner: Int) -> Result<Void, TCPTableError> {
        guard port != 0 else { return .failure(.invalidEndpoint) }
        guard !isListening(port: port, owner: owner) else { return .failure(.alreadyListening) }
        guard let free = listeners.firstIndex(where: { $0.port == 0 }) else { return .failure(.tooManyListeners) }
        if listeningPortIndex(port) == nil {
            // There are as many port entries as listener entries, so one is free when a listener is.
            guard let entry = listeningPorts.firstIndex(where: { $0.port == 0 }) else { return .failure(.tooManyListeners) }
            listeningPorts[entry] = TCPListeningPort(port: port, halfOpen: 0)
        }
        listeners[free] = TCPListener(port: port, owner: owner, lastChosen: 0)
        return .success(())
    }

    /// Stops `owner` listening on `port`. Its connections stay; half-open ones that it was
    /// chosen for go to another member when they complete (or are reset if none is left).
    public mutating func stopListening(port: UInt16, owner: Int) {
        guard let entry = listeners.firstIndex(where: { $0.port == port && $0.owner == owner }) else { return }
        listeners[entry] = TCPListener()
        guard !listeners.contains(where: { $0.port == port }), let portEntry = listeningPortIndex(port) else { return }
        // The port closes: its half-open connections are no longer counted against anything.
        listeningPorts[portEntry] = TCPListeningPort()
        for index in slots.indices where slots[index].countsAsHalfOpen && slots[index].localPort == port {
            slots[index].countsAsHalfOpen = false
        }
    }

    /// Whether `owner` listens on `port`.
    @inline(__always)
    public func isListening(port: UInt16, owner: Int) -> Bool {
        listeners.contains(where: { $0.port == port && $0.owner == owner })
    }

    /// Whether some owner listens on `port`.
    public func hasListener(port: UInt16) -> Bool { listeningPortIndex(port) != nil }

    /// Whether a segment from `remote` to our `localPort` has somewhere to go in this table: a
    /// connection with that four-tuple (TIME-WAIT included) or a listener on the port. A table
    /// that says no would answer the segment with a RST (RFC 9293 §3.10.7.1).
    // Inlined: called for every frame a context classifies; a call from a mutating context
    // copied the whole table (768 bytes, `rep movsb`) first.
    @inline(__always)
    public func accepts(localPort: UInt16, remote: TCPEndpoint) -> Bool {
        lookup(localPort: localPort, remote: remote) != nil || listeningPortIndex(localPort) != nil
    }

    @inline(__always)
    func listeningPortIndex(_ port: UInt16) -> Int? {
        guard port != 0 else { return nil }
        return listeningPorts.firstIndex(where: { $0.port == port })
    }

    /// Round-robin over `port`'s group: the member given a connection least recently.
    mutating func chooseOwner(port: UInt16) -> Int? {
        var chosen: Int?
        for index in listeners.indices where listeners[index].port == port {
            if let best = chosen, listeners[best].lastChosen <= listeners[index].lastChosen { continue }
            chosen = index
        }
        guard let chosen else { return nil }
        roundRobinClock &+= 1
        listeners[chosen].lastChosen = roundRobinClock
        return listeners[chosen].owner
    }

    // MARK: - Active open

    /// Active OPEN to `remote` for `owner` from an ephemeral port of our address: sends the SYN
    /// and returns the new connection's ID (`connected` or `closed` follows as an event).
    ///
    /// The port is chosen by RFC 6056 §3.3.3 (simple hash-based selection): a keyed hash of the
    /// remote endpoint gives an offset into 49152-65535, plus a counter advanced by every open,
    /// skipping ports some owner listens on and ports whose four-tuple with `remote` is taken
    /// (TIME-WAIT included). A port may thus serve several remotes at once. `acceptingPort`
    /// narrows the choice further: a host with several network contexts takes only ports whose
    /// replies its NIC steers back to the opening context.
    public mutating func connect<Output: TCPSegmentTransmitter>(to remote: TCPEndpoint, owner: Int, now: UInt64,
                                                               output: inout Output,
                                                               acceptingPort: (UInt16) -> Bool = { _ in true })
        -> Result<TCPConnectionID, TCPTableError> {
        guard remote.address != .any, remote.port != 0 else { return .failure(.invalidEndpoint) }
        guard let port = chooseEphemeralPort(remote: remote, acceptingPort: acceptingPort) else { return .failure(.noEphemeralPort) }
        guard let index = allocateSlot() else { return .failure(.tableFull) }
        fillSlot(index, localPort: port, remote: remote, owner: owner, isPassive: false,
                 initialSequenceNumbers: initialSequenceNumbers)
        tableCounters.activeOpens &+= 1
        withCountingTransmitter(&output) { counting in
            let before = snapshot(index)
            connections[index].open(now: now, output: &counting)
            settle(index, before: before, now: now, output: &counting)
            record(counting)
        }
        return .success(TCPConnectionID(index))
    }

    mutating func chooseEphemeralPort(remote: TCPEndpoint, acceptingPort: (UInt16) -> Bool) -> UInt16? {
        let count = Int(UInt16.max - Self.firstEphemeralPort) + 1
        var words: (UInt64, UInt64) = (UInt64(localAddress.rawValue) | UInt64(remote.port) << 32, UInt64(remote.address.rawValue))
        let offset = withUnsafeBytes(of: &words) { raw in
            SipHash24.hash(ByteReader(start: raw.baseAddress!, count: 16), key: portKey)
        }
        var attempt = 0
        while attempt < count {
            let candidate = Self.firstEphemeralPort
                + UInt16((Int(truncatingIfNeeded: offset & 0xFFFF) + Int(ephemeralCounter) + attempt) % count)
            attempt += 1
            if !acceptingPort(candidate) || listeningPortIndex(candidate) != nil
                || lookup(localPort: candidate, remote: remote) != nil { continue }
            ephemeralCounter &+= UInt16(truncatingIfNeeded: attempt)
            return candidate
        }
        return nil
    }
}
