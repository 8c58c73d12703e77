// Tests of SipHash-2-4 against the paper's vectors and of RFC 6528 initial sequence numbers.

import RawBytes
import InternetAddress
import TCP
import XCTest

final class InitialSequenceNumberTests: XCTestCase {
    /// The key of the SipHash paper's Appendix A: bytes 00 01 ... 0f.
    let paperKey = SipHashKey(low: 0x0706_0504_0302_0100, high: 0x0F0E_0D0C_0B0A_0908)

    private func sipHash(messageLength: Int) -> UInt64 {
        let message = (0..<messageLength).map { UInt8($0) }
        return message.withUnsafeBytes { SipHash24.hash(ByteReader($0), key: paperKey) }
    }

    func testSipHashMatchesThePaperVectors() {
        // Aumasson and Bernstein, "SipHash: a fast short-input PRF", Appendix A and the
        // reference implementation's vectors (key 00..0f, message 00..n-1).
        XCTAssertEqual(sipHash(messageLength: 0), 0x726F_DB47_DD0E_0E31)
        XCTAssertEqual(sipHash(messageLength: 15), 0xA129_CA61_49BE_45E5)
        XCTAssertEqual(sipHash(messageLength: 8), 0x93F5_F579_9A93_2462)
    }

    let local = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_020F), port: 80)
    let remote = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)

    func testGrowsWithTheFourMicrosecondClock() {
        let generator = InitialSequenceNumberGenerator(secretKey: paperKey)
        let start = generator.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: 1_000_000)
        let sameTick = generator.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: 1_003_999)
        let oneSecondLater = generator.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: 1_001_000_000)
        XCTAssertEqual(sameTick, start, "M ticks every 4 µs, not faster")
        XCTAssertEqual(SequenceNumber.octets(from: start, to: oneSecondLater), 250_000, "one second is 250000 ticks")
        XCTAssertTrue(start < oneSecondLater)
    }

    func testDiffersPerConnectionAndPerKey() {
        let generator = InitialSequenceNumberGenerator(secretKey: paperKey)
        let now: UInt64 = 5_000_000
        let base = generator.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: now)
        var otherPort = remote
        otherPort.port += 1
        var otherAddress = remote
        otherAddress.address.rawValue += 1
        let swapped = generator.initialSequenceNumber(local: remote, remote: local, nowNanoseconds: now)
        XCTAssertNotEqual(generator.initialSequenceNumber(local: local, remote: otherPort, nowNanoseconds: now), base)
        XCTAssertNotEqual(generator.initialSequenceNumber(local: local, remote: otherAddress, nowNanoseconds: now), base)
        XCTAssertNotEqual(swapped, base, "the direction of the four-tuple matters")
        let otherKey = InitialSequenceNumberGenerator(secretKey: SipHashKey(low: 1, high: 2))
        XCTAssertNotEqual(otherKey.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: now), base)
        // Same inputs, same answer: the function is deterministic for a key.
        XCTAssertEqual(generator.initialSequenceNumber(local: local, remote: remote, nowNanoseconds: now), base)
    }

    func testHashSpreadsNeighbouringPortsAcrossTheSpace() {
        // 1000 consecutive client ports must not collide or cluster: count the distinct top bytes.
        let generator = InitialSequenceNumberGenerator(secretKey: paperKey)
        var numbers = Set<UInt32>()
        var topBytes = Set<UInt8>()
        for port in UInt16(40000)..<41000 {
            let number = generator.initialSequenceNumber(local: local, remote: TCPEndpoint(address: remote.address, port: port),
                                                         nowNanoseconds: 0).rawValue
            numbers.insert(number)
            topBytes.insert(UInt8(number >> 24))
        }
        XCTAssertEqual(numbers.count, 1000)
        XCTAssertGreaterThan(topBytes.count, 200)
    }
}
