/// Doorbell coalescing (`doorbell=N:US`): a wake-up held while frames keep arriving, rung by the count, the age, or a quiet pass.

import Network
import NetworkContext
import XCTest

final class DoorbellCoalescingTests: XCTestCase {
    /// Three completions owed at most, 50 µs at most.
    let coalescing = DoorbellCoalescing(completions: 3, nanoseconds: 50_000)

    func testAQuietPassRingsWhatWasHeld() {
        let fixture = ContextFixture(doorbellCoalescing: coalescing)
        fixture.learnPeer()
        var (_, socket) = fixture.boundSocket(port: 5000)
        let before = fixture.record.doorbells.count
        fixture.receive(udpFrame(from: 40001, to: 5000, payload: [1]))
        XCTAssertEqual(fixture.record.doorbells.count, before, "frames arriving: held")
        // Held is not hidden: the datagram is in the program's ring already.
        var bytes = [UInt8](repeating: 0, count: 64)
        guard case .success = bytes.withUnsafeMutableBytes({ socket.receive(into: $0) }) else {
            return XCTFail("the held datagram is not in the program's ring")
        }
        fixture.pass()
        XCTAssertEqual(Array(fixture.record.doorbells[before...]), [3], "a pass without frames rings it")
        fixture.pass()
        XCTAssertEqual(fixture.record.doorbells.count, before + 1, "nothing owed, nothing rung")
    }

    func testEnoughCompletionsRingWhileFramesArrive() {
        let fixture = ContextFixture(doorbellCoalescing: coalescing)
        fixture.learnPeer()
        _ = fixture.boundSocket(port: 5000)
        let before = fixture.record.doorbells.count
        fixture.receive(udpFrame(from: 40001, to: 5000, payload: [1]))
        fixture.receive(udpFrame(from: 40002, to: 5000, payload: [2]))
        XCTAssertEqual(fixture.record.doorbells.count, before, "two owed: held")
        fixture.receive(udpFrame(from: 40003, to: 5000, payload: [3]))
        XCTAssertEqual(Array(fixture.record.doorbells[before...]), [3], "the third rings")
    }

    func testTheOldestCompletionsAgeRingsWhileFramesArrive() {
        let fixture = ContextFixture(doorbellCoalescing: coalescing)
        fixture.learnPeer()
        _ = fixture.boundSocket(port: 5000)
        let before = fixture.record.doorbells.count
        fixture.receive(udpFrame(from: 40001, to: 5000, payload: [1]))
        fixture.advance(by: 49_000)
        // A frame for nobody keeps frames arriving without owing the program anything more.
        fixture.receive(udpFrame(from: 40002, to: 5999, payload: [2]))
        XCTAssertEqual(fixture.record.doorbells.count, before, "49 µs old: held")
        fixture.advance(by: 1_000)
        fixture.receive(udpFrame(from: 40002, to: 5999, payload: [2]))
        XCTAssertEqual(Array(fixture.record.doorbells[before...]), [3], "50 µs old: rung")
    }

    func testOffRingsInThePassThatOwesIt() {
        let fixture = ContextFixture()
        fixture.learnPeer()
        _ = fixture.boundSocket(port: 5000)
        let before = fixture.record.doorbells.count
        fixture.receive(udpFrame(from: 40001, to: 5000, payload: [1]))
        XCTAssertEqual(Array(fixture.record.doorbells[before...]), [3])
    }

    func testHoldsRule() {
        XCTAssertFalse(DoorbellCoalescing.off.holds(owed: 1, since: 0, now: 0, framesArriving: true))
        XCTAssertTrue(coalescing.holds(owed: 2, since: 100, now: 100 + 49_999, framesArriving: true))
        XCTAssertFalse(coalescing.holds(owed: 2, since: 100, now: 100 + 50_000, framesArriving: true))
        XCTAssertFalse(coalescing.holds(owed: 3, since: 100, now: 100, framesArriving: true))
        XCTAssertFalse(coalescing.holds(owed: 1, since: 100, now: 100, framesArriving: false))
    }
}
