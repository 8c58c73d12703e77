/// How a context passes frames it cannot serve to the context that can, and takes the frames others pass to it.
import Network
import TCP

extension NetworkContext {
    /// Serves one frame from the NIC: hands it to another context if that one serves its flow,
    /// else runs it through this context's stack. ARP is served here and also passed to every
    /// other context: the NIC steers it (it has no ports) to one queue, but every context sends
    /// and needs the peers' hardware addresses.
    func route(frame: UnsafeRawBufferPointer, checksum: ReceivedChecksum, now: UInt64) {
        guard mesh.pointee.contextCount > 1 else {
            handle(frame: frame, checksum: checksum, now: now)
            return
        }
        let flow = FrameFlow(classifying: frame)
        if let target = handOffTarget(flow) {
            if mesh.pointee.ring(from: index, to: target).push(frame, checksum: checksum) {
                handOff.pointee.handedOut &+= 1
            } else {
                handOff.pointee.dropped &+= 1
            }
            return
        }
        if flow == .arp {
            for other in 0..<mesh.pointee.contextCount where other != index {
                if mesh.pointee.ring(from: index, to: other).push(frame) {
                    handOff.pointee.arpShared &+= 1
                } else {
                    handOff.pointee.dropped &+= 1
                }
            }
        }
        handle(frame: frame, checksum: checksum, now: now)
    }

    /// The context that serves `flow` if it is not this one, else nil. This context's own
    /// socket, listener or connection always wins; then the port directory; then, for a TCP
    /// port in the ephemeral range, the context the port names (see
    /// `ContextMesh.acceptsSourcePort`). Frames nobody serves stay here and get the stack's
    /// usual answer (ICMP port unreachable, RST).
    func handOffTarget(_ flow: FrameFlow) -> Int? {
        switch flow {
        case .udp(_, let sourcePort, let destinationPort):
            guard stack.pointee.listener(of: destinationPort) == nil else { return nil }
            return PortDirectory.pick(from: mesh.pointee.directory.owners(.udp, port: destinationPort), excluding: index,
                                      flow: sourcePort)
        case .tcp(let source, let sourcePort, let destinationPort):
            guard !table.pointee.accepts(localPort: destinationPort, remote: TCPEndpoint(address: IPv4Address(rawValue: source), port: sourcePort))
            else { return nil }
            if let owner = PortDirectory.pick(from: mesh.pointee.directory.owners(.tcp, port: destinationPort), excluding: index,
                                              flow: sourcePort) {
                return owner
            }
            guard destinationPort >= TCPConnectionTable.firstEphemeralPort else { return nil }
            let named = Int(destinationPort) % mesh.pointee.contextCount
            return named == index ? nil : named
        case .arp, .other:
            return nil
        }
    }

    /// Takes the frames other contexts handed to this one (up to the receive budget from each)
    /// through this context's stack; returns how many there were. They are never handed on
    /// again: the sender already decided that this context serves them.
    func receiveHandOffs(now: UInt64) -> Int {
        guard mesh.pointee.contextCount > 1 else { return 0 }
        var taken = 0
        for other in 0..<mesh.pointee.contextCount where other != index {
            let ring = mesh.pointee.ring(from: other, to: index)
            var fromThis = 0
            while fromThis < NetworkContextLimits.receiveBudget, ring.pop({ handle(frame: $0, checksum: $1, now: now) }) {
                fromThis += 1
            }
            taken += fromThis
        }
        handOff.pointee.handedIn &+= UInt64(taken)
        return taken
    }

    /// Forgets this context's ports in the directory that it no longer serves (after a program ended).
    func reconcileDirectory() {
        let stack = self.stack
        let table = self.table
        mesh.pointee.directory.reconcile(context: index) { kind, port in
            switch kind {
            case .udp: stack.pointee.listener(of: port) != nil
            case .tcp: table.pointee.hasListener(port: port)
            }
        }
    }

    /// Frames handed between this context and the others.
    public var handOffCounters: HandOffCounters { handOff.pointee }
}
