// Helpers for the TCP tests: hex byte vectors, guarded parsing, the test addresses and an independent checksum.

import RawBytes
import InternetAddress
import TCP
import TestSupport
import XCTest

/// 10.0.2.2, QEMU user networking's gateway: the peer in these tests.
let peerAddress = IPv4Address(10, 0, 2, 2)
/// 10.0.2.15, the guest: our side in these tests.
let localAddress = IPv4Address(10, 0, 2, 15)

/// The bytes of a hex string ("9c40..."), two digits a byte.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8).map { $0 <= 57 ? $0 - 48 : ($0 | 0x20) - 87 }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

/// Parses `bytes` placed against a guard page, so a read past their end crashes the test.
func parseGuarded(_ bytes: [UInt8], source: IPv4Address = peerAddress, destination: IPv4Address = localAddress,
                  _ body: (TCPSegment) throws -> Void = { _ in }) throws(TCPSegmentError) {
    let buffer = GuardedBuffer(bytes)
    let segment = try TCPSegment(parsing: buffer.reader, source: source, destination: destination)
    do { try body(segment) } catch { XCTFail("unexpected error \(error)") }
}

/// The TCP checksum computed the plain way (array of bytes, pairs summed, folded), as an
/// independent check of `InternetChecksum.transmissionControl` and the builder.
/// `segment` with its checksum field (bytes 16–17) set by `referenceChecksum`, from the peer to us.
func withReferenceChecksum(_ segment: [UInt8]) -> [UInt8] {
    var bytes = segment
    bytes[16] = 0
    bytes[17] = 0
    let checksum = referenceChecksum(source: peerAddress, destination: localAddress, segment: bytes)
    bytes[16] = UInt8(checksum >> 8)
    bytes[17] = UInt8(checksum & 0xFF)
    return bytes
}

func referenceChecksum(source: IPv4Address, destination: IPv4Address, segment: [UInt8]) -> UInt16 {
    var words: [UInt8] = []
    for address in [source.rawValue, destination.rawValue] {
        words += [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
    }
    words += [0, 6, UInt8(segment.count >> 8), UInt8(segment.count & 0xFF)] + segment
    return onesComplementChecksum(words)
}
