/// A socket-like UDP API over one channel endpoint, with copying and zero-copy sends and receives.

import Channels

/// One UDP socket on its own channel endpoint: the socket API programs use.
///
/// ```swift
/// var socket = UDPSocket(endpoint: ChannelEndpoint(memory: channel))
/// var spin = SpinWait()
/// _ = socket.bind(port: 7, waitingWith: &spin)
/// while true {
///     guard case .success(let datagram) = socket.receiveBuffer(waitingWith: &spin) else { continue }
///     _ = socket.reply(with: datagram, length: datagram.length, to: datagram.source)  // zero-copy echo
/// }
/// ```
///
/// Nothing blocks unless given a `WaitPolicy`: without one, an operation that cannot happen
/// now returns `wouldBlock` and has taken nothing (a full ring or an empty pool is never a
/// silent drop). Nothing allocates.
///
/// TCP has its own endpoint type, `StreamEndpoint`, over a channel of its own: it reports
/// connections as events, and its `sent` means the network core is done with the buffer (a
/// lent buffer comes back once its bytes are acknowledged; a copied one at once).
public struct UDPSocket {
    /// The channel endpoint (other sockets may be opened on it directly).
    public private(set) var endpoint: ChannelEndpoint
    /// The socket number once bound.
    public private(set) var socket: UInt16?
    /// The local port once bound.
    public private(set) var port: UInt16?

    /// An unbound socket over `endpoint`.
    public init(endpoint: ChannelEndpoint) {
        self.endpoint = endpoint
    }

    /// Binds local UDP `port`, waiting for the network core's answer with `wait`; then posts
    /// receive buffers so datagrams can arrive.
    public mutating func bind<Wait: WaitPolicy>(port: UInt16, waitingWith wait: inout Wait) -> Result<Void, SocketError> {
        guard socket == nil else { return .failure(.alreadyBound) }
        switch endpoint.bind(port: port, waitingWith: &wait) {
        case .success(let socket):
            self.socket = socket
            self.port = port
            return .success(())
        case .failure(let error):
            return .failure(error)
        }
    }

    /// Sends `bytes` (copied into a channel buffer) to `destination`.
    public mutating func send(to destination: SocketAddress, bytes: UnsafeRawBufferPointer) -> Result<Void, SocketError> {
        guard let socket else { return .failure(.notBound) }
        return endpoint.send(bytes, to: destination, from: socket)
    }

    /// Zero-copy send: `fill` writes the payload straight into a channel buffer and returns
    /// its length (0: send nothing).
    public mutating func withSendBuffer(to destination: SocketAddress,
                                        _ fill: (UnsafeMutableRawBufferPointer) -> Int) -> Result<Void, SocketError> {
        guard let socket else { return .failure(.notBound) }
        return endpoint.withSendBuffer(to: destination, from: socket, fill)
    }

    /// The next datagram, lent in its channel buffer (read it with `bytes(of:)`, give it back
    /// with `release` or `reply`); `wouldBlock` when none is there.
    public mutating func receiveBuffer() -> Result<ReceivedDatagram, SocketError> {
        guard socket != nil else { return .failure(.notBound) }
        return endpoint.receive()
    }

    /// `receiveBuffer`, waiting with `wait` while nothing is there.
    public mutating func receiveBuffer<Wait: WaitPolicy>(waitingWith wait: inout Wait) -> Result<ReceivedDatagram, SocketError> {
        while true {
            let result = receiveBuffer()
            guard case .failure(.wouldBlock) = result, wait.wait() else { return result }
        }
    }

    /// Copies the next datagram into `destination` (truncated to its size) and gives its buffer
    /// back at once; returns the number of bytes copied and the sender. `wouldBlock` when none
    /// is there.
    public mutating func receive(into destination: UnsafeMutableRawBufferPointer) -> Result<(length: Int, source: SocketAddress), SocketError> {
        switch receiveBuffer() {
        case .success(let datagram):
            let bytes = endpoint.bytes(of: datagram)
            let length = min(bytes.count, destination.count)
            if length > 0 {
                destination.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: length)
            }
            endpoint.release(datagram)
            return .success((length: length, source: datagram.source))
        case .failure(let error):
            return .failure(error)
        }
    }

    /// The payload of a datagram lent by `receiveBuffer`.
    public func bytes(of datagram: ReceivedDatagram) -> UnsafeRawBufferPointer {
        endpoint.bytes(of: datagram)
    }

    /// The payload of a lent datagram, writable in place before a `reply`.
    public func mutableBytes(of datagram: ReceivedDatagram) -> UnsafeMutableRawBufferPointer {
        let buffer = endpoint.memory.buffer(datagram.bufferIndex)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[Int(datagram.offset)..<Int(datagram.offset) + Int(datagram.length)])
    }

    /// Gives a lent datagram's buffer back for receiving.
    public mutating func release(_ datagram: ReceivedDatagram) {
        endpoint.release(datagram)
    }

    /// Zero-copy reply: sends the first `length` bytes of a lent datagram's buffer to
    /// `destination`; the buffer returns to the pool once sent. On `wouldBlock` the program
    /// still holds the datagram.
    public mutating func reply(with datagram: ReceivedDatagram, length: UInt32, to destination: SocketAddress) -> Result<Void, SocketError> {
        guard let socket else { return .failure(.notBound) }
        return endpoint.send(datagram, length: length, to: destination, from: socket)
    }
}
