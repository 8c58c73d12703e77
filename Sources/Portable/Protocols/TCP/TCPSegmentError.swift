// Why a received TCP segment was rejected: typed errors of the segment parser.

/// Why a received segment was rejected; each case is a reason to drop and count it.
public enum TCPSegmentError: Error, Equatable, Sendable {
    /// Fewer than the 20 bytes of the fixed header — RFC 9293 §3.1.
    case truncated
    /// A data offset below 5 words: the header would end inside its own fixed part.
    case dataOffsetTooSmall
    /// A data offset pointing past the end of the segment (a lying or truncated header).
    case dataOffsetBeyondSegment
    /// The checksum over pseudo-header, header and data is wrong.
    case badChecksum
    /// An option whose length byte is missing, below 2, runs past the options area, or does not
    /// match the length its kind requires (RFC 9293 §3.2, RFC 7323 §2.2 and §3.2).
    case malformedOption
}

/// Why an outgoing segment could not be built.
public enum TCPBuildError: Error, Equatable, Sendable {
    /// The buffer is smaller than header, options and data together.
    case bufferTooSmall
    /// The segment (header, options and data) is longer than 65535 bytes, more than the
    /// pseudo-header's length field can describe.
    case segmentTooLong
}
