/// Gathering a packet spread over several receive buffers (VIRTIO_NET_F_MRG_RXBUF): in order, whole, and never past the gathering area.

import Virtio
import XCTest

final class MergedReceiveBuffersTests: XCTestCase {
    private func gatherer(capacity: Int) -> (MergedReceiveBuffers, UnsafeMutableRawPointer) {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        return (MergedReceiveBuffers(scratch: scratch, capacity: capacity), scratch)
    }

    func testPiecesAreJoinedInOrder() {
        var (merged, scratch) = gatherer(capacity: 8192)
        defer { scratch.deallocate() }
        let pieces: [[UInt8]] = [Array(repeating: 1, count: 2036), Array(repeating: 2, count: 2048), [3, 3, 3]]
        XCTAssertTrue(pieces[0].withUnsafeBytes { merged.begin(first: $0, bufferCount: 3) })
        XCTAssertTrue(merged.isGathering)
        XCTAssertNil(merged.frame, "two buffers still to come")
        XCTAssertTrue(pieces[1].withUnsafeBytes { merged.append($0) })
        XCTAssertNil(merged.frame)
        XCTAssertTrue(pieces[2].withUnsafeBytes { merged.append($0) })
        XCTAssertFalse(merged.isGathering)
        XCTAssertEqual(merged.frame.map(Array.init), pieces.flatMap { $0 })
        merged.abandon()
        XCTAssertNil(merged.frame)
    }

    func testOneBufferPacketIsCompleteAtOnce() {
        var (merged, scratch) = gatherer(capacity: 64)
        defer { scratch.deallocate() }
        XCTAssertTrue([UInt8]([9, 8, 7]).withUnsafeBytes { merged.begin(first: $0, bufferCount: 1) })
        XCTAssertEqual(merged.frame.map(Array.init), [9, 8, 7])
    }

    /// A device that lies — a count of 0, more bytes than the area holds, a piece with no packet
    /// begun — is refused, and nothing is written past the area (the last byte is a canary).
    func testBadPacketsAreRefusedWithoutOverflow() {
        let capacity = 4096
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: capacity + 1, alignment: 16)
        defer { scratch.deallocate() }
        scratch.storeBytes(of: 0xC5, toByteOffset: capacity, as: UInt8.self)
        var merged = MergedReceiveBuffers(scratch: scratch, capacity: capacity)
        let half = [UInt8](repeating: 0xAA, count: 2048)
        XCTAssertFalse(half.withUnsafeBytes { merged.begin(first: $0, bufferCount: 0) }, "a count of 0")
        XCTAssertFalse(merged.isGathering)
        XCTAssertFalse(half.withUnsafeBytes { merged.append($0) }, "a piece with no packet begun")
        XCTAssertTrue(half.withUnsafeBytes { merged.begin(first: $0, bufferCount: 5) })
        XCTAssertTrue(half.withUnsafeBytes { merged.append($0) })
        XCTAssertFalse([UInt8](repeating: 0xBB, count: 1).withUnsafeBytes { merged.append($0) }, "past the area")
        XCTAssertFalse(merged.isGathering, "the packet is abandoned")
        XCTAssertNil(merged.frame)
        XCTAssertEqual(scratch.load(fromByteOffset: capacity, as: UInt8.self), 0xC5)
        let tooLarge = [UInt8](repeating: 0, count: capacity + 1)
        XCTAssertFalse(tooLarge.withUnsafeBytes { merged.begin(first: $0, bufferCount: 1) })
        XCTAssertEqual(scratch.load(fromByteOffset: capacity, as: UInt8.self), 0xC5)
    }
}
