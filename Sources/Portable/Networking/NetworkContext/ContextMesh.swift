/// The network contexts of one NIC as each sees the others: the port directory, the hand-off rings between every two contexts, and the NIC's RSS.
import Network

/// What the contexts of one NIC share. The NIC steers each flow to one queue pair (RSS, or
/// automatic steering), and so to one context; but a program's channel is served by one
/// context only (its rings are single-producer, single-consumer). So a context that receives a
/// frame for a port it does not serve hands the frame to a context that does, through a ring
/// from it to that context (`FrameHandOffRing`), and the port directory says which contexts
/// serve which ports. The decision is made per frame, with the same inputs for every frame of
/// a flow, so a flow's frames all end up in the same context and in order.
///
/// Built once by the composition root and given to every context's configuration.
public struct ContextMesh: @unchecked Sendable {
    /// How many contexts there are (1 to `PortDirectory.maximumContexts`).
    public let contextCount: Int
    /// Who serves which port.
    public let directory: PortDirectory
    /// The NIC's receive-side scaling, if it does RSS: outgoing connections choose a source
    /// port whose replies it steers to their own context. nil with one context or automatic
    /// steering.
    public let receiveSideScaling: ReceiveSideScaling?
    /// Ring `from × contextCount + to`; the diagonal is unused. nil with one context.
    private let rings: UnsafeMutablePointer<FrameHandOffRing>?

    /// The shared state of `contextCount` contexts (1 to `PortDirectory.maximumContexts`).
    public init(contextCount: Int, receiveSideScaling: ReceiveSideScaling? = nil) {
        precondition(contextCount >= 1 && contextCount <= PortDirectory.maximumContexts, "1 to 8 contexts")
        self.contextCount = contextCount
        self.receiveSideScaling = receiveSideScaling
        directory = PortDirectory()
        if contextCount > 1 {
            let rings = UnsafeMutablePointer<FrameHandOffRing>.allocate(capacity: contextCount * contextCount)
            for from in 0..<contextCount {
                for to in 0..<contextCount {
                    // The diagonal gets a ring too (never used): simpler than a sparse layout.
                    (rings + from * contextCount + to).initialize(to: FrameHandOffRing())
                }
            }
            self.rings = rings
        } else {
            rings = nil
        }
    }

    /// The ring from context `from` to context `to` (they differ).
    func ring(from: Int, to: Int) -> FrameHandOffRing {
        rings![from * contextCount + to]
    }

    /// Whether context `context` may use `port` as the local port of a connection it opens to
    /// `remote`: the port names its context (port mod the number of contexts), so a segment
    /// for it that lands elsewhere finds its way back (`handOffTarget`); and with RSS, the
    /// replies land on the context's own queue, so none need handing off at all.
    func acceptsSourcePort(_ port: UInt16, context: Int, localAddress: IPv4Address,
                           remote: (address: UInt32, port: UInt16)) -> Bool {
        guard contextCount > 1 else { return true }
        guard Int(port) % contextCount == context else { return false }
        guard let receiveSideScaling else { return true }
        return receiveSideScaling.queue(source: IPv4Address(rawValue: remote.address), destination: localAddress,
                                        sourcePort: remote.port, destinationPort: port) == UInt16(context)
    }
}

/// What a context handed to others and took from them.
public struct HandOffCounters: Equatable, Sendable {
    /// Frames this context received from its NIC queue and handed to another context.
    public var handedOut: UInt64 = 0
    /// Frames other contexts handed to this one (each also counts in this context's stack).
    public var handedIn: UInt64 = 0
    /// Frames this context could not hand off: the ring to the other context was full.
    public var dropped: UInt64 = 0
    /// ARP packets this context passed on to every other context, so each ARP cache learns.
    public var arpShared: UInt64 = 0
    public init() {}

    /// Adds `other` (for sums over contexts).
    public mutating func add(_ other: HandOffCounters) {
        handedOut &+= other.handedOut
        handedIn &+= other.handedIn
        dropped &+= other.dropped
        arpShared &+= other.arpShared
    }
}
