// The Toeplitz hash against every IPv4 and TCP/IPv4 value of Microsoft's RSS verification suite.

import XCTest
@testable import Network

/// One row of Microsoft's "Verifying the RSS Hash Calculation" table for IPv4 (the same table
/// is in the Intel 82599 datasheet, §7.1.2.8.3). The published table lists destination before
/// source; the hash input is source address, destination address, source port, destination port.
struct RSSVerificationRow {
    var destination: IPv4Address
    var destinationPort: UInt16
    var source: IPv4Address
    var sourcePort: UInt16
    /// "IPv4 only": the 2-tuple hash.
    var ipv4Hash: UInt32
    /// "IPv4 with TCP": the 4-tuple hash.
    var tcpHash: UInt32
}

let rssVerificationRows = [
    RSSVerificationRow(destination: IPv4Address(161, 142, 100, 80), destinationPort: 1766,
                       source: IPv4Address(66, 9, 149, 187), sourcePort: 2794,
                       ipv4Hash: 0x323e_8fc2, tcpHash: 0x51cc_c178),
    RSSVerificationRow(destination: IPv4Address(65, 69, 140, 83), destinationPort: 4739,
                       source: IPv4Address(199, 92, 111, 2), sourcePort: 14230,
                       ipv4Hash: 0xd718_262a, tcpHash: 0xc626_b0ea),
    RSSVerificationRow(destination: IPv4Address(12, 22, 207, 184), destinationPort: 38024,
                       source: IPv4Address(24, 19, 198, 95), sourcePort: 12898,
                       ipv4Hash: 0xd2d0_a5de, tcpHash: 0x5c2b_394a),
    RSSVerificationRow(destination: IPv4Address(209, 142, 163, 6), destinationPort: 2217,
                       source: IPv4Address(38, 27, 205, 30), sourcePort: 48228,
                       ipv4Hash: 0x8298_9176, tcpHash: 0xafc7_327f),
    RSSVerificationRow(destination: IPv4Address(202, 188, 127, 2), destinationPort: 1303,
                       source: IPv4Address(153, 39, 163, 191), sourcePort: 44251,
                       ipv4Hash: 0x5d18_09c5, tcpHash: 0x10e8_28a2),
]

/// The hash input bytes of a row as they appear on the wire: source address, destination
/// address, then (for the 4-tuple) source port and destination port, all big-endian.
func rssInputBytes(_ source: IPv4Address, _ destination: IPv4Address, ports: (UInt16, UInt16)? = nil) -> [UInt8] {
    var bytes: [UInt8] = []
    for address in [source, destination] {
        bytes += [UInt8(address.rawValue >> 24), UInt8(address.rawValue >> 16 & 0xFF),
                  UInt8(address.rawValue >> 8 & 0xFF), UInt8(address.rawValue & 0xFF)]
    }
    if let (sourcePort, destinationPort) = ports {
        bytes += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
    }
    return bytes
}

final class ToeplitzHashTests: XCTestCase {
    func testMicrosoftKeyIsThePublishedOne() {
        let published = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"
        let utf8 = Array(published.utf8)
        let key = ToeplitzHash.microsoftKey
        XCTAssertEqual(key.count, ToeplitzHash.keyByteCount)
        for index in 0..<40 {
            let pair = String(decoding: utf8[2 * index..<2 * index + 2], as: UTF8.self)
            XCTAssertEqual(key[index], UInt8(pair, radix: 16), "key byte \(index)")
        }
    }

    func testIPv4TwoTupleVerificationValues() {
        let toeplitz = ToeplitzHash()
        for row in rssVerificationRows {
            XCTAssertEqual(toeplitz.hash(source: row.source, destination: row.destination), row.ipv4Hash,
                           "IPv4 hash of \(row.source.rawValue) -> \(row.destination.rawValue)")
        }
    }

    func testTCPIPv4FourTupleVerificationValues() {
        let toeplitz = ToeplitzHash()
        for row in rssVerificationRows {
            XCTAssertEqual(toeplitz.hash(source: row.source, destination: row.destination,
                                         sourcePort: row.sourcePort, destinationPort: row.destinationPort),
                           row.tcpHash, "TCP hash of port \(row.sourcePort) -> \(row.destinationPort)")
        }
    }

    /// The byte-stream form, fed the wire bytes, agrees with the published values too (it is the
    /// reference the tuple forms are built on, bit by bit).
    func testByteStreamVerificationValues() {
        let toeplitz = ToeplitzHash()
        for row in rssVerificationRows {
            let twoTuple = rssInputBytes(row.source, row.destination)
            XCTAssertEqual(twoTuple.withUnsafeBytes { toeplitz.hash($0) }, row.ipv4Hash)
            let fourTuple = rssInputBytes(row.source, row.destination, ports: (row.sourcePort, row.destinationPort))
            XCTAssertEqual(fourTuple.withUnsafeBytes { toeplitz.hash($0) }, row.tcpHash)
        }
    }

    /// The definition in miniature: a lone set bit at input bit i yields key bits i..<i+32.
    func testSingleBitsSelectKeyWindows() {
        let toeplitz = ToeplitzHash()
        XCTAssertEqual([UInt8(0x80)].withUnsafeBytes { toeplitz.hash($0) }, 0x6d5a_56da)
        XCTAssertEqual([UInt8(0x00), 0x80].withUnsafeBytes { toeplitz.hash($0) }, 0x5a56_da25)
        // Bit 1: the key shifted left by one, 0x6d5a56da25 << 1 keeps 0xdab4adb4.
        XCTAssertEqual([UInt8(0x40)].withUnsafeBytes { toeplitz.hash($0) }, 0xdab4_adb4)
        XCTAssertEqual([UInt8](repeating: 0, count: 12).withUnsafeBytes { toeplitz.hash($0) }, 0)
        // The last bit a 40-byte key can serve (input bit 287) takes key bits 287...318: the low
        // bit of key byte 35 (0x3b) and the top 31 bits of 0xbeac01fa.
        var last = [UInt8](repeating: 0, count: 36)
        last[35] = 0x01
        XCTAssertEqual(last.withUnsafeBytes { toeplitz.hash($0) }, 0xdf56_00fd)
    }

    /// Another key gives other hashes: the key really is an input.
    func testTheKeyMatters() {
        var key = ToeplitzHash.microsoftKey
        key[0] ^= 0x01
        let row = rssVerificationRows[0]
        XCTAssertNotEqual(ToeplitzHash(key: key).hash(source: row.source, destination: row.destination), row.ipv4Hash)
    }
}
