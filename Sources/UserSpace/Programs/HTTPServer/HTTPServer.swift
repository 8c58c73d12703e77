// HTTP/1.1 static-site server as a ring-3 program: port 80, the site archive linked into it.
import Channels
import HTTP
import ProgramRuntime
import RawBytes
import SwigletLibrary

// The archive packed from site/ (boot/site-archive.asm, linked into this program only).
@_extern(c, "site_archive_base") func site_archive_base() -> UnsafeRawPointer
@_extern(c, "site_archive_size") func site_archive_size() -> UInt64

/// No received buffer (the end of a queue).
let noBuffer = UInt32.max

/// One connection: its HTTP session, the received buffers not parsed yet (a queue linked
/// through `Server.nextBuffer`), and the response still to send.
struct Connection {
    var inUse = false
    var session: HTTPServerSession<StaticSite>
    /// Received buffers in arrival order; `inputOffset` bytes of the first are parsed.
    var firstBuffer = noBuffer
    var lastBuffer = noBuffer
    var inputOffset = 0
    /// The response bytes not yet taken by `send`: the rest of the head, then of the body.
    var pendingHead = UnsafeRawBufferPointer(start: nil, count: 0)
    var pendingBody = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Close once the pending response is out (the session said so, or the peer finished).
    var closeAfterSending = false
    var peerFinished = false
    /// Waiting for channel buffers (`send` took less than offered) or a request slot.
    var blocked = false
    /// `close` was called: only `closed` is expected now.
    var closing = false
    /// When something last happened on it (a coarse clock, see `Server.now`).
    var lastActivity: UInt64 = 0
}

/// The server's state: every connection, and the received buffers they hold.
struct Server {
    var streams: StreamEndpoint
    let site: StaticSite
    /// Connection slots, indexed by connection number.
    let connections: UnsafeMutablePointer<Connection>
    /// Each connection's head buffer (`HTTPResponseHead.maximumLength` bytes each).
    let heads: UnsafeMutableRawPointer
    /// Held received buffers, indexed by channel buffer index, and each one's successor in its
    /// connection's queue: a buffer is in at most one queue, so this never overflows.
    let received: UnsafeMutablePointer<ReceivedBuffer>
    let nextBuffer: UnsafeMutablePointer<UInt32>
    var blockedCount = 0
    /// The blocked connections in the order they blocked, each at most once, so that retrying
    /// visits those and not all 16,384 connection numbers; one that unblocked meanwhile is
    /// skipped when it comes up.
    var blockedOrder = UniqueNumberQueue(capacity: StreamEndpoint.maximumConnections)
    /// A coarse clock: read from the kernel when the loop idles, and every
    /// `eventsPerClockReading` events under load (a system call each, so not per event).
    var now: UInt64 = 0
    var eventsSinceClockReading = 0
    var lastSweep: UInt64 = 0
    static let eventsPerClockReading = 1024
    /// A connection with no activity for this long is closed — idle keep-alive connections and
    /// clients that send a request a byte at a time (slowloris) would otherwise hold
    /// connections for ever. Apache's KeepAliveTimeout is 5 s, nginx's 75 s. An idle
    /// connection costs the network core no buffer memory and this server about 400 bytes, so
    /// a minute is affordable even for 10,000 of them.
    static let idleTimeout: UInt64 = 60_000_000_000

    init(streams: StreamEndpoint, site: StaticSite) {
        self.streams = streams
        self.site = site
        let count = StreamEndpoint.maximumConnections
        connections = UnsafeMutablePointer<Connection>.allocate(capacity: count)
        connections.initialize(repeating: Connection(session: HTTPServerSession(source: site)), count: count)
        heads = UnsafeMutableRawPointer.allocate(byteCount: count * HTTPResponseHead.maximumLength, alignment: 64)
        let buffers = Int(streams.endpoint.memory.layout.bufferCount)
        received = UnsafeMutablePointer<ReceivedBuffer>.allocate(capacity: buffers)
        received.initialize(repeating: ReceivedBuffer(bufferIndex: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0)),
                            count: buffers)
        nextBuffer = UnsafeMutablePointer<UInt32>.allocate(capacity: buffers)
        nextBuffer.initialize(repeating: noBuffer, count: buffers)
    }

    func headBuffer(_ connection: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: heads + connection * HTTPResponseHead.maximumLength,
                                      count: HTTPResponseHead.maximumLength)
    }

    mutating func handle(_ event: StreamEvent) {
        eventsSinceClockReading += 1
        if eventsSinceClockReading >= Self.eventsPerClockReading { tick() }
        switch event {
        case .accepted(let connection, _, _), .received(let connection, _), .sent(let connection, _), .finished(let connection):
            connections[Int(connection)].lastActivity = now
        default:
            break
        }
        switch event {
        case .accepted(let connection, _, _):
            releaseInput(Int(connection))   // (nothing held unless a `closed` went missing)
            if connections[Int(connection)].blocked { blockedCount -= 1 }
            connections[Int(connection)] = Connection(inUse: true, session: HTTPServerSession(source: site), lastActivity: now)
        case .received(let connection, let data):
            let index = Int(connection)
            guard connections[index].inUse, !connections[index].closing,
                  Int(data.bufferIndex) < Int(streams.endpoint.memory.layout.bufferCount) else {
                streams.release(data)
                return
            }
            enqueue(data, on: index)
            pump(index, yielding: true)
        case .sent(let connection, _):
            // A channel buffer came back (an answer sent while enough were posted): this
            // connection goes on, and the waiting ones below.
            pump(Int(connection), yielding: true)
        case .finished(let connection):
            let index = Int(connection)
            guard connections[index].inUse else { return }
            connections[index].peerFinished = true
            pump(index, yielding: true)
        case .closed(let connection, _):
            let index = Int(connection)
            releaseInput(index)
            if connections[index].blocked { blockedCount -= 1 }
            connections[index].inUse = false
            connections[index].closing = false
            connections[index].blocked = false
        case .connected, .connectFailed:
            break   // this program never connects
        }
        // Answers post their buffers for receive (`answersPostTheirBuffers`), so most come back as
        // received requests, not `sent` events: whenever a buffer is free (a parsed request's,
        // a returned one), the connections waiting for one go on, oldest first.
        if blockedCount > 0 && streams.endpoint.freeBufferCount > 0 { retryBlocked() }
    }

    mutating func enqueue(_ data: ReceivedBuffer, on connection: Int) {
        let buffer = data.bufferIndex
        received[Int(buffer)] = data
        nextBuffer[Int(buffer)] = noBuffer
        if connections[connection].lastBuffer == noBuffer {
            connections[connection].firstBuffer = buffer
            connections[connection].inputOffset = 0
        } else {
            nextBuffer[Int(connections[connection].lastBuffer)] = buffer
        }
        connections[connection].lastBuffer = buffer
    }

    /// Gives back the first received buffer of `connection`.
    mutating func dequeue(_ connection: Int) {
        let buffer = connections[connection].firstBuffer
        connections[connection].firstBuffer = nextBuffer[Int(buffer)]
        if connections[connection].firstBuffer == noBuffer { connections[connection].lastBuffer = noBuffer }
        connections[connection].inputOffset = 0
        streams.release(received[Int(buffer)])
    }

    mutating func releaseInput(_ connection: Int) {
        while connections[connection].firstBuffer != noBuffer { dequeue(connection) }
    }

    /// Moves `connection` on as far as it can without waiting: sends what is pending, answers
    /// the next request, closes when done. Never waits for one connection.
    ///
    /// `yielding` (an event on the connection, not a retry): while other connections wait for
    /// a buffer, this one's answer joins the end of their line instead of taking the buffer
    /// first. Its request's buffer, freed by the parse, then goes to the oldest waiting
    /// connection (`retryBlocked`). Without this, each new request would take the buffer its
    /// own parse freed, and since answers post their buffers (`sent` events are rare), a
    /// waiting connection could wait for as long as new requests kept coming. (The network core
    /// serves its own waiting line the same way: docs/network-core.md, "Waiting connections".)
    mutating func pump(_ connection: Int, yielding: Bool = false) {
        guard connections[connection].inUse, !connections[connection].closing else { return }
        setBlocked(connection, false)
        while true {
            // 1. The pending response, head and body gathered: a small one is one buffer, one
            // request, and its buffer is posted for receive once sent (`answersPostTheirBuffers`):
            // a request and its answer cost the channel one completion and one request.
            while connections[connection].pendingHead.count > 0 || connections[connection].pendingBody.count > 0 {
                if yielding && blockedCount > 0 {
                    setBlocked(connection, true)   // behind those waiting already
                    return
                }
                let head = connections[connection].pendingHead, body = connections[connection].pendingBody
                switch streams.send(connection: UInt16(connection), bytes: head, then: body) {
                case .success(let taken):
                    let fromHead = min(taken, head.count)
                    connections[connection].pendingHead = UnsafeRawBufferPointer(rebasing: head[fromHead...])
                    connections[connection].pendingBody = UnsafeRawBufferPointer(rebasing: body[(taken - fromHead)...])
                    if taken < head.count + body.count {
                        setBlocked(connection, true)   // out of channel buffers: a freed one resumes it
                        return
                    }
                case .failure(.wouldBlock):
                    setBlocked(connection, true)
                    return
                case .failure:
                    // The connection no longer takes data: give up on it.
                    connections[connection].pendingHead = UnsafeRawBufferPointer(start: nil, count: 0)
                    connections[connection].pendingBody = UnsafeRawBufferPointer(start: nil, count: 0)
                    connections[connection].closeAfterSending = true
                }
            }
            // 2. Close once everything is out, if the session or the peer ended the conversation.
            let inputEmpty = connections[connection].firstBuffer == noBuffer
            if connections[connection].closeAfterSending || (connections[connection].peerFinished && inputEmpty) {
                releaseInput(connection)
                if case .failure(.wouldBlock) = streams.close(connection: UInt16(connection)) {
                    setBlocked(connection, true)   // no request slot: retried later
                    return
                }
                connections[connection].closing = true
                return
            }
            // 3. The next request from the received bytes.
            guard !inputEmpty else { return }
            let first = received[Int(connections[connection].firstBuffer)]
            let offset = connections[connection].inputOffset
            let input = UnsafeRawBufferPointer(rebasing: first.bytes[offset...])
            let (consumed, response) = connections[connection].session.receive(input, headBuffer: headBuffer(connection))
            connections[connection].inputOffset = offset + consumed
            if offset + consumed >= first.bytes.count { dequeue(connection) }
            if let response {
                connections[connection].pendingHead = response.head
                connections[connection].pendingBody = response.body
                connections[connection].closeAfterSending = response.closesConnection
            }
        }
    }

    mutating func setBlocked(_ connection: Int, _ blocked: Bool) {
        guard connections[connection].blocked != blocked else { return }
        connections[connection].blocked = blocked
        blockedCount += blocked ? 1 : -1
        if blocked { blockedOrder.push(connection) }
    }

    /// Reads the clock, and about once a second closes the connections idle for longer than
    /// `idleTimeout`.
    mutating func tick() {
        eventsSinceClockReading = 0
        now = System.clock()
        guard now &- lastSweep >= 1_000_000_000 else { return }
        lastSweep = now
        var connection = 0
        while connection < StreamEndpoint.maximumConnections {
            if connections[connection].inUse, !connections[connection].closing,
               now &- connections[connection].lastActivity >= Self.idleTimeout {
                connections[connection].closeAfterSending = true
                connections[connection].pendingHead = UnsafeRawBufferPointer(start: nil, count: 0)
                connections[connection].pendingBody = UnsafeRawBufferPointer(start: nil, count: 0)
                pump(connection)
            }
            connection += 1
        }
    }

    /// Pumps the connections waiting for buffers or a request slot, oldest first, until one
    /// blocks again: then the channel is out of buffers (or request slots) once more and the
    /// others would block the same way, so they wait, in order, for the next free buffer.
    /// (Trying them all on every returned buffer made each cost a visit to every blocked
    /// connection.)
    mutating func retryBlocked() {
        var turns = blockedOrder.count
        while turns > 0 && blockedCount > 0, let connection = blockedOrder.pop() {
            turns -= 1
            guard connections[connection].blocked else { continue }
            pump(connection)
            if connections[connection].blocked { break }   // back at the end of the queue
        }
    }
}

@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, start) = ProgramChannel.open() else { return 1 }
    let site: StaticSite
    do {
        site = try StaticSite(ByteReader(start: site_archive_base(), count: Int(site_archive_size())))
    } catch {
        System.write("the linked site archive is corrupt\n")
        return 3
    }
    // The event loop's wait gives up after one sleep, so the loop can retry sends and closes
    // that found no request slot.
    var wait = DoorbellWait(memory: memory, start: start, givesUpAfterSleeping: true)
    var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: memory))
    streams.answersPostTheirBuffers = true   // every answer's buffer is posted for receive once sent
    var server = Server(streams: streams, site: site)
    // Listening waits as long as it takes (the event loop's policy gives up when idle).
    var listenWait = DoorbellWait(memory: memory, start: start)
    guard case .success = server.streams.listen(port: 80, waitingWith: &listenWait) else {
        System.write("cannot listen on TCP port 80\n")
        return 2
    }
    System.write("serving HTTP on port 80: ")
    System.write(UInt64(site.count))
    System.write(" files, ")
    System.write(site_archive_size())
    System.write(" bytes\n")
    server.tick()
    while true {
        if let event = server.streams.nextEvent(waitingWith: &wait) {
            server.handle(event)
        } else {
            // The wait gave up (idle): retry closes and sends that found no request slot, and
            // close connections idle for too long.
            server.retryBlocked()
            server.tick()
        }
    }
}
