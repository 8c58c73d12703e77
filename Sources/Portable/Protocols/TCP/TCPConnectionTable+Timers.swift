// The connection table's timers: a hashed timing wheel, so that a poll visits the connections whose timers are due, not every connection.

extension TCPConnectionTable {
    /// One tick of the wheel: the network contexts poll the table every millisecond.
    public static let timerTick: UInt64 = 1_000_000
    /// Slots of the wheel: 256 ticks ahead. A deadline further away lands in its slot anyway
    /// and is put back when the wheel passes it early (the wheel is lazy: entries carry no
    /// deadline, the connection's own `nextDeadline` is read when its slot comes up).
    static let wheelSlotCount = 256
    /// Every this many polls, a sweep over every connection looks for a due timer the wheel
    /// missed (there should be none: `TCPCounters.timerSweepCatches` counts them) — a safety net that keeps
    /// a scheduling mistake from hanging a connection, at 1/1024 of the old per-poll cost.
    static let sweepEvery = 1024

    /// When the table must next look at connection `index`: its own next timer, and for a
    /// released connection in FIN-WAIT-2 the end of its grace (see `poll`).
    // Inlined: a non-mutating call on this large struct from a mutating one copies the whole
    // struct first (`rep movsb`, byte by byte under TCG), on the packet path.
    @inline(__always)
    func effectiveDeadline(_ index: Int) -> UInt64? {
        var deadline = connections[index].nextDeadline
        if slots[index].isReleased, let since = slots[index].finishWait2Since, connections[index].state == .finishWait2 {
            deadline = TCPConnection.earlier(deadline, since &+ configuration.timeWaitDuration)
        }
        return deadline
    }

    /// Puts connection `index` in the wheel slot of its deadline (out of any slot it was in);
    /// out of the wheel when no timer runs. Called after every change to a connection (`settle`).
    mutating func scheduleTimer(_ index: Int) {
        unlinkTimer(index)
        guard slots[index].isUsed, let deadline = effectiveDeadline(index) else { return }
        // A deadline already passed goes to the next tick the wheel has not processed.
        let tick = max(deadline / Self.timerTick, wheelTick &+ 1)
        let slot = Int(tick % UInt64(Self.wheelSlotCount))
        let head = wheel[slot]
        slots[index].wheelSlot = Int16(slot)
        slots[index].wheelPrevious = -1
        slots[index].wheelNext = head
        if head >= 0 { slots[Int(head)].wheelPrevious = Int32(index) }
        wheel[slot] = Int32(index)
    }

    /// Takes connection `index` out of its wheel slot, if it is in one.
    mutating func unlinkTimer(_ index: Int) {
        let slot = Int(slots[index].wheelSlot)
        guard slot >= 0 else { return }
        let previous = slots[index].wheelPrevious
        let next = slots[index].wheelNext
        if previous >= 0 { slots[Int(previous)].wheelNext = next } else { wheel[slot] = next }
        if next >= 0 { slots[Int(next)].wheelPrevious = previous }
        slots[index].wheelSlot = -1
        slots[index].wheelNext = -1
        slots[index].wheelPrevious = -1
    }

    /// The connections in the wheel slots of the ticks up to `now` not yet processed (at most one
    /// turn of the wheel), taken out of the wheel, into `wheelScratch`.
    mutating func takeTimersUpTo(now: UInt64) {
        wheelScratch.removeAll(keepingCapacity: true)
        let current = now / Self.timerTick
        guard current > wheelTick else { return }
        let first = max(wheelTick &+ 1, current &- UInt64(Self.wheelSlotCount - 1))
        var tick = first
        while tick <= current {
            let slot = Int(tick % UInt64(Self.wheelSlotCount))
            var index = wheel[slot]
            wheel[slot] = -1
            while index >= 0 {
                let next = slots[Int(index)].wheelNext
                slots[Int(index)].wheelSlot = -1
                slots[Int(index)].wheelNext = -1
                slots[Int(index)].wheelPrevious = -1
                wheelScratch.append(index)
                index = next
            }
            tick += 1
        }
        wheelTick = current
    }

    /// Runs connection `index`'s due timers (and ends a released FIN-WAIT-2 connection whose
    /// grace is over), then settles it, which puts it back in the wheel.
    mutating func runTimers<Output: TCPSegmentTransmitter>(_ index: Int, now: UInt64, output: inout Output) {
        let before = snapshot(index)
        connections[index].poll(now: now, output: &output)
        if slots[index].isReleased, let since = slots[index].finishWait2Since,
           connections[index].state == .finishWait2, now &- since >= configuration.timeWaitDuration {
            connections[index].abort(output: &output)
        }
        settle(index, before: before, now: now, output: &output)
    }
}
