// The TCBs of a connection table, one per slot, kept in place so the hot path never copies one.

/// The connections of a `TCPConnectionTable`: one `TCPConnection` per slot, initialized only
/// while the slot is in use, and always read and changed in place through `connections`.
///
/// Why not `[TCPConnection?]`: a TCB is several hundred bytes holding two buffer references,
/// and reading a field through an optional array element lets the compiler copy the whole
/// optional first (and retain and release its buffers) — on every segment. Under QEMU's TCG,
/// where the compiler's inline copies are byte-at-a-time `rep movsb`, those copies cost more
/// than the protocol work. A pointer to initialized memory has no such copy.
final class TCPConnectionStorage {
    /// Slot `i`'s connection at `connections[i]`, valid only while `isInitialized(i)`.
    let connections: UnsafeMutablePointer<TCPConnection>
    /// Which slots hold an initialized connection (for `deinit`).
    private let initialized: UnsafeMutablePointer<Bool>
    /// The number of slots.
    let capacity: Int

    /// Room for `capacity` connections, none initialized.
    init(capacity: Int) {
        self.capacity = capacity
        connections = UnsafeMutablePointer<TCPConnection>.allocate(capacity: max(capacity, 1))
        initialized = UnsafeMutablePointer<Bool>.allocate(capacity: max(capacity, 1))
        initialized.initialize(repeating: false, count: max(capacity, 1))
    }

    deinit {
        for index in 0..<capacity where initialized[index] {
            (connections + index).deinitialize(count: 1)
        }
        connections.deallocate()
        initialized.deallocate()
    }

    /// Whether slot `index` holds a connection.
    func isInitialized(_ index: Int) -> Bool { initialized[index] }

    /// Puts `connection` into the empty slot `index`.
    func store(_ connection: consuming TCPConnection, at index: Int) {
        precondition(!initialized[index], "slot already holds a connection")
        (connections + index).initialize(to: connection)
        initialized[index] = true
    }

    /// Ends slot `index`'s connection (its buffers are freed with it).
    func remove(at index: Int) {
        precondition(initialized[index], "slot holds no connection")
        (connections + index).deinitialize(count: 1)
        initialized[index] = false
    }
}
