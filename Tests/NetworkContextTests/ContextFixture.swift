/// A network context over a fake queue pair and host, with programs' channels in guarded memory and a fake clock.

import Channels
import Network
import NetworkContext
import SwigletLibrary
import TCP
import TestSupport
import XCTest

typealias TestContext = NetworkContext<FakeFrameReceiver, FakeFrameSender, FakeHost>

/// A channel's memory, zeroed with both rings empty as the kernel leaves it before mapping it
/// into a program, and not yet given to a context.
final class ChannelBacking {
    let shared: PageAlignedMemory
    let privateMemory: PageAlignedMemory
    let memory: ChannelMemory

    init(layout: ChannelLayout = ContextFixture.layout) {
        shared = PageAlignedMemory(byteCount: layout.byteCount)
        privateMemory = PageAlignedMemory(byteCount: layout.serverPrivateByteCount)
        memory = ChannelMemory(base: shared.base, layout: layout)
        memory.initialize()
    }
}

/// One program's channel: its shared memory (what the program maps), the network side's
/// private memory, and the channel's number in the context.
final class ProgramChannel {
    let layout: ChannelLayout
    let shared: PageAlignedMemory
    let privateMemory: PageAlignedMemory
    let memory: ChannelMemory
    let channel: Int
    let cpu: Int

    init(context: TestContext, cpu: Int, layout: ChannelLayout) {
        self.layout = layout
        self.cpu = cpu
        let backing = ChannelBacking(layout: layout)
        shared = backing.shared
        privateMemory = backing.privateMemory
        memory = backing.memory
        guard let channel = context.addChannel(memory: memory, privateMemory: privateMemory.base, cpu: cpu) else {
            preconditionFailure("the context has no room for another channel")
        }
        self.channel = channel
    }

    /// The program's end of the channel.
    func makeEndpoint() -> ChannelEndpoint { ChannelEndpoint(memory: memory) }
    func makeUDPSocket() -> UDPSocket { UDPSocket(endpoint: makeEndpoint()) }
    func makeStreams() -> StreamEndpoint { StreamEndpoint(endpoint: makeEndpoint()) }

    /// Overwrites the request ring's shared producer index (the tail) — what a hostile or
    /// buggy program can do, since the ring is in its memory.
    func corruptRequestTail(_ value: UInt32) {
        (shared.base + layout.requestRingOffset + SingleProducerSingleConsumerRing<ChannelRequest>.tailOffset)
            .storeBytes(of: value, as: UInt32.self)
    }
}

/// The context under test with everything around it.
final class ContextFixture {
    static let meterPort: UInt16 = 4444
    static let metricsPort: UInt16 = 9100
    /// Small channels: 16 buffers of 2048 bytes, 32-slot rings.
    static let layout = ChannelLayout(requestCapacity: 32, completionCapacity: 32, bufferCount: 16, bufferSize: 2048)

    let queue = FakeQueuePair()
    let host = FakeHost()
    let context: TestContext
    /// The fake clock, in nanoseconds: passes use it as it is; tests move it with `advance`.
    /// It starts at one second so that "elapsed since 0" checks in the stack are not special.
    private(set) var now: UInt64 = 1_000_000_000
    var programs: [ProgramChannel] = []

    init(meterPort: UInt16? = ContextFixture.meterPort, metricsPort: UInt16? = ContextFixture.metricsPort,
         tcpCapacity: Int = 16, tcp: TCPConnectionConfiguration = TCPConnectionConfiguration(),
         index: Int = 0, mesh: ContextMesh? = nil, transmitChecksum: TransmitChecksum = .software,
         tcpSendLends: Bool = true, tcpLendingThreshold: Int = 16 * 1024) {
        var configuration = NetworkContextConfiguration(
            interface: InterfaceConfiguration(hardwareAddress: MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
                                              address: IPv4Address(10, 0, 2, 15), prefixLength: 24,
                                              gateway: IPv4Address(10, 0, 2, 2)),
            tcpCapacity: tcpCapacity, tcpSecret: SipHashKey(low: 0x0123_4567_89AB_CDEF, high: 0xFEDC_BA98_7654_3210))
        configuration.tcp = tcp
        configuration.meterPort = meterPort
        configuration.metricsPort = metricsPort
        configuration.mesh = mesh
        configuration.transmitChecksum = transmitChecksum
        configuration.tcpSendLends = tcpSendLends
        configuration.tcpLendingThreshold = tcpLendingThreshold
        context = TestContext(index: index, configuration: configuration, receiver: queue.receiver, sender: queue.sender,
                              host: host)
    }

    /// The host's record (doorbells, stops).
    var record: HostRecord { host.record }

    /// Adds a program's channel on `cpu` (before the context serves, as the kernel does).
    func addProgram(cpu: Int, layout: ChannelLayout = ContextFixture.layout) -> ProgramChannel {
        let program = ProgramChannel(context: context, cpu: cpu, layout: layout)
        programs.append(program)
        return program
    }

    /// A program on `cpu` with a UDP socket bound to `port`, its receive buffers posted.
    func boundSocket(port: UInt16, cpu: Int = 3, file: StaticString = #filePath,
                     line: UInt = #line) -> (ProgramChannel, UDPSocket) {
        let program = addProgram(cpu: cpu)
        var socket = program.makeUDPSocket()
        var wait = waitByPassing()
        XCTAssertNil(socket.bind(port: port, waitingWith: &wait).failure, file: file, line: line)
        // The bind's answer made the library post its receive buffers; serve those requests,
        // or the first datagram would find none posted.
        pass()
        return (program, socket)
    }

    /// A program on `cpu` listening for TCP connections on `port`, its receive buffers posted.
    func listeningProgram(port: UInt16, cpu: Int = 2, file: StaticString = #filePath,
                          line: UInt = #line) -> (ProgramChannel, StreamEndpoint) {
        let program = addProgram(cpu: cpu)
        var streams = program.makeStreams()
        var wait = waitByPassing()
        XCTAssertNil(streams.listen(port: port, waitingWith: &wait).failure, file: file, line: line)
        pass()   // serves the receive buffers the listen posted
        return (program, streams)
    }

    /// Moves the fake clock forward.
    func advance(by nanoseconds: UInt64) { now += nanoseconds }

    /// One pass at the current time.
    @discardableResult
    func pass() -> PassWork { context.pass(now: now) }

    /// Feeds `frames` to the NIC and runs one pass.
    @discardableResult
    func receive(_ frames: [UInt8]...) -> PassWork {
        for frame in frames { queue.feed(frame) }
        return pass()
    }

    /// Teaches the stack the peer's MAC (an ARP reply to us), so sends never wait for ARP.
    func learnPeer(file: StaticString = #filePath, line: UInt = #line) {
        let mark = queue.transmitted.count
        receive(arpReplyFrame())
        XCTAssertEqual(queue.transmitted.count, mark, "an ARP reply is not answered", file: file, line: line)
        XCTAssertEqual(context.networkCounters.arp.framesIn, 1, file: file, line: line)
    }

    /// Where the transmitted frames stand now (see `sent(since:)`).
    var mark: Int { queue.transmitted.count }

    /// The frames transmitted since `mark`, parsed (a malformed one fails the test).
    func sent(since mark: Int, file: StaticString = #filePath, line: UInt = #line) -> [SentFrame] {
        parseSent(queue.transmitted(since: mark), file: file, line: line)
    }

    /// The TCP segments transmitted since `mark`, each checked to go from us to the peer.
    func sentSegments(since mark: Int, file: StaticString = #filePath, line: UInt = #line) -> [SentSegment] {
        sent(since: mark, file: file, line: line).compactMap { frame in
            guard let segment = frame.segment else { return nil }
            XCTAssertEqual(frame.destinationMAC, peerMAC, "TCP to the peer's MAC", file: file, line: line)
            XCTAssertEqual(frame.ipDestination, peerIP, file: file, line: line)
            return segment
        }
    }

    /// A wait policy that runs one pass of the context per wait: the program and the network
    /// side take turns on the test's thread.
    func waitByPassing(limit: Int = 50) -> PassingWait { PassingWait(fixture: self, remaining: limit) }
}

/// Waits by running the context's pass; gives up after `remaining` passes.
struct PassingWait: WaitPolicy {
    let fixture: ContextFixture
    var remaining: Int

    mutating func wait() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        fixture.pass()
        return true
    }
}

/// The peer's side of one TCP connection, as the tests play it.
struct PeerConnection {
    /// The peer's port and ours.
    var peerPort: UInt16
    var localPort: UInt16
    /// The next sequence number the peer sends, and the next it expects from us.
    var sendNext: UInt32
    var receiveNext: UInt32

    /// A segment from the peer on this connection, with its sequence and acknowledgment.
    func segment(_ flags: TCPFlags, payload: [UInt8] = []) -> [UInt8] {
        tcpFrame(from: peerPort, to: localPort, sequence: sendNext, acknowledgment: receiveNext, flags: flags,
                 payload: payload)
    }

    /// Sends `payload` (PSH|ACK) and advances `sendNext`.
    mutating func data(_ payload: [UInt8]) -> [UInt8] {
        defer { sendNext &+= UInt32(payload.count) }
        return segment([.psh, .ack], payload: payload)
    }
}

extension ContextFixture {
    /// The peer opens a connection to our `port`: SYN, our SYN-ACK (checked), its ACK. Returns
    /// the peer's view of the connection, or nil (after failing the test) when no SYN-ACK came.
    func peerConnects(to port: UInt16, from peerPort: UInt16 = 40000, initialSequence: UInt32 = 0x1000_0000,
                      file: StaticString = #filePath, line: UInt = #line) -> PeerConnection? {
        let before = mark
        receive(tcpFrame(from: peerPort, to: port, sequence: initialSequence, flags: .syn,
                         options: maximumSegmentSizeOption))
        let answers = sentSegments(since: before, file: file, line: line)
        guard answers.count == 1, let synAck = answers.first, synAck.flags.contains([.syn, .ack]) else {
            XCTFail("expected one SYN-ACK, got \(answers.map(\.flags))", file: file, line: line)
            return nil
        }
        XCTAssertEqual(synAck.acknowledgment, initialSequence &+ 1, "the SYN-ACK acknowledges the SYN", file: file, line: line)
        XCTAssertEqual(synAck.sourcePort, port, file: file, line: line)
        XCTAssertEqual(synAck.destinationPort, peerPort, file: file, line: line)
        let connection = PeerConnection(peerPort: peerPort, localPort: port, sendNext: initialSequence &+ 1,
                                        receiveNext: synAck.sequence &+ 1)
        receive(connection.segment(.ack))
        return connection
    }
}

extension Result {
    /// The error, nil on success (`Result<Void, _>` is not Equatable).
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
