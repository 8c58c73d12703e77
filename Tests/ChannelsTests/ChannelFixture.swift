/// Test fixtures: a channel in guarded memory with its server end and raw program-side ring ends, and a fake network stack.

import Channels
import TestSupport
import XCTest

/// The network stack as a recording fake: a port table and the datagrams it was asked to send.
struct FakeNetworkStack: ChannelRequestHandler {
    struct SentDatagram: Equatable {
        var payload: [UInt8]
        var address: UInt32
        var port: UInt16
        var sourcePort: UInt16
    }

    /// Bound ports → (channel, socket). Port 7 is the network core's own echo service.
    var ports: [UInt16: (channel: Int, socket: UInt16)] = [7: (-1, 0)]
    var sent: [SentDatagram] = []
    /// Sends accepted before the fake answers `throttled` (nil: unlimited).
    var transmitCapacity: Int?
    /// Makes every send fail with this error.
    var sendError: ChannelError?

    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError> {
        guard ports[port] == nil else { return .failure(.portInUse) }
        ports[port] = (channel, socket)
        return .success(())
    }

    mutating func unbind(port: UInt16, channel: Int, socket: UInt16) {
        ports[port] = nil
    }

    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError> {
        if let sendError { return .failure(sendError) }
        if let capacity = transmitCapacity {
            guard capacity > 0 else { return .failure(.throttled) }
            transmitCapacity = capacity - 1
        }
        sent.append(SentDatagram(payload: Array(payload), address: destination.address, port: destination.port,
                                 sourcePort: sourcePort))
        return .success(())
    }
}

/// One channel in memory fenced by guard pages, its server end, and raw program-side ring
/// ends that can write anything (a hostile program).
final class ChannelFixture: @unchecked Sendable {
    let layout: ChannelLayout
    let shared: PageAlignedMemory
    let privateMemory: PageAlignedMemory
    let memory: ChannelMemory
    var server: ServerChannel
    var requests: RingProducer<ChannelRequest>
    var completions: RingConsumer<ChannelCompletion>

    init(layout: ChannelLayout = ChannelLayout(requestCapacity: 16, completionCapacity: 16, bufferCount: 8, bufferSize: 2048),
         identifier: Int = 0) {
        self.layout = layout
        shared = PageAlignedMemory(byteCount: layout.byteCount)
        privateMemory = PageAlignedMemory(byteCount: layout.serverPrivateByteCount)
        memory = ChannelMemory(base: shared.base, layout: layout)
        memory.initialize()
        server = ServerChannel(memory: memory, privateMemory: privateMemory.base, identifier: identifier)
        requests = memory.requestRing.makeProducer()
        completions = memory.completionRing.makeConsumer()
    }

    /// Pushes `request` and serves the ring with a generous budget; returns every completion.
    @discardableResult
    func submit(_ request: ChannelRequest, handler: inout FakeNetworkStack,
                file: StaticString = #filePath, line: UInt = #line) -> [ChannelCompletion] {
        XCTAssertTrue(requests.tryPush(request), "request ring full", file: file, line: line)
        _ = server.serveRequests(budget: 64, handler: &handler)
        return drain()
    }

    /// Every completion waiting.
    func drain() -> [ChannelCompletion] {
        var result: [ChannelCompletion] = []
        while let completion = completions.tryPop() { result.append(completion) }
        return result
    }

    /// The buffer pool's bytes.
    func poolSnapshot() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: shared.base + layout.bufferPoolOffset,
                                     count: Int(layout.bufferCount) * Int(layout.bufferSize)))
    }

    /// Binds `port` and returns the socket.
    func bind(_ port: UInt16, handler: inout FakeNetworkStack) -> UInt16 {
        let completions = submit(.bind(port: port), handler: &handler)
        XCTAssertEqual(completions.count, 1)
        XCTAssertEqual(completions.first?.decodedKind, .bound)
        return completions.first?.socket ?? 0xFFFF
    }
}
