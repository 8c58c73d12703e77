/// One pass of the context: what it reports as work, doorbells only when a program got something, one transmit kick.

import NetworkContext
import SwigletLibrary
import XCTest

final class PassTests: XCTestCase {
    func testQuietPassIsIdleRingsNothingAndFlushesOnce() {
        let fixture = ContextFixture()
        _ = fixture.addProgram(cpu: 3)
        let work = fixture.pass()
        XCTAssertTrue(work.isIdle)
        XCTAssertEqual(work, PassWork())
        XCTAssertEqual(fixture.record.doorbells, [])
        XCTAssertEqual(fixture.queue.flushes, 1)
        XCTAssertEqual(fixture.queue.transmitted, [])
    }

    func testDoorbellRingsOnlyInPassesWithCompletions() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        let program = fixture.addProgram(cpu: 3)
        _ = fixture.addProgram(cpu: 4)   // a program that never does anything
        var socket = program.makeUDPSocket()
        var wait = fixture.waitByPassing()
        XCTAssertNil(socket.bind(port: 5100, waitingWith: &wait).failure)
        XCTAssertEqual(fixture.record.doorbells, [3], "the bind's answer, once")
        // Serving the posted receive buffers completes nothing.
        let work = fixture.pass()
        XCTAssertEqual(work.requests, 8)
        XCTAssertEqual(fixture.record.doorbells, [3])
        for _ in 0..<5 { fixture.pass() }
        XCTAssertEqual(fixture.record.doorbells, [3], "nothing new, nothing rung")
        fixture.receive(udpFrame(from: 1, to: 5100, payload: [0]))
        XCTAssertEqual(fixture.record.doorbells, [3, 3])
        XCTAssertEqual(fixture.record.doorbellCount(cpu: 4), 0, "the quiet program is never woken")
    }

    func testReceiveBudgetLeavesTheRestForTheNextPass() {
        let fixture = ContextFixture()
        for _ in 0..<(NetworkContextLimits.receiveBudget + 6) { fixture.queue.feed(arpReplyFrame()) }
        XCTAssertEqual(fixture.pass().frames, NetworkContextLimits.receiveBudget)
        XCTAssertEqual(fixture.pass().frames, 6)
        XCTAssertEqual(fixture.context.networkCounters.arp.framesIn, UInt64(NetworkContextLimits.receiveBudget + 6))
    }
}
