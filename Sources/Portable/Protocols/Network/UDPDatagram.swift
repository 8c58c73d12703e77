// UDP (RFC 768): the header, validation of received datagrams with the pseudo-header checksum, and the datagram builder.

import RawBytes

/// The UDP header — RFC 768 "Format".
///
///     0             2                  4        6          8
///     | source port | destination port | length | checksum | data ...
public struct UDPHeader: Equatable, Sendable {
    /// The header length.
    public static let size = 8
    /// The most data one unfragmented datagram carries over Ethernet: 1500 - 20 - 8.
    public static let maximumPayloadSize = EthernetHeader.maximumPayloadSize - IPv4Header.minimumSize - UDPHeader.size

    /// The sender's port (0 when unused).
    public var sourcePort: UInt16
    /// The receiver's port.
    public var destinationPort: UInt16
    /// The datagram length, header included.
    public var length: UInt16
    /// The checksum over pseudo-header, header and data; 0 means "not computed".
    public var checksum: UInt16

    /// Creates a header.
    public init(sourcePort: UInt16, destinationPort: UInt16, length: UInt16, checksum: UInt16) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.length = length
        self.checksum = checksum
    }

    /// Reads the 8 header bytes, or `nil` when there are fewer.
    public init?(reading bytes: ByteReader) {
        guard let sourcePort = bytes.bigEndianUInt16(at: 0),
              let destinationPort = bytes.bigEndianUInt16(at: 2),
              let length = bytes.bigEndianUInt16(at: 4),
              let checksum = bytes.bigEndianUInt16(at: 6)
        else { return nil }
        self.init(sourcePort: sourcePort, destinationPort: destinationPort, length: length, checksum: checksum)
    }

    /// Writes the 8 bytes at `offset`, with the checksum field as it is.
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        writer.storeBigEndian(sourcePort, at: offset)
        writer.storeBigEndian(destinationPort, at: offset + 2)
        writer.storeBigEndian(length, at: offset + 4)
        writer.storeBigEndian(checksum, at: offset + 6)
    }

    /// The pseudo-header's folded sum (RFC 768), not complemented: the checksum field of a
    /// datagram whose checksum the device finishes (virtio 1.2 §5.1.6.2).
    public static func pseudoHeaderSum(source: IPv4Address, destination: IPv4Address, length: Int) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt16(IPProtocol.udp.rawValue))
        checksum.add(UInt16(truncatingIfNeeded: length))
        return checksum.partialValue
    }

    /// The checksum of `datagram` (header and data, checksum field included as it is) with the
    /// pseudo-header of RFC 768: source, destination, zero, protocol 17, UDP length.
    public static func checksum(of datagram: ByteReader, source: IPv4Address, destination: IPv4Address) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt16(IPProtocol.udp.rawValue))
        checksum.add(UInt16(truncatingIfNeeded: datagram.count))
        checksum.add(datagram)
        return checksum.value
    }
}

/// A received UDP datagram whose length and checksum verified.
public struct UDPDatagram {
    /// The header.
    public var header: UDPHeader
    /// The data after the header, cut to the header's length.
    public var payload: ByteReader

    /// Validates a UDP datagram (an IPv4 payload) — RFC 768, RFC 1122 §4.1.3.4: `.truncated` when
    /// the IP payload is shorter than 8 bytes or than the UDP length, `.badHeader` for a UDP
    /// length below 8, `.badChecksum` when a non-zero checksum does not verify. Bytes beyond
    /// the UDP length are ignored. A checksum the device vouched for (`.trusted`) is not
    /// verified again: it may be incomplete (virtio 1.2 §5.1.6.4).
    public init(parsing bytes: ByteReader, source: IPv4Address, destination: IPv4Address,
                checksum received: ReceivedChecksum = .unverified) throws(DropReason) {
        guard let header = UDPHeader(reading: bytes) else { throw .truncated }
        let length = Int(header.length)
        guard length >= UDPHeader.size else { throw .badHeader }
        guard let datagram = bytes.slice(at: 0, count: length),
              let payload = datagram.suffix(from: UDPHeader.size)
        else { throw .truncated }
        if header.checksum != 0 && received == .unverified {
            guard UDPHeader.checksum(of: datagram, source: source, destination: destination) == 0
            else { throw .badChecksum }
        }
        self.header = header
        self.payload = payload
    }
}

/// Builds UDP frames.
enum UDPFrames {
    /// A whole frame carrying `payload` from `source`:`sourcePort` to `destination`:`destinationPort`,
    /// with a computed checksum (a zero result is sent as 0xFFFF, RFC 768), or with `.device`
    /// only the pseudo-header sum for the device to finish. Returns the frame length, or 0 when
    /// the payload does not fit one frame or the buffer is too small.
    static func writeDatagram(into buffer: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader,
                              source: IPv4Address, sourcePort: UInt16,
                              destination: IPv4Address, destinationPort: UInt16,
                              payload: ByteReader, identification: UInt16,
                              checksum mode: TransmitChecksum = .software) -> Int {
        let udpLength = UDPHeader.size + payload.count
        let ipOffset = EthernetHeader.size
        let udpOffset = ipOffset + IPv4Header.minimumSize
        guard payload.count <= UDPHeader.maximumPayloadSize,
              buffer.count >= max(udpOffset + udpLength, EthernetHeader.minimumFrameSize)
        else { return 0 }
        let writer = NetworkOrderWriter(buffer)
        ethernet.write(to: writer)
        IPv4Header(protocolNumber: .udp, source: source, destination: destination,
                   payloadLength: udpLength, identification: identification)
            .write(to: writer, at: ipOffset)
        UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort,
                  length: UInt16(truncatingIfNeeded: udpLength), checksum: 0)
            .write(to: writer, at: udpOffset)
        writer.copy(payload, to: udpOffset + UDPHeader.size)
        switch mode {
        case .software:
            var checksum = UDPHeader.checksum(of: writer.reader(at: udpOffset, count: udpLength),
                                              source: source, destination: destination)
            if checksum == 0 { checksum = 0xFFFF }
            writer.storeBigEndian(checksum, at: udpOffset + 6)
        case .device:
            writer.storeBigEndian(UDPHeader.pseudoHeaderSum(source: source, destination: destination, length: udpLength),
                                  at: udpOffset + 6)
        }
        return EthernetHeader.finish(writer, length: udpOffset + udpLength)
    }
}
