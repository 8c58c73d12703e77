// Bad channel: a ring-3 program that writes malformed descriptors into its channel on purpose,
// to show that the network core refuses each one with an error completion and goes on.
import Channels
import ProgramRuntime
import Synchronization

/// One malformed request and the error the network core must answer it with.
struct Probe {
    var request: ChannelRequest
    var expected: ChannelError
}

@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, _) = ProgramChannel.open() else { return 1 }
    var requests = memory.requestRing.makeProducer(startingIndex: 0)
    var completions = memory.completionRing.makeConsumer(startingIndex: 0)
    let destination: UInt32 = 0x0A00_0202   // 10.0.2.2
    // A real socket first, so that the bad sends are refused for their buffers, not their socket.
    _ = requests.tryPush(.bind(port: 4242, cookie: 50))
    var socket: UInt16? = nil
    let bindDeadline = System.clock() + 5_000_000_000
    while socket == nil && System.clock() < bindDeadline {
        if let completion = completions.tryPop(), completion.cookie == 50, completion.decodedKind == .bound {
            socket = completion.socket
        } else {
            System.yield()
        }
    }
    guard let socket else {
        System.write("could not bind port 4242\n")
        return 2
    }
    // Buffer 5 is handed over once (legitimately) so that the second hand-over is a double one.
    let probes: InlineArray<7, Probe> = [
        Probe(request: .send(socket: socket, bufferIndex: 9999, offset: 0, length: 10, address: destination, port: 9, cookie: 1),
              expected: .badBufferIndex),
        // 100 bytes from 8 before the buffer's end: past it, whatever the buffers' size.
        Probe(request: .send(socket: socket, bufferIndex: 1, offset: memory.layout.bufferSize - 8, length: 100,
                             address: destination, port: 9, cookie: 2),
              expected: .badOffsetOrLength),
        Probe(request: .send(socket: socket, bufferIndex: 1, offset: UInt32.max, length: 2, address: destination, port: 9, cookie: 3),
              expected: .badOffsetOrLength),
        Probe(request: .postReceiveBuffer(5, cookie: 4), expected: .doubleHandBack),
        Probe(request: .close(socket: 12, cookie: 5), expected: .unknownSocket),
        Probe(request: .bind(port: 0, cookie: 6), expected: .badPort),
        Probe(request: ChannelRequest(operation: 0xEE, cookie: 7), expected: .unknownRequest),
    ]
    // The legitimate hand-over of buffer 5 (it stays posted for receiving).
    _ = requests.tryPush(.postReceiveBuffer(5, cookie: 100))
    for index in 0..<probes.count { _ = requests.tryPush(probes[index].request) }

    var refused = 0
    var wrong = 0
    let deadline = System.clock() + 5_000_000_000
    var answered = 0
    while answered < probes.count && System.clock() < deadline {
        guard let completion = completions.tryPop() else { System.yield(); continue }
        guard completion.cookie >= 1 && completion.cookie <= UInt64(probes.count) else { continue }
        answered += 1
        let probe = probes[Int(completion.cookie) - 1]
        if completion.decodedKind == .error && completion.decodedError == probe.expected {
            refused += 1
        } else {
            wrong += 1
            System.write("request ")
            System.write(completion.cookie)
            System.write(": expected error ")
            System.write(UInt64(probe.expected.rawValue))
            System.write(", got kind ")
            System.write(UInt64(completion.kind))
            System.write(" error ")
            System.write(UInt64(completion.error))
            System.write("\n")
        }
    }
    System.write(refused)
    System.write(" of ")
    System.write(UInt64(probes.count))
    System.write(" bad requests refused with the right error, ")
    System.write(UInt64(wrong))
    System.write(" wrong answers\n")
    guard refused == probes.count else { return 3 }
    // Run as "bad-channel-exit", end here, normally, with port 4242 still bound: the kernel
    // must release it.
    var nameStorage = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    let exitsNormally = withUnsafeMutableBytes(of: &nameStorage) { buffer in
        let name = UnsafeRawBufferPointer(rebasing: buffer[..<System.name(into: buffer)])
        let wanted: StaticString = "bad-channel-exit"
        return wanted.withUTF8Buffer { $0.count == name.count && zip($0, name).allSatisfy { $0 == $1 } }
    }
    if exitsNormally { return 0 }
    // Last, break the ring protocol itself: claim 1000 more requests than the ring holds. The
    // network core must refuse the channel from now on and have this program stopped.
    System.write("corrupting the request ring's tail; the kernel should stop this program\n")
    // An atomic store, as a real producer publishes its tail (a plain store followed by an
    // endless loop could be dropped by the optimizer).
    let tail = (memory.base + memory.layout.requestRingOffset + SingleProducerSingleConsumerRing<ChannelRequest>.tailOffset)
        .assumingMemoryBound(to: Atomic<UInt32>.self)
    tail.pointee.store(tail.pointee.load(ordering: .relaxed) &+ 1000, ordering: .releasing)
    while true { System.yield() }
}
