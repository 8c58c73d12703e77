// The connection table's owner side: per-connection calls by ID, release and abort, timers, and scanning connections.

import RawBytes

extension TCPConnectionTable {
    // MARK: - Timers

    /// Runs the due timers (retransmission, persist, delayed ACK, TIME-WAIT) and frees slots
    /// that are done. A released connection left in FIN-WAIT-2 longer than the TIME-WAIT
    /// duration is reset: nobody will read from it and the peer may never send its FIN
    /// (Linux's tcp_fin_timeout). Only the connections in the timing wheel's slots up to `now`
    /// are visited (`TCPConnectionTable+Timers`), so a poll's cost follows the timers that are
    /// due, not the number of connections; once every 1,024 polls a sweep checks every
    /// connection for a due timer the wheel missed.
    public mutating func poll<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) {
        withCountingTransmitter(&output) { counting in
            takeTimersUpTo(now: now)
            lastPollVisits = wheelScratch.count
            tableCounters.timerVisits &+= UInt64(wheelScratch.count)
            for position in 0..<wheelScratch.count {
                let index = Int(wheelScratch[position])
                guard slots[index].isUsed else { continue }
                if let deadline = effectiveDeadline(index), deadline <= now {
                    runTimers(index, now: now, output: &counting)
                } else {
                    scheduleTimer(index)   // not due yet (a later turn of the wheel), or changed
                }
            }
            pollsSinceSweep += 1
            if pollsSinceSweep >= Self.sweepEvery {
                pollsSinceSweep = 0
                for index in slots.indices where slots[index].isUsed {
                    guard let deadline = effectiveDeadline(index), deadline <= now,
                          now &- deadline > 2 * Self.timerTick else { continue }
                    tableCounters.timerSweepCatches &+= 1
                    runTimers(index, now: now, output: &counting)
                }
            }
            record(counting)
        }
    }

    // MARK: - Reading a connection (nil / 0 / false for an ID the owner does not hold)

    /// The connection's state.
    public func state(of id: TCPConnectionID) -> TCPState? { ownedSlot(id).map { connections[$0].state } }
    /// Why it ended, when it ended abnormally.
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    public func error(of id: TCPConnectionID) -> TCPConnectionError? { ownedSlot(id).flatMap { connections[$0].error } }
    /// The owner (program or channel number).
    public func owner(of id: TCPConnectionID) -> Int? { ownedSlot(id).map { slots[$0].owner } }
    /// The peer's endpoint.
    // Inlined: see `error(of:)`.
    @inline(__always)
    public func remote(of id: TCPConnectionID) -> TCPEndpoint? { ownedSlot(id).map { connections[$0].remote } }
    /// Our port.
    // Inlined: see `error(of:)`.
    @inline(__always)
    public func localPort(of id: TCPConnectionID) -> UInt16? { ownedSlot(id).map { connections[$0].local.port } }
    /// Received bytes waiting to be read.
    public func readableCount(of id: TCPConnectionID) -> Int { ownedSlot(id).map { connections[$0].readableCount } ?? 0 }
    /// Bytes queued on the connection and not yet acknowledged (sent or not).
    public func unacknowledgedSendBytes(of id: TCPConnectionID) -> Int { ownedSlot(id).map { connections[$0].sendBuffer.count } ?? 0 }
    /// How many bytes `send` would take now.
    public func writableCount(of id: TCPConnectionID) -> Int { ownedSlot(id).map { connections[$0].writableCount } ?? 0 }
    /// Whether the peer's FIN arrived.
    public func peerFinished(_ id: TCPConnectionID) -> Bool { ownedSlot(id).map { connections[$0].peerFinished } ?? false }
    /// Whether the owner holds `id` (it is allocated, shown to the owner and not released).
    public func isValid(_ id: TCPConnectionID) -> Bool { ownedSlot(id) != nil }
    /// The statistics of one connection.
    public func statistics(of id: TCPConnectionID) -> TCPConnectionStatistics? {
        ownedSlot(id).map { connections[$0].statistics }
    }

    // MARK: - Owner calls

    /// Queues `bytes` on the connection and sends what the window allows; returns how many
    /// bytes were taken (0 for an ID the owner does not hold, or a connection that cannot send).
    @discardableResult
    public mutating func send<Output: TCPSegmentTransmitter>(_ bytes: ByteReader, on id: TCPConnectionID, now: UInt64,
                                                            output: inout Output) -> Int {
        guard let index = ownedSlot(id) else { return 0 }
        return withCountingTransmitter(&output) { counting in
            let before = snapshot(index)
            let taken = connections[index].send(bytes, now: now, output: &counting)
            settle(index, before: before, now: now, output: &counting)
            record(counting)
            return taken
        }
    }

    /// Queues `bytes` on the connection without sending: `transmitDeferred` sends what every
    /// such connection queued, once, after all of a pass's sends — so a program's many small
    /// sends leave as full segments (and, with segmentation offload, as one large one), as
    /// Linux's autocorking does. Returns how many bytes were taken, as `send` does.
    ///
    /// `lending`: the bytes are not copied but read in place until the peer acknowledges them
    /// (`SendStore`'s ownership rules; `takeReturnedBytes` says when).
    public mutating func sendDeferred(_ bytes: ByteReader, on id: TCPConnectionID, lending: Bool = false) -> Int {
        guard let index = ownedSlot(id) else { return 0 }
        let taken = connections[index].queue(bytes, lending: lending)
        if taken > 0 { deferTransmit(index) }
        return taken
    }

    /// Puts slot `index` on the list `transmitDeferred` works through (once).
    @inline(__always)
    mutating func deferTransmit(_ index: Int) {
        guard !slots[index].transmitDeferred else { return }
        slots[index].transmitDeferred = true
        deferredSlots.append(UInt16(index))
    }

    /// Sends what `sendDeferred` queued, and what a full NIC queue refused on an earlier pass,
    /// as far as each connection's windows allow; returns how many connections it looked at.
    /// Call it once per pass, after the sends.
    ///
    /// When the NIC refuses a segment the walk stops: every later connection would be refused
    /// too. The ones not reached keep their place at the front of the list, and the refused
    /// one (put back by `settle`) goes to its end, so a full queue delays connections in turn
    /// rather than starving the last ones.
    @discardableResult
    public mutating func transmitDeferred<Output: TCPSegmentTransmitter>(now: UInt64, output: inout Output) -> Int {
        let count = deferredSlots.count
        guard count > 0 else { return 0 }
        var visited = 0
        withCountingTransmitter(&output) { counting in
            while visited < count && counting.refused == 0 {
                let index = Int(deferredSlots[visited])
                visited += 1
                slots[index].transmitDeferred = false
                guard slots[index].isUsed else { continue }
                let before = snapshot(index)
                connections[index].transmitPending(now: now, output: &counting)
                settle(index, before: before, now: now, output: &counting)
            }
            record(counting)
        }
        if visited == deferredSlots.count {
            deferredSlots.removeAll(keepingCapacity: true)
        } else {
            deferredSlots.removeFirst(visited)
        }
        return visited
    }

    /// The lent bytes of `id`'s send buffer handed back to the owner since the last call
    /// (acknowledged or recalled), oldest first. Lent bytes a
    /// connection forgot when it ended are not counted: CLOSED says it holds none.
    public mutating func takeReturnedBytes(of id: TCPConnectionID) -> Int {
        guard let index = ownedSlot(id) else { return 0 }
        return connections[index].sendBuffer.takeReturned()
    }

    /// Copies the bytes `id` holds lent into its own storage, so it reads none of the owner's
    /// memory any more; they count as handed back. False when the pool cannot hold them now.
    public mutating func recallLentBytes(of id: TCPConnectionID) -> Bool {
        guard let index = ownedSlot(id) else { return true }
        return connections[index].sendBuffer.recall()
    }

    /// Copies received bytes into `buffer`; returns how many. The window update the read makes
    /// worth sending waits for `transmitDeferred` while `holdsAcknowledgmentsForThePass`, so
    /// that several reads in one pass announce the window once.
    public mutating func read<Output: TCPSegmentTransmitter>(from id: TCPConnectionID, into buffer: UnsafeMutableRawBufferPointer,
                                                            now: UInt64, output: inout Output) -> Int {
        guard let index = ownedSlot(id) else { return 0 }
        return withCountingTransmitter(&output) { counting in
            let before = snapshot(index)
            connections[index].holdsAcknowledgment = holdsAcknowledgmentsForThePass
            let count = connections[index].read(into: buffer, now: now, output: &counting)
            connections[index].holdsAcknowledgment = false
            settle(index, before: before, now: now, output: &counting)
            record(counting)
            return count
        }
    }

    /// No more data from us: a FIN follows the queued data (RFC 9293 §3.10.4). The owner keeps
    /// the ID (it may still read) until `release`.
    public mutating func shutdown<Output: TCPSegmentTransmitter>(_ id: TCPConnectionID, now: UInt64, output: inout Output) {
        guard let index = ownedSlot(id) else { return }
        withCountingTransmitter(&output) { counting in
            let before = snapshot(index)
            connections[index].close(now: now, output: &counting)
            settle(index, before: before, now: now, output: &counting)
            record(counting)
        }
    }

    /// The owner is done with `id`. A connection still open is closed: with a FIN after the
    /// queued data, or with a RST when received data was left unread (RFC 9293 §3.10.4, RFC
    /// 2525 §2.17: the peer must learn that its data was lost). The slot is freed once the
    /// connection is CLOSED; until then (FIN-WAIT, LAST-ACK, TIME-WAIT) it works on its own.
    public mutating func release<Output: TCPSegmentTransmitter>(_ id: TCPConnectionID, now: UInt64, output: inout Output) {
        guard let index = ownedSlot(id) else { return }
        withCountingTransmitter(&output) { counting in
            let before = snapshot(index)
            slots[index].isReleased = true
            unqueueEvents(index)
            if connections[index].readableCount > 0 {
                // Bytes the owner queued with `sendDeferred` go out before the RST: the peer
                // gets the answer it was sent (an HTTP error, say), then learns its data was lost.
                if slots[index].transmitDeferred { connections[index].transmitPending(now: now, output: &counting) }
                connections[index].abort(output: &counting)
            } else {
                connections[index].close(now: now, output: &counting)
            }
            settle(index, before: before, now: now, output: &counting)
            record(counting)
        }
    }

    /// `owner` is gone (its program ended): every connection it holds or was chosen for is
    /// reset (RFC 9293 §3.10.5 ABORT) and released, and it stops listening everywhere.
    public mutating func abortAll<Output: TCPSegmentTransmitter>(owner: Int, now: UInt64, output: inout Output) {
        for index in listeners.indices where listeners[index].port != 0 && listeners[index].owner == owner {
            stopListening(port: listeners[index].port, owner: owner)
        }
        withCountingTransmitter(&output) { counting in
            for index in slots.indices where slots[index].isUsed && slots[index].owner == owner && !slots[index].isReleased {
                let before = snapshot(index)
                slots[index].isReleased = true
                unqueueEvents(index)
                connections[index].abort(output: &counting)
                settle(index, before: before, now: now, output: &counting)
            }
            record(counting)
        }
    }

    /// How many listeners and live connections `owner` holds (a scan of every slot: for a
    /// person asking, not for a pass).
    public func holdings(of owner: Int) -> (listeners: Int, connections: Int) {
        let listening = listeners.filter { $0.port != 0 && $0.owner == owner }.count
        var connections = 0
        for index in slots.indices where slots[index].isUsed && slots[index].owner == owner && !slots[index].isReleased {
            connections += 1
        }
        return (listening, connections)
    }

    // MARK: - Scanning

    /// The first connection after `id` (or the first of all for `nil`) that an owner holds,
    /// in ID order: `var id = table.nextConnection(after: nil); while let current = id { ...;
    /// id = table.nextConnection(after: current) }` lets the caller mutate the table meanwhile.
    public func nextConnection(after id: TCPConnectionID?) -> TCPConnectionID? {
        var index = id.map { Int($0) + 1 } ?? 0
        while index < capacity {
            if ownedSlot(TCPConnectionID(index)) != nil { return TCPConnectionID(index) }
            index += 1
        }
        return nil
    }

    /// Calls `body` with every connection an owner holds, in ID order.
    public func forEachConnection(_ body: (TCPConnectionID) -> Void) {
        for index in slots.indices where ownedSlot(TCPConnectionID(index)) != nil {
            body(TCPConnectionID(index))
        }
    }
}
