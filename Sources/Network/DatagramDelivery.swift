// A UDP datagram the stack hands to a listener (a program's channel) instead of answering it.

import RawBytes

/// A received UDP datagram for a bound port. `payload` points into the received frame and is
/// valid only until the frame's buffer goes back to the NIC: the network core copies it into
/// the listener's buffer at once.
public struct DatagramDelivery {
    /// The number given to `NetworkStack.bind(port:listener:)`.
    public var listener: Int
    /// The UDP payload (checksum already verified).
    public var payload: ByteReader
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destinationPort: UInt16
}
