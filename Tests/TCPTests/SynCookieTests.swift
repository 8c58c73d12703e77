// SYN cookie tests: encoding of MSS and window scale, expiry after two counter periods, forgery and tuple binding.

import RawBytes
import InternetAddress
@testable import TCP
import TestSupport
import XCTest

final class SynCookieTests: XCTestCase {
    let local = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_020F), port: 80)
    let remote = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
    let peerISN = SequenceNumber(0x1234_5678)
    let generator = SynCookieGenerator(secretKey: SipHashKey(low: 0x0123_4567_89AB_CDEF, high: 0xFEDC_BA98_7654_3210))
    let period = SynCookieGenerator.counterPeriodNanoseconds

    func testRoundTripKeepsMaximumSegmentSizeAndWindowScale() {
        let cases: [(UInt16?, UInt8?, UInt16, UInt8?)] = [
            (1460, 7, 1460, 7), (9000, 14, 1460, 14), (1440, nil, 1440, nil), (1400, 0, 1200, 0),
            (1200, 3, 1200, 3), (1000, 20, 536, 14), (536, nil, 536, nil), (nil, nil, 536, nil), (100, 2, 536, 2),
        ]
        let now = 1000 * period + 5
        for (size, scale, expectedSize, expectedScale) in cases {
            let cookie = generator.cookie(local: local, remote: remote, peerInitialSequence: peerISN,
                                          maximumSegmentSize: size, windowScale: scale, now: now)
            let contents = generator.validate(cookie: cookie, local: local, remote: remote, peerInitialSequence: peerISN, now: now)
            XCTAssertEqual(contents, SynCookieContents(maximumSegmentSize: expectedSize, windowScale: expectedScale),
                           "MSS \(String(describing: size)) scale \(String(describing: scale))")
        }
    }

    func testCookieLivesOneToTwoCounterPeriods() {
        let made = 1000 * period + period / 2
        let cookie = generator.cookie(local: local, remote: remote, peerInitialSequence: peerISN,
                                      maximumSegmentSize: 1460, windowScale: nil, now: made)
        func valid(at time: UInt64) -> Bool {
            generator.validate(cookie: cookie, local: local, remote: remote, peerInitialSequence: peerISN, now: time) != nil
        }
        XCTAssertTrue(valid(at: made))
        XCTAssertTrue(valid(at: 1001 * period))             // the next period
        XCTAssertTrue(valid(at: 1002 * period - 1))         // its last nanosecond
        XCTAssertFalse(valid(at: 1002 * period))            // two periods on: expired
        XCTAssertFalse(valid(at: 1004 * period + 1))        // the 2-bit counter wrapped: the MAC still says no
        XCTAssertFalse(valid(at: 999 * period))             // from the future
    }

    func testForgedOrMisboundCookiesAreRejected() {
        let now = 77 * period
        let cookie = generator.cookie(local: local, remote: remote, peerInitialSequence: peerISN,
                                      maximumSegmentSize: 1460, windowScale: 7, now: now)
        // Every single-bit change of the cookie (MAC, MSS index, scale, counter) is caught.
        for bit in 0..<32 {
            let altered = SequenceNumber(cookie.rawValue ^ (1 << UInt32(bit)))
            XCTAssertNil(generator.validate(cookie: altered, local: local, remote: remote, peerInitialSequence: peerISN, now: now),
                         "bit \(bit)")
        }
        // Bound to the peer's ISN and to each part of the four-tuple.
        XCTAssertNil(generator.validate(cookie: cookie, local: local, remote: remote, peerInitialSequence: peerISN + 1, now: now))
        XCTAssertNil(generator.validate(cookie: cookie, local: TCPEndpoint(address: local.address, port: 81), remote: remote,
                                        peerInitialSequence: peerISN, now: now))
        XCTAssertNil(generator.validate(cookie: cookie, local: local, remote: TCPEndpoint(address: remote.address, port: 40001),
                                        peerInitialSequence: peerISN, now: now))
        XCTAssertNil(generator.validate(cookie: cookie, local: local, remote: TCPEndpoint(address: IPv4Address(rawValue: remote.address.rawValue + 1), port: remote.port),
                                        peerInitialSequence: peerISN, now: now))
        // Another key does not accept it.
        let other = SynCookieGenerator(secretKey: SipHashKey(low: 1, high: 2))
        XCTAssertNil(other.validate(cookie: cookie, local: local, remote: remote, peerInitialSequence: peerISN, now: now))
    }

    func testRandomGuessesAlmostNeverPass() {
        var random = SplitMix64(seed: 5)
        var accepted = 0
        for _ in 0..<20_000 {
            let guess = SequenceNumber(UInt32(truncatingIfNeeded: random.next()))
            if generator.validate(cookie: guess, local: local, remote: remote, peerInitialSequence: peerISN, now: 5 * period) != nil {
                accepted += 1
            }
        }
        // 24 MAC bits: about 20000 * 2^-24 * (valid counter/scale share) ≈ 0.0006 expected.
        XCTAssertEqual(accepted, 0)
    }

    func testFixedGeneratorReturnsItsNumber() {
        let fixed = InitialSequenceNumberGenerator.fixed(SequenceNumber(42))
        XCTAssertEqual(fixed.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: 123_456_789), SequenceNumber(42))
    }
}
