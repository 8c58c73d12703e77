/// The recording side: a context's receiver, sender and host wrapped so that every input they give it and every frame it builds is written down.
import Channels
import Network
import NetworkContext

/// The code of a checksum verdict in a `received` event, and back.
extension ReceivedChecksum {
    public var recordCode: UInt64 {
        switch self {
        case .unverified: 0
        case .trusted: 1
        case .coalesced: 2
        }
    }

    public init?(recordCode: UInt64) {
        switch recordCode {
        case 0: self = .unverified
        case 1: self = .trusted
        case 2: self = .coalesced
        default: return nil
        }
    }
}

/// The NIC's receive half, recording each frame handed up (nil `recorder`: recording is off
/// and this is the inner receiver, plus one test of a pointer per call).
public struct RecordingReceiver<Inner: FrameReceiver>: FrameReceiver {
    /// The driver's receive half.
    public var inner: Inner
    let recorder: UnsafeMutablePointer<RecordWriter>?

    public init(_ inner: Inner, recorder: UnsafeMutablePointer<RecordWriter>?) {
        self.inner = inner
        self.recorder = recorder
    }

    public mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer, ReceivedChecksum) -> Void) -> Int {
        guard let recorder else { return inner.receive(limit: limit, body) }
        let count = inner.receive(limit: limit) { frame, checksum in
            recorder.pointee.record(.received, prefix: checksum.recordCode, bytes: frame)
            body(frame, checksum)
        }
        recorder.pointee.record(.receiveEnd)
        return count
    }

    /// Not recorded: whether the core halts changes when passes run, and each pass records its clock.
    public var interruptsOnArrival: Bool { inner.interruptsOnArrival }
    public mutating func armArrivalInterrupt() -> Bool { inner.armArrivalInterrupt() }
    public mutating func disarmArrivalInterrupt() { inner.disarmArrivalInterrupt() }
}

/// The NIC's transmit half, recording whether each frame found room and the frame itself.
public struct RecordingSender<Inner: FrameSender>: FrameSender {
    /// The driver's transmit half.
    public var inner: Inner
    let recorder: UnsafeMutablePointer<RecordWriter>?

    public init(_ inner: Inner, recorder: UnsafeMutablePointer<RecordWriter>?) {
        self.inner = inner
        self.recorder = recorder
    }

    public mutating func transmit(_ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        recordTransmit(segmentSize: nil, build)
    }

    public mutating func largestSegmentedFrame() -> Int {
        let largest = inner.largestSegmentedFrame()
        recorder?.pointee.record(.largestSegment, prefix: UInt64(largest))
        return largest
    }

    public mutating func transmitSegmented(segmentSize: Int, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        recordTransmit(segmentSize: segmentSize, build)
    }

    public mutating func flush() {
        inner.flush()
        recorder?.pointee.record(.flush)
    }

    /// Sends through the inner sender (`transmit`, or `transmitSegmented` with a segment size)
    /// and, when recording, notes whether the frame was built (its bytes are still in the
    /// queue's buffer: the device sees it only at `flush`) and whether the queue took it.
    /// Nothing escapes: nothing is allocated per frame.
    @inline(__always)
    private mutating func recordTransmit(segmentSize: Int?, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard let recorder else { return send(segmentSize: segmentSize, build) }
        var built: UnsafeRawBufferPointer? = nil
        let accepted = send(segmentSize: segmentSize) { buffer in
            let length = build(buffer)
            built = UnsafeRawBufferPointer(rebasing: buffer[..<max(0, min(length, buffer.count))])
            return length
        }
        let flags: UInt64 = (built != nil ? 1 : 0) | (accepted ? 2 : 0)
        recorder.pointee.record(.transmitted, prefix: flags | UInt64(UInt32(truncatingIfNeeded: segmentSize ?? 0)) << 32,
                                bytes: built ?? UnsafeRawBufferPointer(start: nil, count: 0))
        return accepted
    }

    @inline(__always)
    private mutating func send(segmentSize: Int?, _ build: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard let segmentSize else { return inner.transmit(build) }
        return inner.transmitSegmented(segmentSize: segmentSize, build)
    }
}

/// The kernel as the context sees it, recording its answers (meter and metrics text) and the
/// doorbells the context rings.
public struct RecordingHost<Inner: NetworkContextHost>: NetworkContextHost {
    /// The kernel's host.
    public let inner: Inner
    let recorder: UnsafeMutablePointer<RecordWriter>?

    public init(_ inner: Inner, recorder: UnsafeMutablePointer<RecordWriter>?) {
        self.inner = inner
        self.recorder = recorder
    }

    public func ringDoorbell(cpu: Int, channel: Int) {
        recorder?.pointee.record(.doorbell, prefix: RecordFormat.pair(cpu, channel))
        inner.ringDoorbell(cpu: cpu, channel: channel)
    }

    public func stopProgram(cpu: Int, channel: Int) {
        recorder?.pointee.record(.programStopped, prefix: RecordFormat.pair(cpu, channel))
        inner.stopProgram(cpu: cpu, channel: channel)
    }

    public func channelReleased(channel: Int, counters: ChannelCounters) {
        if let recorder {
            var final = counters
            withUnsafeBytes(of: &final) { recorder.pointee.record(.channelReleased, prefix: UInt64(channel), bytes: $0) }
        }
        inner.channelReleased(channel: channel, counters: counters)
    }

    /// The recorder sees every read of a program channel (nil when not recording: the
    /// kernel's own host has none either).
    public var channelTap: ChannelTap? {
        guard let recorder else { return inner.channelTap }
        return ChannelTap(context: UnsafeMutableRawPointer(recorder)) { context, observation in
            RecordWriter.recordChannel(context!.assumingMemoryBound(to: RecordWriter.self),
                                       observation.assumingMemoryBound(to: ChannelObservation.self).pointee)
        }
    }

    public func writeMeter(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let length = inner.writeMeter(into: buffer)
        recorder?.pointee.record(.meterText, bytes: UnsafeRawBufferPointer(rebasing: buffer[..<max(0, min(length, buffer.count))]))
        return length
    }

    public func renderMetrics(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let length = inner.renderMetrics(into: buffer)
        recorder?.pointee.record(.metricsText, prefix: length == nil ? 0 : 1,
                                 bytes: UnsafeRawBufferPointer(rebasing: buffer[..<max(0, min(length ?? 0, buffer.count))]))
        return length
    }
}

extension RecordWriter {
    /// Writes one channel observation as its event (`RecordFormat.Kind`, kinds 11 and 13–18).
    static func recordChannel(_ recorder: UnsafeMutablePointer<RecordWriter>, _ observation: ChannelObservation) {
        let bytes = UnsafeRawBufferPointer(observation.bytes)
        let pair = RecordFormat.pair(observation.channel, Int(truncatingIfNeeded: observation.value))
        switch observation.kind {
        case .requestTail: recorder.pointee.record(.requestTail, prefix: pair)
        case .request: recorder.pointee.record(.request, prefix: pair, bytes: bytes)
        case .completionHead: recorder.pointee.record(.completionHead, prefix: pair)
        case .payload: recorder.pointee.record(.payload, prefix: pair, bytes: bytes)
        case .completion: recorder.pointee.record(.completion, prefix: pair, bytes: bytes)
        case .added: recorder.pointee.record(.channelAdded, prefix: pair, bytes: bytes)
        case .ended: recorder.pointee.record(.channelsEnded, prefix: observation.value)
        }
    }
}

extension RecordFormat {
    /// Two numbers in one 8-byte field: `low` in bits 0–31, `high` in bits 32–63.
    public static func pair(_ low: Int, _ high: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: low)) | UInt64(UInt32(truncatingIfNeeded: high)) << 32
    }
}
