/// Writes a context's recording into a fixed block of memory: no heap, and it stops (flagged) when full.
import NetworkContext
import Synchronization

/// The writer of one recording (`RecordFormat`). It lives in memory the composition root
/// allocated and is reached through a pointer by the recording ports of one context, on that
/// context's CPU only.
public struct RecordWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    /// Bytes of events written.
    public private(set) var used = 0
    /// Events written.
    public private(set) var events = 0
    /// Whether the memory filled up: no event is written after that.
    public private(set) var isFull = false

    /// Starts a recording in `memory` (at least 1 KiB) with `configuration` as its first event.
    public init(memory: UnsafeMutableRawBufferPointer, configuration: NetworkContextConfiguration) {
        precondition(memory.count >= 1024, "a recording needs room for its header and configuration")
        base = memory.baseAddress!
        capacity = memory.count - RecordFormat.headerSize
        base.initializeMemory(as: UInt8.self, repeating: 0, count: RecordFormat.headerSize)
        base.storeBytes(of: RecordFormat.magic.littleEndian, as: UInt64.self)
        // The configuration is encoded straight into the first event's payload.
        let payload = base + RecordFormat.headerSize + RecordFormat.eventHeaderSize
        var appender = ByteAppender(UnsafeMutableRawBufferPointer(start: payload, count: 512))
        RecordedConfiguration.encode(configuration, into: &appender)
        precondition(!appender.overflowed, "the configuration fits 512 bytes")
        commit(.configuration, payload: appender.count)
    }

    /// Appends one event: its kind, the 8-byte `prefix` if the kind has one, and `bytes`.
    public mutating func record(_ kind: RecordFormat.Kind, prefix: UInt64 = 0,
                                bytes: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !isFull else { return }
        let prefixSize = kind.hasPrefix ? 8 : 0
        let payload = prefixSize + bytes.count
        let size = RecordFormat.eventSize(payload: payload)
        guard used + size <= capacity else {
            isFull = true
            let flags = base.load(fromByteOffset: RecordFormat.flagsOffset, as: UInt32.self)
            base.storeBytes(of: (flags | RecordFormat.fullFlag).littleEndian, toByteOffset: RecordFormat.flagsOffset, as: UInt32.self)
            return
        }
        let event = base + RecordFormat.headerSize + used
        if prefixSize > 0 { event.storeBytes(of: prefix.littleEndian, toByteOffset: RecordFormat.eventHeaderSize, as: UInt64.self) }
        if bytes.count > 0 {
            (event + RecordFormat.eventHeaderSize + prefixSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        commit(kind, payload: payload)
    }

    /// Writes the header and padding of the event whose `payload` bytes are in place at the
    /// end of the recording, and publishes it.
    private mutating func commit(_ kind: RecordFormat.Kind, payload: Int) {
        let size = RecordFormat.eventSize(payload: payload)
        let event = base + RecordFormat.headerSize + used
        event.storeBytes(of: UInt32(kind.rawValue).littleEndian, as: UInt32.self)
        event.storeBytes(of: UInt32(payload).littleEndian, toByteOffset: 4, as: UInt32.self)
        let padding = size - RecordFormat.eventHeaderSize - payload
        if padding > 0 { (event + size - padding).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        used += size
        events += 1
        base.storeBytes(of: UInt32(clamping: events).littleEndian, toByteOffset: RecordFormat.eventCountOffset, as: UInt32.self)
        // RELEASE: the event's bytes are written before `committed` says they exist, so a
        // reader that loads `committed` with acquire (or a snapshot of the stopped machine)
        // never sees a half-written event.
        (base + RecordFormat.committedOffset).assumingMemoryBound(to: Atomic<UInt64>.self).pointee
            .store(UInt64(used).littleEndian, ordering: .releasing)
    }
}

extension RecordFormat.Kind {
    /// Whether the payload starts with an 8-byte field (`RecordFormat.Kind`'s cases say which).
    public var hasPrefix: Bool {
        switch self {
        case .pass, .received, .transmitted, .largestSegment, .metricsText, .doorbell: true
        case .configuration, .receiveEnd, .flush, .meterText, .channelActivity: false
        }
    }
}
