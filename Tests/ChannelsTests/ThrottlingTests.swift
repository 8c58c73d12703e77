/// Fairness between channels: a flooding program gets its budget per pass, a quiet one is served at once.

import Channels
import XCTest

final class ThrottlingTests: XCTestCase {
    func testFloodingChannelCannotStarveAQuietOne() {
        let layout = ChannelLayout(requestCapacity: 128, completionCapacity: 256, bufferCount: 8)
        let flooder = ChannelFixture(layout: layout, identifier: 0)
        let quiet = ChannelFixture(layout: layout, identifier: 1)
        let channels = UnsafeMutableBufferPointer<ServerChannel>.allocate(capacity: 2)
        defer { channels.deallocate() }
        channels.initializeElement(at: 0, to: flooder.server)
        channels.initializeElement(at: 1, to: quiet.server)
        var server = ChannelServer(channels: channels, budgetPerChannel: 8)
        var stack = FakeNetworkStack()

        // Bind one socket each (pass 1).
        XCTAssertTrue(flooder.requests.tryPush(.bind(port: 1000)))
        XCTAssertTrue(quiet.requests.tryPush(.bind(port: 2000)))
        XCTAssertEqual(server.poll(handler: &stack), 2)
        XCTAssertEqual(flooder.drain().first?.decodedKind, .bound)
        XCTAssertEqual(quiet.drain().first?.decodedKind, .bound)

        // The flooder fills its ring; the quiet channel sends 2.
        var flooded = 0
        while flooder.requests.tryPush(.send(socket: 0, bufferIndex: 0, offset: 0, length: 1, address: 1, port: 9)) { flooded += 1 }
        XCTAssertEqual(flooded, 128)
        XCTAssertTrue(quiet.requests.tryPush(.send(socket: 0, bufferIndex: 1, offset: 0, length: 2, address: 1, port: 9)))
        XCTAssertTrue(quiet.requests.tryPush(.send(socket: 0, bufferIndex: 2, offset: 0, length: 2, address: 1, port: 9)))

        XCTAssertEqual(server.poll(handler: &stack), 10, "8 from the flooder, both of the quiet one's")
        XCTAssertEqual(quiet.drain().map(\.decodedKind), [.sent, .sent])
        XCTAssertEqual(flooder.drain().count, 8)
        XCTAssertEqual(channels[0].counters.throttledPasses, 1)
        XCTAssertEqual(channels[1].counters.throttledPasses, 0)

        // The rest drains at 8 per pass.
        var passes = 0
        while server.poll(handler: &stack) > 0 { passes += 1 }
        XCTAssertEqual(passes, 15)
        XCTAssertEqual(flooder.drain().count, 120)
        XCTAssertEqual(channels[0].counters.sent, 128)
        XCTAssertEqual(channels[0].counters.throttledPasses, 15, "every pass but the last stopped at the budget")
    }

    func testPassesRotateWhichChannelMeetsAFullTransmitRingFirst() {
        let flooderA = ChannelFixture(identifier: 0)
        let flooderB = ChannelFixture(identifier: 1)
        let channels = UnsafeMutableBufferPointer<ServerChannel>.allocate(capacity: 2)
        defer { channels.deallocate() }
        channels.initializeElement(at: 0, to: flooderA.server)
        channels.initializeElement(at: 1, to: flooderB.server)
        var server = ChannelServer(channels: channels, budgetPerChannel: 4)
        var stack = FakeNetworkStack()
        XCTAssertTrue(flooderA.requests.tryPush(.bind(port: 1000)))
        XCTAssertTrue(flooderB.requests.tryPush(.bind(port: 2000)))
        _ = server.poll(handler: &stack)
        _ = flooderA.drain()
        _ = flooderB.drain()
        var sentA = 0, sentB = 0
        for _ in 0..<10 {
            for fixture in [flooderA, flooderB] {
                for _ in 0..<4 { _ = fixture.requests.tryPush(.send(socket: 0, bufferIndex: 0, offset: 0, length: 1, address: 1, port: 9)) }
            }
            stack.transmitCapacity = 4   // room for one channel's worth per pass
            _ = server.poll(handler: &stack)
            sentA += flooderA.drain().filter { $0.decodedKind == .sent }.count
            sentB += flooderB.drain().filter { $0.decodedKind == .sent }.count
        }
        XCTAssertEqual(sentA, 20)
        XCTAssertEqual(sentB, 20)
        XCTAssertEqual(channels[0].counters[error: .throttled] + channels[1].counters[error: .throttled], 40)
    }
}
