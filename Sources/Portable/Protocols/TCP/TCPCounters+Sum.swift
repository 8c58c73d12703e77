// Adding one connection table's counters to another's, for totals over several network contexts.

extension TCPDropCounts {
    /// Adds `other`'s count for every reason.
    public mutating func add(_ other: TCPDropCounts) {
        for reason in [TCPDropReason.malformed, .badChecksum, .notForUs, .invalidSource, .noListener,
                       .resetWithoutConnection, .notSynchronize, .tableFull, .backlogFull, .cookieRejected] {
            self[reason] &+= other[reason]
        }
    }
}

extension TCPCounters {
    /// Adds every counter of `other` (another context's table) to these.
    public mutating func add(_ other: TCPCounters) {
        segmentsReceived &+= other.segmentsReceived
        segmentsSent &+= other.segmentsSent
        transmitRefusals &+= other.transmitRefusals
        drops.add(other.drops)
        passiveOpens &+= other.passiveOpens
        activeOpens &+= other.activeOpens
        synCookiesSent &+= other.synCookiesSent
        synCookiesAccepted &+= other.synCookiesAccepted
        resetsSent &+= other.resetsSent
        resetsReceived &+= other.resetsReceived
        timeWaitReclaimed &+= other.timeWaitReclaimed
        timeWaitReopened &+= other.timeWaitReopened
        timerVisits &+= other.timerVisits
        timerSweepCatches &+= other.timerSweepCatches
        connections.add(other.connections)
    }
}
