/// The channel layout and descriptor formats: offsets as documented, page alignment.

import Channels
import TestSupport
import XCTest

final class ChannelLayoutTests: XCTestCase {
    func testDefaultLayoutMatchesTheDiagram() {
        let layout = ChannelLayout()
        XCTAssertEqual(layout.requestRingOffset, 0)
        XCTAssertEqual(layout.completionRingOffset, 0x2000)
        XCTAssertEqual(layout.bufferPoolOffset, 0x5000)
        XCTAssertEqual(layout.bufferOffset(1), 0x7000)
        XCTAssertEqual(layout.bufferOffset(255), 0x203000)
        XCTAssertEqual(layout.byteCount, 0x205000)
        // Ownership (256), posted buffers (256 × 4), then the stream queues: 32 bytes per buffer,
        // 40 per connection number and 3 per connection number for the busy ring (16,384 numbers).
        XCTAssertEqual(layout.streamQueuesPrivateOffset, 256 + 256 * 4)
        XCTAssertEqual(layout.serverPrivateByteCount, 256 + 256 * 4 + 256 * 32 + 16_384 * 40 + 16_384 * 3)
    }

    func testEveryPartIsPageAlignedForOtherCapacities() {
        for (requests, completions, buffers) in [(1, 1, 1), (64, 64, 3), (1024, 2048, 1000)] as [(UInt32, UInt32, UInt32)] {
            let layout = ChannelLayout(requestCapacity: requests, completionCapacity: completions, bufferCount: buffers)
            XCTAssertEqual(layout.completionRingOffset % 4096, 0)
            XCTAssertEqual(layout.bufferPoolOffset % 4096, 0)
            XCTAssertEqual(layout.byteCount % 4096, 0)
            XCTAssertGreaterThanOrEqual(layout.completionRingOffset, 128 + Int(requests) * 32)
            XCTAssertGreaterThanOrEqual(layout.bufferPoolOffset, layout.completionRingOffset + 128 + Int(completions) * 32)
            XCTAssertGreaterThanOrEqual(layout.byteCount, layout.bufferPoolOffset + Int(buffers) * Int(layout.bufferSize))
        }
    }

    func testRequestFieldOffsets() {
        XCTAssertEqual(MemoryLayout<ChannelRequest>.size, 32)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.stride, 32)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.operation), 0)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.flags), 1)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.socket), 2)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.bufferIndex), 4)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.offset), 8)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.length), 12)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.address), 16)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.port), 20)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.reserved1), 22)
        XCTAssertEqual(MemoryLayout<ChannelRequest>.offset(of: \.cookie), 24)
    }

    func testCompletionFieldOffsets() {
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.size, 32)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.kind), 0)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.error), 1)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.socket), 2)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.bufferIndex), 4)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.offset), 8)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.length), 12)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.address), 16)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.port), 20)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.requestOperation), 22)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.bufferReturned), 23)
        XCTAssertEqual(MemoryLayout<ChannelCompletion>.offset(of: \.cookie), 24)
    }

    func testRequestBytesInTheRingAreAsDocumented() {
        let layout = ChannelLayout(requestCapacity: 1, completionCapacity: 1, bufferCount: 1)
        let shared = PageAlignedMemory(byteCount: layout.byteCount)
        let memory = ChannelMemory(base: shared.base, layout: layout)
        memory.initialize()
        var producer = memory.requestRing.makeProducer()
        XCTAssertTrue(producer.tryPush(.send(socket: 0x0102, bufferIndex: 0x0304_0506, offset: 0x10, length: 0x20,
                                             address: 0x0A00_0202, port: 0x1234, cookie: 0x1122_3344_5566_7788)))
        let slot = Array(UnsafeRawBufferPointer(start: shared.base + 128, count: 32))
        XCTAssertEqual(slot, [2, 0, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x10, 0, 0, 0, 0x20, 0, 0, 0,
                              0x02, 0x02, 0x00, 0x0A, 0x34, 0x12, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
    }
}
