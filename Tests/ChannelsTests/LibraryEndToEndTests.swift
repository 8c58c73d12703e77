/// The application library against a simulated network core on another thread: bind, send, receive, wouldBlock, zero-copy.

import Channels
import Foundation
import Synchronization
import SwigletLibrary
import XCTest

/// A network core on its own thread: serves the channel, and plays a peer at 10.0.2.2 that
/// echoes every datagram sent to port 9 back to the sender's port, with each byte + 1.
final class SimulatedNetworkCore: @unchecked Sendable {
    static let peer: UInt32 = 0x0A00_0202
    let fixture: ChannelFixture
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let echoed = Atomic<Int>(0)
    /// Datagrams for the core thread to deliver, pushed by the test (port → payload).
    let injected = Mutex<[(port: UInt16, payload: [UInt8])]>([])
    /// Read after `finished`.
    var stack = FakeNetworkStack()
    var droppedNoBuffer = 0

    init(layout: ChannelLayout) {
        fixture = ChannelFixture(layout: layout)
    }

    func start() {
        let thread = Thread { [self] in
            while !stop.load(ordering: .relaxed) {
                _ = fixture.server.serveRequests(budget: 32, handler: &stack)
                let outgoing = stack.sent
                stack.sent.removeAll(keepingCapacity: true)
                for datagram in outgoing where datagram.address == Self.peer && datagram.port == 9 {
                    deliver(datagram.payload.map { $0 &+ 1 }, toPort: datagram.sourcePort, from: 9)
                    echoed.add(1, ordering: .relaxed)
                }
                let injections = injected.withLock { list in
                    defer { list.removeAll() }
                    return list
                }
                for injection in injections { deliver(injection.payload, toPort: injection.port, from: 4444) }
            }
            finished.store(true, ordering: .releasing)
        }
        thread.start()
    }

    private func deliver(_ payload: [UInt8], toPort port: UInt16, from sourcePort: UInt16) {
        guard let binding = stack.ports[port] else { return }
        let outcome = payload.withUnsafeBytes {
            fixture.server.deliver(payload: $0, from: (address: Self.peer, port: sourcePort), to: binding.socket)
        }
        if outcome != .delivered { droppedNoBuffer += 1 }
    }

    func shutDown() {
        stop.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
    }
}

extension Result where Success == Void {
    /// The error, nil on success (`Result<Void, _>` is not Equatable).
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

final class LibraryEndToEndTests: XCTestCase {
    let layout = ChannelLayout(requestCapacity: 64, completionCapacity: 128, bufferCount: 64)
    let echoPeer = SocketAddress(10, 0, 2, 2, port: 9)

    func testBindSendReceiveAndWouldBlock() {
        let core = SimulatedNetworkCore(layout: layout)
        core.start()
        var socket = UDPSocket(endpoint: ChannelEndpoint(memory: core.fixture.memory, receiveBufferTarget: 16))
        var bytes = [UInt8](repeating: 0, count: 1500)
        XCTAssertEqual(bytes.withUnsafeBytes { socket.send(to: echoPeer, bytes: $0) }.error, .notBound)

        var wait = BoundedSpinWait(limit: 50_000_000)
        XCTAssertNil(socket.bind(port: 5000, waitingWith: &wait).error)
        XCTAssertEqual(socket.port, 5000)
        XCTAssertEqual(socket.bind(port: 5001, waitingWith: &wait).error, .alreadyBound)
        XCTAssertEqual(bytes.withUnsafeMutableBytes { socket.receive(into: $0) }.map { $0.length }, .failure(.wouldBlock))

        // 2000 datagrams, each echoed with every byte + 1, in order, none lost. At most 8 are in
        // flight, fewer than the 16 receive buffers the library keeps posted: like UDP, the
        // network core drops (and counts) a datagram for which no buffer is posted, so a larger
        // window would make the "none lost" check depend on thread timing.
        var received = 0
        var sent = 0
        let total = 2000
        let deadline = Date().addingTimeInterval(60)
        while received < total && Date() < deadline {
            if sent < total && sent - received < 8 {
                let payload = (0..<(sent % 300 + 1)).map { UInt8(truncatingIfNeeded: $0 + sent) }
                switch payload.withUnsafeBytes({ socket.send(to: echoPeer, bytes: $0) }) {
                case .success: sent += 1
                case .failure(.wouldBlock): break
                case .failure(let error): XCTFail("send: \(error)"); return
                }
            }
            switch bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) {
            case .success(let result):
                let expected = (0..<(received % 300 + 1)).map { UInt8(truncatingIfNeeded: $0 + received) &+ 1 }
                if Array(bytes[0..<result.length]) != expected {
                    XCTFail("datagram \(received): \(result.length) bytes, expected \(expected.count)")
                    core.shutDown()
                    return
                }
                XCTAssertEqual(result.source, echoPeer)
                received += 1
            case .failure(.wouldBlock): break
            case .failure(let error): XCTFail("receive: \(error)"); return
            }
        }
        core.shutDown()
        XCTAssertEqual(received, total)
        XCTAssertEqual(core.echoed.load(ordering: .relaxed), total)
        XCTAssertEqual(core.droppedNoBuffer, 0, "the library kept buffers posted")
        XCTAssertEqual(socket.endpoint.statistics.sendErrors, 0)
        // Each send either came back (`sent`) or posted its buffer for receive once sent.
        XCTAssertEqual(socket.endpoint.statistics.sendsCompleted + socket.endpoint.statistics.sendsPostingTheirBuffer,
                       UInt64(total))
        XCTAssertEqual(core.fixture.server.counters.totalErrors, 0)
        // Every buffer accounted for: free, or posted for receive. The core thread has stopped;
        // requests it had not reached yet (the library's last re-posts) are served here, on this
        // thread, so the two sides' counts are compared at rest rather than racing.
        _ = core.fixture.server.serveRequests(budget: 1000, handler: &core.stack)
        _ = socket.receiveBuffer()
        XCTAssertEqual(socket.endpoint.freeBufferCount + socket.endpoint.postedReceiveBufferCount, 64)
        XCTAssertEqual(core.fixture.server.postedReceiveBufferCount, socket.endpoint.postedReceiveBufferCount)
        XCTAssertEqual(socket.endpoint.postedReceiveBufferCount, 16)
    }

    func testZeroCopyRoundTripAndPortInUse() {
        let core = SimulatedNetworkCore(layout: layout)
        core.start()
        var endpoint = ChannelEndpoint(memory: core.fixture.memory, receiveBufferTarget: 8)
        var wait = BoundedSpinWait(limit: 50_000_000)
        guard case .success(let socket) = endpoint.bind(port: 6000, waitingWith: &wait) else { return XCTFail("bind") }
        XCTAssertEqual(endpoint.bind(port: 6000, waitingWith: &wait), .failure(.refused(.portInUse)))
        XCTAssertEqual(endpoint.bind(port: 7, waitingWith: &wait), .failure(.refused(.portInUse)))
        var udp = UDPSocket(endpoint: endpoint)
        XCTAssertNil(udp.bind(port: 6001, waitingWith: &wait).error)
        XCTAssertNotEqual(udp.socket, socket)

        // Written in place into the channel buffer.
        let result = udp.withSendBuffer(to: echoPeer) { buffer in
            for index in 0..<64 { buffer[index] = UInt8(index) }
            return 64
        }
        XCTAssertNil(result.error)
        var spin = BoundedSpinWait(limit: 50_000_000)
        guard case .success(let echo) = udp.receiveBuffer(waitingWith: &spin) else { return XCTFail("no echo") }
        XCTAssertEqual(Array(udp.bytes(of: echo)), (1...64).map { UInt8($0) })
        XCTAssertEqual(echo.source, echoPeer)
        // Reply from the same buffer after editing it in place: no copy on the program side.
        let bufferIndex = echo.bufferIndex
        udp.mutableBytes(of: echo)[0] = 200
        XCTAssertNil(udp.reply(with: echo, length: 10, to: echoPeer).error)
        guard case .success(let again) = udp.receiveBuffer(waitingWith: &spin) else { return XCTFail("no second echo") }
        XCTAssertEqual(Array(udp.bytes(of: again)), [201] + (3...11).map { UInt8($0) }, "edited in place, echoed + 1")
        udp.release(again)
        core.shutDown()
        XCTAssertEqual(core.stack.ports[6001]?.socket, udp.socket)
        XCTAssertEqual(core.fixture.server.counters.sent, 2)
        XCTAssertEqual(core.fixture.server.counters[error: .portInUse], 2)
        XCTAssertNotEqual(again.bufferIndex, bufferIndex, "the replied buffer went back to the pool, another was filled")
        XCTAssertEqual(udp.endpoint.statistics.sendErrors, 0)
    }

    func testFullRingsGiveWouldBlockAndLoseNothing() {
        // No core thread: nothing drains the request ring.
        let fixture = ChannelFixture(layout: ChannelLayout(requestCapacity: 4, completionCapacity: 4, bufferCount: 8))
        var endpoint = ChannelEndpoint(memory: fixture.memory, receiveBufferTarget: 0)
        let payload: [UInt8] = [1, 2, 3]
        var results: [SocketError?] = []
        for _ in 0..<6 { results.append(payload.withUnsafeBytes { endpoint.send($0, to: echoPeer, from: 0) }.error) }
        XCTAssertEqual(results, [nil, nil, nil, nil, .wouldBlock, .wouldBlock])
        XCTAssertEqual(endpoint.freeBufferCount, 4, "a refused send keeps its buffer")
        XCTAssertEqual(endpoint.receive(), .failure(.wouldBlock))
        XCTAssertEqual([UInt8](repeating: 0, count: 1473).withUnsafeBytes { endpoint.send($0, to: echoPeer, from: 0) }.error,
                       .datagramTooLarge)
        // The network core refuses them all (socket 0 is not bound): the buffers come back.
        var stack = FakeNetworkStack()
        XCTAssertEqual(fixture.server.serveRequests(budget: 10, handler: &stack), 4)
        XCTAssertNil(payload.withUnsafeBytes { endpoint.send($0, to: echoPeer, from: 0) }.error)
        XCTAssertEqual(endpoint.statistics.sendErrors, 4)
        XCTAssertEqual(endpoint.statistics.lastSendError, .unknownSocket)
        XCTAssertEqual(endpoint.freeBufferCount, 7)
    }
}
