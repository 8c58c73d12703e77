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
    /// Events recorded (an idle pass counts as its three).
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

    /// Records one event: its kind, the 8-byte `prefix` if the kind has one, and `bytes`.
    ///
    /// Idle passes — a pass whose only events are the end of an empty receive call, reads of
    /// the programs' request rings that found them as before, and the transmit kick, which is
    /// most of them on a polling network core — are not written as events each but gathered
    /// into one `idlePasses` event (their clocks, as varint deltas: 1–3 bytes a pass instead
    /// of 32 and 16 a channel). A pass is known to be idle only when the next one begins, so
    /// its events wait here until then; a copy taken meanwhile lacks only them. A replay
    /// answers an idle pass's ring reads with the tail last recorded for the channel.
    public mutating func record(_ kind: RecordFormat.Kind, prefix: UInt64 = 0,
                                bytes: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !isFull else { return }
        switch kind {
        case .pass:
            if pendingStage == 2 { appendIdlePass(pendingNow) } else if pendingStage >= 0 { writePending() }
            pendingNow = prefix
            pendingStage = 0
            heldTailCount = 0
            return
        case .receiveEnd where pendingStage == 0:
            pendingStage = 1
            return
        case .requestTail where pendingStage == 1 && heldTailCount < Self.heldTailCapacity && repeatsLastTail(prefix):
            heldTails[heldTailCount] = prefix
            heldTailCount += 1
            return
        case .flush where pendingStage == 1:
            pendingStage = 2
            return
        default:
            if pendingStage >= 0 { writePending() }
            write(kind, prefix: prefix, bytes: bytes)
        }
    }

    /// Whether a `requestTail` event (channel, tail) finds the tail last recorded for its channel.
    /// `mutating` though it changes nothing: called from `record`, a non-mutating method made the
    /// compiler copy the 512-byte `lastTails` first.
    private mutating func repeatsLastTail(_ prefix: UInt64) -> Bool {
        let channel = Int(truncatingIfNeeded: prefix & 0xFFFF_FFFF)
        return channel < Self.heldTailCapacity && lastTails[channel] == prefix >> 32
    }

    /// Writes the pass still being watched, so that the recording ends with every pass (for
    /// a recording that ends on purpose; a copy of a running one just lacks that pass).
    public mutating func finish() {
        guard !isFull else { return }
        if pendingStage == 2 { appendIdlePass(pendingNow) } else if pendingStage >= 0 { writePending() }
        pendingStage = -1
    }

    /// The pass being watched: its clock, and how far it has got (-1 none, 0 begun, 1 its
    /// receive call ended with no frame, 2 flushed: idle so far).
    private var pendingNow: UInt64 = 0
    private var pendingStage = -1
    /// The watched pass's request-ring reads that found the last recorded tail (their events'
    /// 8-byte fields), held back with it.
    private var heldTails = InlineArray<64, UInt64>(repeating: 0)
    /// `heldTails`' size (asking the array copies it).
    private static let heldTailCapacity = 64
    private var heldTailCount = 0
    /// The request-ring tail last recorded for each channel number (UInt64.max: none since
    /// the channel was added).
    private var lastTails = InlineArray<64, UInt64>(repeating: .max)
    /// The open `idlePasses` event, always the last in the ring (-1: none): its offset from the
    /// first event, its payload length, how many passes it holds, and the last one's clock.
    private var runOffset = -1
    private var runPayload = 0
    private var runCount: UInt32 = 0
    private var runLastNow: UInt64 = 0

    /// Writes the watched pass's events as they came (it turned out not to be idle).
    private mutating func writePending() {
        let stage = pendingStage
        pendingStage = -1
        write(.pass, prefix: pendingNow)
        if stage >= 1 { write(.receiveEnd) }
        for index in 0..<heldTailCount { write(.requestTail, prefix: heldTails[index]) }
        heldTailCount = 0
        if stage >= 2 { write(.flush) }
    }

    /// Adds an idle pass at `now` to the open `idlePasses` event, or opens one.
    private mutating func appendIdlePass(_ now: UInt64) {
        if runOffset >= 0 && now >= runLastNow {
            var delta = now - runLastNow
            var encoded = InlineArray<10, UInt8>(repeating: 0)
            var length = 0
            repeat {
                encoded[length] = UInt8(delta & 0x7F) | (delta >= 0x80 ? 0x80 : 0)
                delta >>= 7
                length += 1
            } while delta > 0
            let oldSize = RecordFormat.eventSize(payload: runPayload)
            let newSize = RecordFormat.eventSize(payload: runPayload + length)
            guard used - oldSize + newSize <= capacity else { return markFull() }
            let event = base + RecordFormat.headerSize + runOffset
            for index in 0..<length {
                event.storeBytes(of: encoded[index], toByteOffset: RecordFormat.eventHeaderSize + runPayload + index, as: UInt8.self)
            }
            runPayload += length
            runCount += 1
            runLastNow = now
            event.storeBytes(of: runCount.littleEndian, toByteOffset: RecordFormat.eventHeaderSize, as: UInt32.self)
            used -= oldSize
            commit(.idlePasses, payload: runPayload, events: 3)
            return
        }
        // A new run: count u32, 4 zero bytes, the first clock u64, then the deltas.
        let size = RecordFormat.eventSize(payload: 16)
        guard used + size <= capacity else { return markFull() }
        let offset = used
        let event = base + RecordFormat.headerSize + offset
        event.storeBytes(of: UInt32(1).littleEndian, toByteOffset: RecordFormat.eventHeaderSize, as: UInt32.self)
        event.storeBytes(of: UInt32(0), toByteOffset: RecordFormat.eventHeaderSize + 4, as: UInt32.self)
        event.storeBytes(of: now.littleEndian, toByteOffset: RecordFormat.eventHeaderSize + 8, as: UInt64.self)
        commit(.idlePasses, payload: 16, events: 3)
        runOffset = offset
        runPayload = 16
        runCount = 1
        runLastNow = now
    }

    /// Writes one event as it is (closing any open run of idle passes).
    private mutating func write(_ kind: RecordFormat.Kind, prefix: UInt64 = 0,
                                bytes: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !isFull else { return }
        runOffset = -1
        let channel = Int(truncatingIfNeeded: prefix & 0xFFFF_FFFF)
        if kind == .requestTail && channel < Self.heldTailCapacity { lastTails[channel] = prefix >> 32 }
        if kind == .channelAdded && channel < Self.heldTailCapacity { lastTails[channel] = .max }
        let prefixSize = kind.hasPrefix ? 8 : 0
        let payload = prefixSize + bytes.count
        let size = RecordFormat.eventSize(payload: payload)
        guard used + size <= capacity else { return markFull() }
        let event = base + RecordFormat.headerSize + used
        if prefixSize > 0 { event.storeBytes(of: prefix.littleEndian, toByteOffset: RecordFormat.eventHeaderSize, as: UInt64.self) }
        if bytes.count > 0 {
            (event + RecordFormat.eventHeaderSize + prefixSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        commit(kind, payload: payload)
    }

    /// The ring is full: nothing more is written, and the header says so.
    private mutating func markFull() {
        isFull = true
        let flags = UInt32(littleEndian: base.load(fromByteOffset: RecordFormat.flagsOffset, as: UInt32.self))
        base.storeBytes(of: (flags | RecordFormat.fullFlag).littleEndian, toByteOffset: RecordFormat.flagsOffset, as: UInt32.self)
    }

    /// Writes the header and padding of the event whose `payload` bytes are in place at the
    /// end of the recording, counts the `events` it stands for (an idle pass is three), and
    /// publishes it.
    private mutating func commit(_ kind: RecordFormat.Kind, payload: Int, events added: Int = 1) {
        let size = RecordFormat.eventSize(payload: payload)
        let event = base + RecordFormat.headerSize + used
        event.storeBytes(of: UInt32(kind.rawValue).littleEndian, as: UInt32.self)
        event.storeBytes(of: UInt32(payload).littleEndian, toByteOffset: 4, as: UInt32.self)
        let padding = size - RecordFormat.eventHeaderSize - payload
        if padding > 0 { (event + size - padding).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        used += size
        events += added
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
        case .pass, .received, .transmitted, .largestSegment, .metricsText, .doorbell, .channelAdded, .requestTail,
             .request, .completionHead, .payload, .completion, .channelsEnded, .programStopped, .channelReleased: true
        case .configuration, .receiveEnd, .flush, .meterText, .idlePasses: false
        }
    }
}
