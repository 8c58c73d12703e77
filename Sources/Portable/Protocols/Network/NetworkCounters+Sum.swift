// Adding one stack's counters to another's, for totals over several network contexts.

extension LayerCounters {
    /// Adds `other`'s packets and bytes in both directions.
    public mutating func add(_ other: LayerCounters) {
        framesIn &+= other.framesIn
        bytesIn &+= other.bytesIn
        framesOut &+= other.framesOut
        bytesOut &+= other.bytesOut
    }
}

extension NetworkCounters {
    /// Adds every counter of `other` (another context's stack) to these.
    public mutating func add(_ other: NetworkCounters) {
        ethernet.add(other.ethernet)
        arp.add(other.arp)
        ipv4.add(other.ipv4)
        icmp.add(other.icmp)
        udp.add(other.udp)
        tcp.add(other.tcp)
        framesDelivered &+= other.framesDelivered
        arpResolutionFailures &+= other.arpResolutionFailures
        var raw: UInt8 = 0
        while let reason = DropReason(rawValue: raw) {
            countDrop(reason, count: Int(truncatingIfNeeded: other[drop: reason]))
            raw += 1
        }
    }
}
