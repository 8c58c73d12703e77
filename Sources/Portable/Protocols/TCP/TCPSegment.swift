// A whole TCP segment: validating a received one (lengths, checksum, options) and building one into a buffer.

import InternetAddress
import RawBytes

/// A received segment whose header, options and checksum verified — RFC 9293 §3.1.
///
/// It holds no copy: `payload` is a view into the received bytes, which must stay unchanged
/// while the segment is used (the network core hands TCP a receive buffer for one call).
public struct TCPSegment {
    /// The fixed header.
    public var header: TCPHeader
    /// The options this TCP understands.
    public var options: TCPOptions
    /// The data after the header (may be empty).
    public var payload: ByteReader

    /// SEG.LEN: the sequence space the segment occupies — data, plus one each for SYN and FIN
    /// (RFC 9293 §3.4).
    public var sequenceLength: UInt32 {
        var length = UInt32(payload.count)
        if header.flags.contains(.synchronize) { length += 1 }
        if header.flags.contains(.finish) { length += 1 }
        return length
    }

    /// Validates `bytes` (the IPv4 payload, exactly the TCP segment) sent from `source` to
    /// `destination` (IPv4 addresses in host order, for the pseudo-header).
    ///
    /// Checks in the order that keeps every read inside `bytes`: the fixed header is there, the
    /// data offset is at least 5 words and no longer than the segment, the checksum is right,
    /// and the options parse. The checksum is checked before the options are trusted, unless
    /// `verifyChecksum` is false: the device vouched for it (it may then be incomplete, virtio
    /// 1.2 §5.1.6.4).
    public init(parsing bytes: ByteReader, source: IPv4Address, destination: IPv4Address, verifyChecksum: Bool = true) throws(TCPSegmentError) {
        let header = try TCPHeader(reading: bytes)
        guard header.headerLength >= TCPHeader.minimumSize else { throw .dataOffsetTooSmall }
        guard header.headerLength <= bytes.count else { throw .dataOffsetBeyondSegment }
        if verifyChecksum {
            var checksum = InternetChecksum.transmissionControl(source: source, destination: destination, tcpLength: bytes.count)
            checksum.add(bytes)
            guard checksum.value == 0 else { throw .badChecksum }
        }
        let optionBytes = bytes.slice(at: TCPHeader.minimumSize, count: header.headerLength - TCPHeader.minimumSize) ?? ByteReader()
        self.header = header
        self.options = try TCPOptions(parsing: optionBytes)
        self.payload = bytes.suffix(from: header.headerLength) ?? ByteReader()
    }

    /// Builds a segment into `buffer`: `header` (its data offset and checksum are set here),
    /// `options`, then `payload` followed by `payloadContinuation` (a ring buffer's data may
    /// come in two pieces) and `storedPayload` (data read from a send store here), with the checksum over the pseudo-header from `source` to
    /// `destination` — or, with `deviceFinishesChecksum`, only the pseudo-header's sum, for the
    /// device to add header and data to (virtio 1.2 §5.1.6.2). Returns the segment's length.
    /// Nothing is written when it does not fit.
    public static func build(header: TCPHeader, options: TCPOptions, payload: ByteReader,
                             payloadContinuation: ByteReader = ByteReader(), storedPayload: TCPStoredPayload? = nil,
                             source: IPv4Address, destination: IPv4Address, deviceFinishesChecksum: Bool = false,
                             into buffer: UnsafeMutableRawBufferPointer) throws(TCPBuildError) -> Int {
        let headerLength = TCPHeader.minimumSize + options.encodedLength
        let piecesLength = payload.count + payloadContinuation.count
        let total = headerLength + piecesLength + (storedPayload?.count ?? 0)
        guard total <= 0xFFFF else { throw .segmentTooLong }
        guard buffer.baseAddress != nil, total <= buffer.count else { throw .bufferTooSmall }
        let writer = NetworkOrderWriter(buffer)
        var finalHeader = header
        finalHeader.dataOffset = UInt8(headerLength / 4)
        finalHeader.checksum = 0
        finalHeader.write(to: writer, at: 0)
        options.write(to: writer, at: TCPHeader.minimumSize)
        writer.copy(payload, to: headerLength)
        writer.copy(payloadContinuation, to: headerLength + payload.count)
        storedPayload?.copy(into: buffer.baseAddress! + headerLength + piecesLength)
        var checksum = InternetChecksum.transmissionControl(source: source, destination: destination, tcpLength: total)
        if deviceFinishesChecksum {
            writer.storeBigEndian(checksum.partialValue, at: 16)
        } else {
            checksum.add(ByteReader(start: UnsafeRawPointer(buffer.baseAddress!), count: total))
            writer.storeBigEndian(checksum.value, at: 16)
        }
        return total
    }
}
