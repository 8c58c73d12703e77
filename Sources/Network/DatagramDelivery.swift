// A datagram the stack hands to its caller instead of answering it: UDP for a bound port, or any TCP segment for us.

import RawBytes

/// A received datagram the caller must handle: a UDP datagram for a bound port (`transport`
/// `.udp`, delivered to `listener`), or a TCP segment to our address (`transport` `.tcp`, for
/// the caller's connection table; `listener` is `DatagramDelivery.tcpListener` and the ports
/// are 0: the TCP module parses and checksums the segment itself). `payload` points into the
/// received frame and is valid only until the frame's buffer goes back to the NIC.
public struct DatagramDelivery {
    /// The `listener` of TCP segments (no port table: every segment goes to the connection table).
    public static let tcpListener = Int.min
    /// The number given to `NetworkStack.bind(port:listener:)`, or `tcpListener`.
    public var listener: Int
    /// The UDP payload (checksum already verified), or the whole TCP segment (header included,
    /// checksum not yet verified).
    public var payload: ByteReader
    /// The datagram's source address.
    public var source: IPv4Address
    /// The UDP source port (0 for TCP).
    public var sourcePort: UInt16
    /// The UDP destination port (0 for TCP).
    public var destinationPort: UInt16
    /// The datagram's destination address (ours).
    public var destination: IPv4Address = .any
    /// UDP or TCP.
    public var transport: IPProtocol = .udp
}
