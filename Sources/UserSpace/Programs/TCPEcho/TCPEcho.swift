// TCP echo (RFC 862) as a ring-3 program: port 7, every connection's bytes sent back zero-copy.
import Channels
import ProgramRuntime
import SwigletLibrary

/// Echoes and closes that found the request ring full, kept in order until it drains. It
/// cannot overflow: it holds at most one entry per channel buffer (each echo holds its
/// received buffer) plus one close per connection.
struct Backlog {
    static let capacity = 512
    var connections = InlineArray<512, UInt16>(repeating: 0)
    /// The buffer to send back; nil for a close.
    var buffers = InlineArray<512, ReceivedBuffer?>(repeating: nil)
    var start = 0
    var count = 0

    mutating func append(_ buffer: ReceivedBuffer?, for connection: UInt16) {
        precondition(count < Self.capacity, "echo backlog overflow")
        connections[(start + count) % Self.capacity] = connection
        buffers[(start + count) % Self.capacity] = buffer
        count += 1
    }

    /// Carries out what it can, in order; stops at the first that would still block.
    mutating func flush(_ streams: inout StreamEndpoint) {
        while count > 0 {
            let connection = connections[start]
            if let buffer = buffers[start] {
                switch streams.send(buffer, on: connection) {
                case .failure(.wouldBlock): return
                case .failure: streams.release(buffer)   // the connection is gone: its bytes too
                case .success: break
                }
            } else if case .failure(.wouldBlock) = streams.close(connection: connection) {
                return
            }
            start = (start + 1) % Self.capacity
            count -= 1
        }
    }
}

@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, start) = ProgramChannel.open() else { return 1 }
    var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: memory))
    var wait = DoorbellWait(memory: memory, start: start)
    guard case .success = streams.listen(port: 7, waitingWith: &wait) else {
        System.write("cannot listen on TCP port 7\n")
        return 2
    }
    System.write("serving TCP echo on port 7\n")
    var backlog = Backlog()
    while true {
        if backlog.count > 0 { backlog.flush(&streams) }
        guard let event = streams.nextEvent(waitingWith: &wait) else { continue }
        switch event {
        case .received(let connection, let data):
            // Zero copy: the bytes go back out of the buffer they arrived in, after any
            // earlier echo still waiting for the ring.
            if backlog.count > 0 {
                backlog.append(data, for: connection)
                continue
            }
            switch streams.send(data, on: connection) {
            case .success: break
            case .failure(.wouldBlock): backlog.append(data, for: connection)
            case .failure: streams.release(data)
            }
        case .finished(let connection):
            // The peer is done: close after everything echoed so far.
            if backlog.count > 0 {
                backlog.append(nil, for: connection)
            } else if case .failure(.wouldBlock) = streams.close(connection: connection) {
                backlog.append(nil, for: connection)
            }
        default:
            break
        }
    }
}
