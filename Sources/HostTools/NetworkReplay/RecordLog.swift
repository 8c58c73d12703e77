/// A recording read back on the host: the header checked, the events split out.
import NetworkRecording

/// One recorded event.
public struct RecordedEvent: Sendable {
    /// Its number in the recording (0 is the configuration).
    public var index: Int
    public var kind: RecordFormat.Kind
    /// The 8-byte field of kinds that have one (0 otherwise).
    public var prefix: UInt64
    /// The rest of the payload.
    public var bytes: [UInt8]
    /// Part of an idle pass read back from an `idlePasses` event (whose request-ring reads
    /// found the tails last recorded, and are not in the recording).
    public var idle = false
}

/// A whole recording.
public struct RecordLog: Sendable {
    public var events: [RecordedEvent]
    /// Whether the ring filled up while recording (the log is the start of the session).
    public var wasFull: Bool
    /// The bytes of events in the recording (after its header).
    public var committedBytes: Int

    /// Why a file is not a recording.
    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case tooShort(Int)
        case badMagic
        case firstVersion
        case committedBeyondEnd(committed: UInt64, available: Int)
        case badEvent(offset: Int, reason: String)

        public var description: String {
            switch self {
            case .tooShort(let count): "\(count) bytes is too short for a recording (the header alone is \(RecordFormat.headerSize))"
            case .badMagic: "not a Swiglet recording (no SWGLREC2 magic at the start)"
            case .firstVersion: "a recording of the first format (SWGLREC1, before program channels were recorded): record it again"
            case .committedBeyondEnd(let committed, let available):
                "the header says \(committed) bytes of events, but only \(available) follow it (a cut-off copy?)"
            case .badEvent(let offset, let reason): "bad event at byte \(offset): \(reason)"
            }
        }
    }

    /// One idle pass, as the three events it stands for.
    private mutating func appendIdlePass(now: UInt64) {
        events.append(RecordedEvent(index: events.count, kind: .pass, prefix: now, bytes: [], idle: true))
        events.append(RecordedEvent(index: events.count, kind: .receiveEnd, prefix: 0, bytes: [], idle: true))
        events.append(RecordedEvent(index: events.count, kind: .flush, prefix: 0, bytes: [], idle: true))
    }

    /// Reads `bytes` (a file saved from the guest's memory, possibly longer than the recording).
    public init(bytes: [UInt8]) throws(ReadError) {
        guard bytes.count >= RecordFormat.headerSize else { throw .tooShort(bytes.count) }
        func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        guard load(0, as: UInt64.self) != RecordFormat.firstVersionMagic else { throw .firstVersion }
        guard load(0, as: UInt64.self) == RecordFormat.magic else { throw .badMagic }
        let committed = load(RecordFormat.committedOffset, as: UInt64.self)
        let available = bytes.count - RecordFormat.headerSize
        guard committed <= UInt64(available) else { throw .committedBeyondEnd(committed: committed, available: available) }
        wasFull = load(RecordFormat.flagsOffset, as: UInt32.self) & RecordFormat.fullFlag != 0
        committedBytes = Int(committed)
        events = []
        var offset = RecordFormat.headerSize
        let end = RecordFormat.headerSize + Int(committed)
        while offset < end {
            guard offset + RecordFormat.eventHeaderSize <= end else { throw .badEvent(offset: offset, reason: "header cut off") }
            let rawKind = load(offset, as: UInt32.self)
            guard rawKind <= 255, let kind = RecordFormat.Kind(rawValue: UInt8(rawKind)) else {
                throw .badEvent(offset: offset, reason: "unknown kind \(rawKind)")
            }
            var payload = Int(load(offset + 4, as: UInt32.self))
            var size = RecordFormat.eventSize(payload: payload)
            if kind == .idlePasses && offset + size > end && offset + RecordFormat.eventHeaderSize + 16 <= end {
                // The last event, an idle run caught growing in place: `RecordWriter` rewrites
                // its header with the longer payload, then moves `committed`, and a snapshot of
                // the stopped machine can fall between the two stores. What `committed` covers
                // is the run as last committed, with at most the start of the new pass's delta
                // in its padding (a varint cut short, which the loop below drops).
                payload = end - offset - RecordFormat.eventHeaderSize
                size = end - offset
            }
            guard offset + size <= end else { throw .badEvent(offset: offset, reason: "payload of \(payload) bytes runs past the end") }
            let prefixSize = kind.hasPrefix ? 8 : 0
            guard payload >= prefixSize else { throw .badEvent(offset: offset, reason: "\(kind) without its 8-byte field") }
            let start = offset + RecordFormat.eventHeaderSize
            if kind == .idlePasses {
                guard payload >= 16 else { throw .badEvent(offset: offset, reason: "idlePasses shorter than 16 bytes") }
                // The deltas present decide how many passes there are (a copy taken while the
                // run grew may have its count one ahead of its bytes).
                var now = load(start + 8, as: UInt64.self)
                appendIdlePass(now: now)
                var position = start + 16
                let end = start + payload
                while position < end {
                    var delta: UInt64 = 0
                    var shift: UInt64 = 0
                    var complete = false
                    while position < end && shift < 64 {
                        let byte = bytes[position]
                        position += 1
                        delta |= UInt64(byte & 0x7F) << shift
                        shift += 7
                        if byte & 0x80 == 0 { complete = true; break }
                    }
                    guard complete else { break }
                    now &+= delta
                    appendIdlePass(now: now)
                }
                offset += size
                continue
            }
            events.append(RecordedEvent(index: events.count, kind: kind,
                                        prefix: prefixSize > 0 ? load(start, as: UInt64.self) : 0,
                                        bytes: Array(bytes[(start + prefixSize)..<(start + payload)])))
            offset += size
        }
    }
}
