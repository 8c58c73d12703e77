/// What the network core supplies to serve channels: UDP ports and datagrams, TCP listeners and connections.

/// The network stack as `ServerChannel` needs it. The network core implements it over its
/// `NetworkStack` and TCP connection table (this module imports neither, so the protocol stays
/// portable and testable with a fake). Generic, not existential: the calls inline into the
/// server's loop. The stream (TCP) requirements have defaults that refuse, so a handler that
/// serves only UDP need not mention them.
public protocol ChannelRequestHandler {
    /// Claims UDP `port` for socket `socket` of channel `channel`, so that datagrams for it
    /// go to `ChannelServer.deliver(payload:from:channel:socket:)`. Fails with `portInUse` when
    /// anyone (any channel, or a service of the network core) has it.
    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError>

    /// Releases `port`, bound earlier by `bind` for this channel and socket.
    mutating func unbind(port: UInt16, channel: Int, socket: UInt16)

    /// Sends `payload` as one UDP datagram from local port `sourcePort` to `destination`.
    /// `payload` is in memory the program can write while this runs: read each byte once
    /// (copy it into the frame, checksum the copy). Fails with `datagramTooLarge`, `noRoute`, or
    /// `throttled` when the stack cannot take it now (transmit ring or ARP queue full).
    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError>

    /// Makes channel `channel` one of the listeners of TCP `port`.
    mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError>

    /// Starts a TCP handshake to `destination` for `channel`. Success means "under way": the
    /// network core announces the outcome later with a `connected` or `error` completion
    /// carrying `cookie`.
    mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                          cookie: UInt64) -> Result<Void, ChannelError>

    /// Whether connection `connection` exists and belongs to `channel` (and has not been closed
    /// by it): the check every stream request starts with.
    func ownsConnection(_ connection: UInt16, channel: Int) -> Bool

    /// Gives the connection as much of `bytes` as its send buffer takes now; returns how many
    /// bytes (0 when it is full). `bytes` lies in the program's buffer, which the network core
    /// holds until the connection hands the bytes back (`streamSendProgress`). The handler may
    /// copy them at once (read each byte once: the program can write that memory) and count
    /// them handed back at once, or *lend* them: leave them in place and read them whenever
    /// they are sent or resent, until the peer acknowledges them — as `lending` allows. Fails
    /// with `notWritable`, `connectionReset` or `timedOut` when the connection takes no more
    /// data; a connection that fails holds none of the program's bytes any more.
    mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer, lending: StreamLending) -> Result<StreamWrite, ChannelError>

    /// How many of the bytes `streamWrite` lent on `connection` were handed back since the last
    /// call (acknowledged by the peer, or recalled), oldest first — copied bytes never count
    /// here: they were free at once; and, when the connection has ended, why — it then holds
    /// none of the program's bytes and takes no more.
    mutating func streamSendProgress(connection: UInt16, channel: Int) -> StreamSendProgress

    /// Makes the connection stop reading the program's memory before it is released: copies
    /// the bytes it holds lent into network-core memory (they are then handed back). False when
    /// that memory is short now; the caller tries again later.
    mutating func streamRecall(connection: UInt16, channel: Int) -> Bool

    /// Queues our FIN after the data (half-close).
    mutating func streamShutdown(connection: UInt16, channel: Int)

    /// The program is done with the connection: close it (FIN, or RST when received data was
    /// left unread) and free its number once the protocol allows.
    mutating func streamRelease(connection: UInt16, channel: Int)
}

extension ChannelRequestHandler {
    /// No TCP: `unknownRequest`.
    public mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> { .failure(.unknownRequest) }
    /// No TCP: `unknownRequest`.
    public mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                                 cookie: UInt64) -> Result<Void, ChannelError> { .failure(.unknownRequest) }
    /// No TCP: no connection exists.
    public func ownsConnection(_ connection: UInt16, channel: Int) -> Bool { false }
    /// No TCP: `notWritable`.
    public mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer, lending: StreamLending) -> Result<StreamWrite, ChannelError> {
        .failure(.notWritable)
    }
    /// No TCP: nothing taken, so nothing to hand back; the connection does not exist.
    public mutating func streamSendProgress(connection: UInt16, channel: Int) -> StreamSendProgress {
        StreamSendProgress(returned: 0, ended: .notWritable)
    }
    /// No TCP: nothing is lent.
    public mutating func streamRecall(connection: UInt16, channel: Int) -> Bool { true }
    /// No TCP: nothing to do.
    public mutating func streamShutdown(connection: UInt16, channel: Int) {}
    /// No TCP: nothing to do.
    public mutating func streamRelease(connection: UInt16, channel: Int) {}
}

/// How `streamWrite` may take a buffer's bytes. A buffer is lent or copied whole: the rest of
/// a buffer taken in part must go the way its first bytes went.
public enum StreamLending: Equatable, Sendable {
    /// Copy them (the channel holds too many buffers, or the buffer's first bytes were copied).
    case copy
    /// Lend them (the buffer's first bytes were lent).
    case lend
    /// The connection chooses.
    case either
}

/// What `streamWrite` did with the bytes it took.
public struct StreamWrite: Equatable {
    /// How many bytes it took.
    public var taken: Int
    /// Whether it lent them (they come back through `streamSendProgress`) rather than copied
    /// them (free at once).
    public var lent: Bool

    public init(taken: Int, lent: Bool) {
        self.taken = taken
        self.lent = lent
    }
}

/// What a connection reports about the program's bytes it took (`streamSendProgress`).
public struct StreamSendProgress: Equatable {
    /// Bytes handed back since the last report, oldest first.
    public var returned: Int
    /// Set once the connection has ended: it holds none of the program's bytes any more.
    public var ended: ChannelError?

    /// `returned` bytes handed back; `ended` when the connection is over.
    public init(returned: Int, ended: ChannelError? = nil) {
        self.returned = returned
        self.ended = ended
    }
}
