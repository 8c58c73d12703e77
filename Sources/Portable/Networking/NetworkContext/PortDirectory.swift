/// Which contexts have a program bound to each UDP port or listening on each TCP port: where a context sends a flow it cannot serve itself.
import Synchronization

/// The transport protocols whose ports the directory records.
public enum DirectoryProtocol: Sendable {
    case udp
    case tcp
}

/// A shared table, one byte per port and protocol, whose bit n says "context n has a program
/// bound to (UDP) or listening on (TCP) this port". It is how a flow that the NIC steered to
/// one context reaches a program served by another: the receiving context looks up the port
/// and hands the frame to an owner (`ContextMesh`). A context's own binding always wins, so
/// the directory is read only for ports the receiving context does not serve itself.
///
/// Each context sets and clears only its own bit, when a program's bind or listen succeeds or
/// its port is released. Any context reads any entry. The value is a routing hint, not a
/// hand-over of data: the context that receives a handed-off frame checks its own tables again
/// and treats a port it no longer serves like any unserved port (ICMP unreachable, RST). So
/// every access is relaxed: no reader infers from an entry that other memory is ready, and a
/// stale bit costs at most one frame answered as "nobody here", as on a real host where a
/// program closes its socket while a datagram is in flight.
///
/// A handle: copies share the table, which the composition root allocates once (128 KiB).
public struct PortDirectory: @unchecked Sendable {
    /// The most contexts the one-byte entries can name.
    public static let maximumContexts = 8
    private let udp: UnsafeMutablePointer<Atomic<UInt8>>
    private let tcp: UnsafeMutablePointer<Atomic<UInt8>>

    /// An empty directory: no port has an owner.
    public init() {
        udp = .allocate(capacity: 65536)
        tcp = .allocate(capacity: 65536)
        for port in 0..<65536 {
            (udp + port).initialize(to: Atomic<UInt8>(0))
            (tcp + port).initialize(to: Atomic<UInt8>(0))
        }
    }

    private func entry(_ kind: DirectoryProtocol, _ port: UInt16) -> UnsafeMutablePointer<Atomic<UInt8>> {
        switch kind {
        case .udp: udp + Int(port)
        case .tcp: tcp + Int(port)
        }
    }

    /// Records that `context` serves `port`.
    public func claim(_ kind: DirectoryProtocol, port: UInt16, context: Int) {
        precondition(context >= 0 && context < Self.maximumContexts, "context out of range")
        entry(kind, port).pointee.bitwiseOr(UInt8(1) << UInt8(context), ordering: .relaxed)
    }

    /// Records that `context` no longer serves `port`.
    public func release(_ kind: DirectoryProtocol, port: UInt16, context: Int) {
        precondition(context >= 0 && context < Self.maximumContexts, "context out of range")
        entry(kind, port).pointee.bitwiseAnd(~(UInt8(1) << UInt8(context)), ordering: .relaxed)
    }

    /// The contexts that serve `port` (bit n = context n).
    public func owners(_ kind: DirectoryProtocol, port: UInt16) -> UInt8 {
        entry(kind, port).pointee.load(ordering: .relaxed)
    }

    /// Clears `context`'s bit on every port for which `stillServes` says no: after a program
    /// ends, so that the directory forgets its ports without a list of them. A scan of 128 KiB,
    /// done only when a program ends.
    public func reconcile(context: Int, stillServes: (DirectoryProtocol, UInt16) -> Bool) {
        let bit = UInt8(1) << UInt8(context)
        for port in 0..<65536 {
            if udp[port].load(ordering: .relaxed) & bit != 0 && !stillServes(.udp, UInt16(port)) {
                release(.udp, port: UInt16(port), context: context)
            }
            if tcp[port].load(ordering: .relaxed) & bit != 0 && !stillServes(.tcp, UInt16(port)) {
                release(.tcp, port: UInt16(port), context: context)
            }
        }
    }

    /// Picks one of the contexts in `owners` (never `excluding`) for a flow, from a number the
    /// flow always carries (e.g. its remote port), so that every frame of the flow goes to the
    /// same owner while the owners stay the same. nil when no other context serves the port.
    public static func pick(from owners: UInt8, excluding: Int, flow: UInt16) -> Int? {
        let candidates = owners & ~(UInt8(1) << UInt8(excluding))
        guard candidates != 0 else { return nil }
        var skip = Int(flow) % candidates.nonzeroBitCount
        var remaining = candidates
        while true {
            let context = remaining.trailingZeroBitCount
            if skip == 0 { return context }
            skip -= 1
            remaining &= remaining &- 1
        }
    }
}
