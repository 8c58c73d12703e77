/// A halting network core's announcement to its programs: made to every served channel, withdrawn when a request or a channel waits.

import Channels
import NetworkContext
import SwigletLibrary
import XCTest

final class SleepAnnouncementTests: XCTestCase {
    /// The word a program reads (`ConsumerSleepWatch`) in `program`'s request ring.
    func sleepWord(_ program: ProgramChannel) -> UInt32 {
        program.shared.base.load(fromByteOffset: program.layout.requestRingOffset
                                 + SingleProducerSingleConsumerRing<ChannelRequest>.consumerSleepOffset, as: UInt32.self)
    }

    func testAQuietContextAnnouncesToEveryChannelAndWakes() {
        let fixture = ContextFixture()
        let first = fixture.addProgram(cpu: 2), second = fixture.addProgram(cpu: 3)
        fixture.pass()
        XCTAssertTrue(fixture.context.announceSleep(9), "nothing waits: the core may halt")
        XCTAssertEqual([sleepWord(first), sleepWord(second)], [9, 9])
        var watch = ConsumerSleepWatch(ring: first.memory.requestRing)
        XCTAssertFalse(watch.consumerNeedsKick(), "announced, but every request was taken: no kick owed")
        fixture.context.announceAwake()
        XCTAssertEqual([sleepWord(first), sleepWord(second)], [0, 0])
    }

    func testARequestWaitingWithdrawsTheAnnouncement() {
        let fixture = ContextFixture()
        let quiet = fixture.addProgram(cpu: 2)
        let busy = fixture.addProgram(cpu: 3)
        fixture.pass()
        var socket = busy.makeUDPSocket()
        // A bind pushed and not served: the request the core must not sleep on.
        var noWait = BoundedSpinWait(limit: 0)
        XCTAssertEqual(socket.bind(port: 5200, waitingWith: &noWait).failure, .wouldBlock)
        XCTAssertFalse(fixture.context.announceSleep(4), "a request waits in the second channel")
        XCTAssertEqual([sleepWord(quiet), sleepWord(busy)], [0, 0], "withdrawn from every channel")
        fixture.pass()
        XCTAssertTrue(fixture.context.announceSleep(5), "served, nothing waits")
    }

    func testAChannelAskedForWithdrawsTheAnnouncement() {
        let fixture = ContextFixture()
        let program = fixture.addProgram(cpu: 2)
        fixture.pass()
        let backing = ChannelBacking()
        // Another CPU starting a program: the context takes the channel at its next pass.
        XCTAssertNotNil(fixture.context.queueChannel(memory: backing.memory, privateMemory: backing.privateMemory.base, cpu: 3))
        XCTAssertFalse(fixture.context.announceSleep(1), "a new channel waits to be taken")
        XCTAssertEqual(sleepWord(program), 0)
        fixture.pass()
        XCTAssertTrue(fixture.context.announceSleep(2))
        withExtendedLifetime(backing) {}
    }
}
