// A TCP client as a ring-3 program: connects out, sends a greeting, half-closes, prints the answer.
import Channels
import ProgramRuntime
import SwigletLibrary

/// Where it connects: QEMU's user-mode network puts the host at 10.0.2.2 (and the benchmark and
/// test namespaces give their tap the same address), port 7777.
let server = SocketAddress(10, 0, 2, 2, port: 7777)
/// What it sends before shutting its side down.
let greeting: StaticString = "hello from a swiglet program\n"
/// How many connection attempts before giving up (a refused connect is retried after a pause).
let attempts = 20

/// The client of `connect` and `shutdown`, the two stream calls the servers do not make. It
/// connects to `server`, sends `greeting`, shuts its sending side down (half-close: RFC 9293
/// §3.6), prints every byte it receives until the server closes, then closes and exits 0. A
/// test runs a server on the host to answer it; without one it reports the refusal and exits 1.
/// Run as `tcp-client-crash` it faults on purpose right after sending, while connected: the
/// kernel stops it, and the network core must reset its connection (the server sees a RST).
@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, start) = ProgramChannel.open() else { return 1 }
    var streams = StreamEndpoint(endpoint: ChannelEndpoint(memory: memory))
    var wait = DoorbellWait(memory: memory, start: start)
    var connection: UInt16? = nil
    var attempt = 0
    while connection == nil {
        attempt += 1
        guard case .success = streams.connect(to: server) else {
            System.write("cannot ask for a connection\n")
            return 1
        }
        while connection == nil {
            switch streams.nextEvent(waitingWith: &wait) {
            case .connected(let opened, _)?:
                connection = opened
            case .connectFailed(_, let error)?:
                if attempt >= attempts {
                    System.write("connecting to 10.0.2.2:7777 failed ")
                    System.write(UInt64(attempts))
                    System.write(" times; the last error: ")
                    System.write(describe(error))
                    System.write("\n")
                    return 1
                }
                pause(milliseconds: 250)
                break
            default:
                continue
            }
            if connection == nil { break }
        }
    }
    let id = connection!
    System.write("connected to 10.0.2.2:7777\n")
    var sent = 0
    while sent < greeting.utf8CodeUnitCount {
        let rest = UnsafeRawBufferPointer(start: greeting.utf8Start + sent, count: greeting.utf8CodeUnitCount - sent)
        switch streams.send(connection: id, bytes: rest) {
        case .success(let count): sent += count
        case .failure(.wouldBlock): _ = streams.nextEvent(waitingWith: &wait)
        case .failure: System.write("the connection broke while sending\n"); return 1
        }
    }
    if System.runs(as: "tcp-client-crash") {
        // Wait until the network core took the greeting (its buffer comes back with `sent`),
        // so that the bytes are in the connection's send buffer before the program dies.
        while true {
            if case .sent? = streams.nextEvent(waitingWith: &wait) { break }
        }
        System.write("faulting on purpose while connected (reading address 0)\n")
        let byte = UnsafePointer<UInt8>(bitPattern: 0x8)!.pointee
        System.write("read ")
        System.write(hex: UInt64(byte))
        System.write(" from page 0, which must not happen\n")
        return 2
    }
    while case .failure(.wouldBlock) = streams.shutdown(connection: id) { _ = wait.wait() }
    var received = 0
    while true {
        switch streams.nextEvent(waitingWith: &wait) {
        case .received(_, let data)?:
            System.write("received: ")
            System.write(bytes: data.bytes)
            received += data.bytes.count
            streams.release(data)
        case .finished?:
            System.write("the server closed after ")
            System.write(UInt64(received))
            System.write(" bytes\n")
            while case .failure(.wouldBlock) = streams.close(connection: id) { _ = wait.wait() }
        case .closed(_, let error)?:
            if let error {
                System.write("the connection ended with an error: ")
                System.write(describe(error))
                System.write("\n")
                return 1
            }
            System.write("closed\n")
            return 0
        default:
            break
        }
    }
}

/// A short name for an error, for the console.
func describe(_ error: SocketError) -> StaticString {
    switch error {
    case .refused(.connectionRefused): "connection refused"
    case .refused(.connectionReset): "connection reset"
    case .refused(.timedOut): "timed out"
    case .refused(.noRoute): "no route"
    case .refused(.tooManyConnections): "too many connections"
    case .refused: "refused"
    case .wouldBlock: "would block"
    case .channelBroken: "channel broken"
    default: "error"
    }
}

/// Waits about `milliseconds` by the kernel clock (a system call per look: this is a rare path).
func pause(milliseconds: UInt64) {
    let until = System.clock() + milliseconds * 1_000_000
    while System.clock() < until { System.yield() }
}
