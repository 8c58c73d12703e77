// TCP options: parsing the options area safely and writing the options we send (RFC 9293 §3.2, RFC 7323, RFC 2018).

import RawBytes

/// The timestamps option's two values — RFC 7323 §3.2.
public struct TCPTimestamps: Equatable, Sendable {
    /// TSval: the sender's timestamp clock.
    public var value: UInt32
    /// TSecr: the most recent TSval received from the peer.
    public var echoReply: UInt32

    /// Creates the option's values.
    public init(value: UInt32, echoReply: UInt32) {
        self.value = value
        self.echoReply = echoReply
    }
}

/// The options of one segment that this TCP understands; everything else is skipped.
///
/// Option kinds — RFC 9293 §3.2 and the IANA registry:
///
///     kind 0  End of Option List     (1 byte)
///     kind 1  No-Operation           (1 byte)
///     kind 2  Maximum Segment Size   (length 4: 16-bit MSS)           RFC 9293 §3.7.1
///     kind 3  Window Scale           (length 3: 8-bit shift count)    RFC 7323 §2.2
///     kind 4  SACK Permitted         (length 2)                       RFC 2018 §2
///     kind 5  SACK                   (variable; skipped for now)      RFC 2018 §3
///     kind 8  Timestamps             (length 10: TSval, TSecr)        RFC 7323 §3.2
public struct TCPOptions: Equatable, Sendable {
    /// The largest segment the sender will receive, from a SYN.
    public var maximumSegmentSize: UInt16?
    /// The sender's window shift count, from a SYN; clamped to 14 (RFC 7323 §2.3).
    public var windowScale: UInt8?
    /// Whether the sender allows selective acknowledgements.
    public var selectiveAcknowledgmentPermitted: Bool
    /// The timestamps option, when present.
    public var timestamps: TCPTimestamps?

    /// The largest shift count RFC 7323 §2.3 allows: windows stay below 2^30.
    public static let maximumWindowScale: UInt8 = 14
    /// The most option bytes a header can carry: (15 - 5) words.
    public static let maximumLength = 40

    /// No options.
    public init(maximumSegmentSize: UInt16? = nil, windowScale: UInt8? = nil,
                selectiveAcknowledgmentPermitted: Bool = false, timestamps: TCPTimestamps? = nil) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
        self.selectiveAcknowledgmentPermitted = selectiveAcknowledgmentPermitted
        self.timestamps = timestamps
    }

    /// Parses the options area `bytes` (the header bytes after the fixed 20).
    ///
    /// Unknown kinds are skipped by their length byte. A length byte that is missing, below 2
    /// (which would loop forever or step backwards), or runs past the area is rejected, as is a
    /// known kind with the wrong length: a peer that lies about one option's size cannot be
    /// trusted about the next one's position. Every read goes through `ByteReader`.
    public init(parsing bytes: ByteReader) throws(TCPSegmentError) {
        self.init()
        var offset = 0
        while let kind = bytes.u8(at: offset) {
            if kind == 0 { break }                    // End of Option List: the rest is padding.
            if kind == 1 { offset += 1; continue }    // No-Operation: alignment padding.
            guard let length = bytes.u8(at: offset + 1), length >= 2,
                  bytes.contains(offset: offset, width: Int(length))
            else { throw .malformedOption }
            let body = offset + 2
            switch kind {
            case 2:
                guard length == 4, let size = bytes.bigEndianUInt16(at: body) else { throw .malformedOption }
                maximumSegmentSize = size
            case 3:
                guard length == 3, let shift = bytes.u8(at: body) else { throw .malformedOption }
                windowScale = min(shift, Self.maximumWindowScale)
            case 4:
                guard length == 2 else { throw .malformedOption }
                selectiveAcknowledgmentPermitted = true
            case 8:
                guard length == 10, let value = bytes.bigEndianUInt32(at: body),
                      let echoReply = bytes.bigEndianUInt32(at: body + 4)
                else { throw .malformedOption }
                timestamps = TCPTimestamps(value: value, echoReply: echoReply)
            default:
                break                                 // SACK blocks and unknown kinds: skipped.
            }
            offset += Int(length)
        }
    }

    /// The bytes `write(to:at:)` produces: each option padded with NOPs to a 4-byte multiple.
    public var encodedLength: Int {
        var length = 0
        if maximumSegmentSize != nil { length += 4 }
        if windowScale != nil { length += 4 }
        if selectiveAcknowledgmentPermitted { length += 4 }
        if timestamps != nil { length += 12 }
        return length
    }

    /// Writes the options at `offset`, each aligned to 4 bytes with leading NOPs (the layout
    /// RFC 7323 Appendix A recommends), so the header length stays a whole number of words.
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        var position = offset
        if let size = maximumSegmentSize {
            writer.storeByte(2, at: position)
            writer.storeByte(4, at: position + 1)
            writer.storeBigEndian(size, at: position + 2)
            position += 4
        }
        if let shift = windowScale {
            writer.storeByte(1, at: position)
            writer.storeByte(3, at: position + 1)
            writer.storeByte(3, at: position + 2)
            writer.storeByte(min(shift, Self.maximumWindowScale), at: position + 3)
            position += 4
        }
        if selectiveAcknowledgmentPermitted {
            writer.storeByte(1, at: position)
            writer.storeByte(1, at: position + 1)
            writer.storeByte(4, at: position + 2)
            writer.storeByte(2, at: position + 3)
            position += 4
        }
        if let stamps = timestamps {
            writer.storeByte(1, at: position)
            writer.storeByte(1, at: position + 1)
            writer.storeByte(8, at: position + 2)
            writer.storeByte(10, at: position + 3)
            writer.storeBigEndian(stamps.value, at: position + 4)
            writer.storeBigEndian(stamps.echoReply, at: position + 8)
            position += 12
        }
    }
}
