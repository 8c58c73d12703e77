/// A NIC queue pair in memory: the test feeds received frames and reads back every transmitted frame and flush.

import Network
import NetworkContext
import TestSupport

/// The state both halves share with the test. The context keeps its own copies of the two
/// halves (it stores them by value), so everything the test must see or change lives here,
/// in one object the copies point to.
final class FakeQueuePair {
    /// Frames waiting to be received, oldest first (`receive(limit:)` takes them), with what
    /// the "device" says about their checksums.
    var incoming: [(bytes: [UInt8], checksum: ReceivedChecksum)] = []
    /// Every frame the context handed to the sender, in order.
    var transmitted: [[UInt8]] = []
    /// How many times the context kicked the transmit queue.
    var flushes = 0
    /// When set, the sender has no free buffer: `transmit` refuses without calling `build`.
    var transmitFull = false
    /// How many more frames the sender takes before it is full (nil: no limit), as a transmit
    /// ring the device has not yet emptied.
    var transmitRoom: Int? = nil
    /// Transmissions refused because of `transmitFull` or `transmitRoom`.
    var refusals = 0
    /// TCP segmentation offload: the largest frame the sender takes for the NIC to cut (0: no TSO).
    var segmentedFrameCapacity = 0
    /// The segment size asked for with each frame sent through `transmitSegmented`, by the
    /// frame's index in `transmitted`.
    var segmentSizes: [Int: Int] = [:]

    /// The receive half to give the context.
    var receiver: FakeFrameReceiver { FakeFrameReceiver(queue: self) }
    /// The transmit half to give the context.
    var sender: FakeFrameSender { FakeFrameSender(queue: self) }

    /// Queues `frame` as if the NIC had received it (`.trusted`: as if the device had validated
    /// its checksum, or left it incomplete, with checksum offload).
    func feed(_ frame: [UInt8], checksum: ReceivedChecksum = .unverified) { incoming.append((frame, checksum)) }

    /// The frames transmitted since `mark` (a count of `transmitted` taken earlier).
    func transmitted(since mark: Int) -> [[UInt8]] { Array(transmitted[mark...]) }
}

/// The receive half: hands out the fed frames, each from its own guarded buffer so that a
/// read past the end of a frame crashes the test instead of passing unnoticed.
struct FakeFrameReceiver: FrameReceiver {
    let queue: FakeQueuePair

    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Int {
        var count = 0
        while count < limit && !queue.incoming.isEmpty {
            let frame = queue.incoming.removeFirst()
            let guarded = GuardedBuffer(frame.bytes)
            body(UnsafeRawBufferPointer(start: guarded.start, count: guarded.count), frame.checksum)
            count += 1
        }
        return count
    }
}

/// The transmit half: lends a 2048-byte buffer (pre-filled with 0xA5, so padding the stack
/// forgot to zero shows up) and records what `build` wrote.
struct FakeFrameSender: FrameSender {
    let queue: FakeQueuePair

    mutating func largestSegmentedFrame() -> Int { queue.segmentedFrameCapacity }

    mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard queue.segmentedFrameCapacity > 0, !queue.transmitFull else { return transmit(build) }
        var buffer = [UInt8](repeating: 0xA5, count: queue.segmentedFrameCapacity)
        let length = buffer.withUnsafeMutableBytes { build($0) }
        guard length > 0 else { return true }
        queue.segmentSizes[queue.transmitted.count] = segmentSize
        queue.transmitted.append(Array(buffer.prefix(length)))
        return true
    }

    mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard !queue.transmitFull, queue.transmitRoom != 0 else {
            queue.refusals += 1
            return false
        }
        if let room = queue.transmitRoom { queue.transmitRoom = room - 1 }
        var buffer = [UInt8](repeating: 0xA5, count: 2048)
        let length = buffer.withUnsafeMutableBytes { build($0) }
        if length > 0 { queue.transmitted.append(Array(buffer[0..<length])) }
        return true
    }

    mutating func flush() { queue.flushes += 1 }
}
