/// Sends a TCP connection's segments through the context's stack into its NIC queue.
import RawBytes
import Network
import TCP

/// IPv4 and Ethernet headers, routing and ARP from the stack, straight into the transmit ring.
/// A segment that finds no transmit buffer is refused, not dropped: the connection keeps it
/// and the table retries it on the next pass (`TCPConnection.transmitBlocked`), so the stack
/// does not count it as a drop.
struct ContextSegmentTransmitter<Sender: FrameSender>: TCPSegmentTransmitter {
    let stack: UnsafeMutablePointer<NetworkStack>
    let sender: UnsafeMutablePointer<Sender>
    let now: UInt64

    @discardableResult
    mutating func transmit(_ segment: TCPOutgoingSegment) -> Bool {
        // A segment the NIC cuts always leaves its checksum to the NIC (TSO implies CSUM).
        let deviceFinishes = stack.pointee.transmitChecksum == .device || segment.segmentationSize > 0
        let result = stack.pointee.sendIPv4(protocolNumber: .tcp, to: segment.destination.address, now: now,
                                            segmentSize: segment.segmentationSize, refusalIsRetried: true,
                                            transmitter: &sender.pointee) { buffer in
            (try? segment.write(into: buffer, deviceFinishesChecksum: deviceFinishes)) ?? 0
        }
        return result != .transmitRingFull
    }

    /// What the NIC can cut now, less the headers of a data segment (Ethernet, IPv4 and TCP
    /// without options: data segments carry none).
    mutating func largestPayload() -> Int {
        let frame = sender.pointee.largestSegmentedFrame()
        let headers = EthernetHeader.size + IPv4Header.minimumSize + TCPHeader.minimumSize
        return frame > headers ? frame - headers : 0
    }
}
