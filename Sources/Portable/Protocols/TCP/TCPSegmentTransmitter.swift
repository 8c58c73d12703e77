// How a connection hands outgoing segments to the stack: a described segment and a generic transmitter protocol.

import RawBytes

/// A segment's data as a range of a connection's send store, copied into the frame only when
/// the segment is built: lent bytes go from the owner's memory to the NIC's buffer in one copy.
public struct TCPStoredPayload {
    /// The store (valid, like the range, only during `transmit`).
    public let store: SendStore
    /// Bytes after the store's oldest.
    public let offset: Int
    /// How many bytes.
    public let count: Int

    /// The range `offset..<offset + count` of `store` (within what it holds).
    public init(store: SendStore, offset: Int, count: Int) {
        self.store = store
        self.offset = offset
        self.count = count
    }

    /// Copies the bytes to `destination`.
    public func copy(into destination: UnsafeMutableRawPointer) {
        store.copy(offset: offset, length: count, into: destination)
    }

    /// The bytes as an array (tests and diagnostics).
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { copy(into: UnsafeMutableRawPointer(buffer.baseAddress!)) }
            initialized = count
        }
    }
}

/// A segment a connection wants sent, described rather than built: the transmitter builds it
/// straight into its own transmit buffer with `write(into:)`. The payload views and the stored
/// range point into the connection's send buffer and are valid only during `transmit`.
public struct TCPOutgoingSegment {
    /// Our endpoint (the segment's source).
    public var source: TCPEndpoint
    /// The peer (the segment's destination).
    public var destination: TCPEndpoint
    /// The header; data offset and checksum are filled in by `write(into:)`.
    public var header: TCPHeader
    /// The options to send (only on SYNs for now).
    public var options: TCPOptions
    /// The data, first piece.
    public var payload: ByteReader
    /// The data, second piece (when the send buffer wraps).
    public var payloadContinuation: ByteReader
    /// Data read from the connection's send store when the segment is built, after the pieces.
    public var storedPayload: TCPStoredPayload?
    /// TCP segmentation offload: the payload is longer than one segment, and the NIC cuts it
    /// into pieces of this many bytes (the connection's SMSS); 0 when it is one segment.
    public var segmentationSize = 0

    /// A segment from `source` to `destination`; `segmentationSize` above 0 for a payload the
    /// NIC is to cut into segments of that size.
    public init(source: TCPEndpoint, destination: TCPEndpoint, header: TCPHeader, options: TCPOptions,
                payload: ByteReader, payloadContinuation: ByteReader, storedPayload: TCPStoredPayload? = nil,
                segmentationSize: Int = 0) {
        self.source = source
        self.destination = destination
        self.header = header
        self.options = options
        self.payload = payload
        self.payloadContinuation = payloadContinuation
        self.storedPayload = storedPayload
        self.segmentationSize = segmentationSize
    }

    /// How many segments this becomes on the wire: 1, or the payload cut into `segmentationSize` pieces.
    public var wireSegmentCount: Int {
        segmentationSize > 0 ? max(1, (payloadLength + segmentationSize - 1) / segmentationSize) : 1
    }

    /// The number of data bytes.
    public var payloadLength: Int { payload.count + payloadContinuation.count + (storedPayload?.count ?? 0) }

    /// Builds the whole segment (header, options, data, checksum) into `buffer`; returns its
    /// length. With `deviceFinishesChecksum` the checksum field holds only the pseudo-header
    /// sum (checksum offload: the driver marks the frame for the device to finish).
    public func write(into buffer: UnsafeMutableRawBufferPointer, deviceFinishesChecksum: Bool = false) throws(TCPBuildError) -> Int {
        try TCPSegment.build(header: header, options: options, payload: payload,
                             payloadContinuation: payloadContinuation, storedPayload: storedPayload,
                             source: source.address, destination: destination.address,
                             deviceFinishesChecksum: deviceFinishesChecksum, into: buffer)
    }
}

/// Where a connection's segments go: the network core wraps them in IPv4 and Ethernet.
/// Connections are generic over it (no existential), like the stack's `FrameTransmitter`.
public protocol TCPSegmentTransmitter {
    /// Sends `segment` now. Returns false when the NIC had no transmit buffer free: nothing
    /// was sent, and a connection keeps the segment's data and ACK to send on a later pass
    /// (backpressure, not loss: `TCPConnection.transmitBlocked`). A segment lost for any other
    /// reason (no route, ARP queue full) returns true: TCP's retransmission covers it.
    @discardableResult
    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool

    /// The most payload one segment handed to `transmit` may carry now for the NIC to cut
    /// (TCP segmentation offload); 0 when the NIC cannot, and segments carry one SMSS. Asked
    /// before each data segment: a NIC with no large buffer free says 0 until it has one.
    mutating func largestPayload() -> Int
}

extension TCPSegmentTransmitter {
    /// No segmentation offload.
    public mutating func largestPayload() -> Int { 0 }
}
