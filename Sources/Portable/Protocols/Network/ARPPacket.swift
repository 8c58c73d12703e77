// The ARP packet for IPv4 over Ethernet (RFC 826), parsed and written field by field.

import RawBytes

/// An ARP operation code — RFC 826 ("ar$op").
public struct ARPOperation: RawRepresentable, Equatable, Sendable {
    /// The 16-bit operation field.
    public var rawValue: UInt16
    /// Creates an operation from its field value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// "Who has this protocol address?" (ares_op$REQUEST).
    public static let request = ARPOperation(rawValue: 1)
    /// "It is at this hardware address" (ares_op$REPLY).
    public static let reply = ARPOperation(rawValue: 2)
}

/// An ARP packet mapping IPv4 to Ethernet addresses — RFC 826, "Packet format".
///
///     0     2     4    5    6    8        14       18       24       28
///     | hrd | pro | hln| pln| op | sha    | spa    | tha    | tpa    |
public struct ARPPacket: Equatable, Sendable {
    /// The packet length for Ethernet (6-byte) and IPv4 (4-byte) addresses.
    public static let size = 28
    /// ar$hrd for Ethernet (RFC 826; the IANA "Hardware Types" registry).
    public static let ethernetHardwareType: UInt16 = 1

    /// ar$hrd: the hardware address space.
    public var hardwareType: UInt16
    /// ar$pro: the protocol address space, an EtherType.
    public var protocolType: EtherType
    /// ar$hln: bytes per hardware address.
    public var hardwareAddressLength: UInt8
    /// ar$pln: bytes per protocol address.
    public var protocolAddressLength: UInt8
    /// ar$op: request or reply.
    public var operation: ARPOperation
    /// ar$sha: the sender's hardware address.
    public var senderHardwareAddress: MACAddress
    /// ar$spa: the sender's protocol address.
    public var senderProtocolAddress: IPv4Address
    /// ar$tha: the target's hardware address (zero, unknown, in requests).
    public var targetHardwareAddress: MACAddress
    /// ar$tpa: the target's protocol address.
    public var targetProtocolAddress: IPv4Address

    /// Creates an Ethernet/IPv4 ARP packet.
    public init(operation: ARPOperation,
                senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address) {
        hardwareType = ARPPacket.ethernetHardwareType
        protocolType = .ipv4
        hardwareAddressLength = 6
        protocolAddressLength = 4
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    /// Parses an ARP packet from an Ethernet payload (trailing padding is ignored).
    /// Throws `.truncated` when it is shorter than 28 bytes, `.badHeader` when it is not
    /// Ethernet/IPv4 ARP — the only kind we speak ("?Do I have the hardware type in ar$hrd?").
    public init(parsing payload: ByteReader) throws(DropReason) {
        guard let hardwareType = payload.bigEndianUInt16(at: 0),
              let protocolType = payload.bigEndianUInt16(at: 2),
              let hardwareAddressLength = payload.u8(at: 4),
              let protocolAddressLength = payload.u8(at: 5),
              let operation = payload.bigEndianUInt16(at: 6),
              let senderHardwareAddress = MACAddress(reading: payload, at: 8),
              let senderProtocolAddress = IPv4Address(reading: payload, at: 14),
              let targetHardwareAddress = MACAddress(reading: payload, at: 18),
              let targetProtocolAddress = IPv4Address(reading: payload, at: 24)
        else { throw .truncated }
        guard hardwareType == ARPPacket.ethernetHardwareType, protocolType == EtherType.ipv4.rawValue,
              hardwareAddressLength == 6, protocolAddressLength == 4
        else { throw .badHeader }
        self.init(operation: ARPOperation(rawValue: operation),
                  senderHardwareAddress: senderHardwareAddress, senderProtocolAddress: senderProtocolAddress,
                  targetHardwareAddress: targetHardwareAddress, targetProtocolAddress: targetProtocolAddress)
    }

    /// Writes the 28 bytes at `offset`.
    func write(to writer: NetworkOrderWriter, at offset: Int) {
        writer.storeBigEndian(hardwareType, at: offset)
        writer.storeBigEndian(protocolType.rawValue, at: offset + 2)
        writer.storeByte(hardwareAddressLength, at: offset + 4)
        writer.storeByte(protocolAddressLength, at: offset + 5)
        writer.storeBigEndian(operation.rawValue, at: offset + 6)
        writer.store(senderHardwareAddress, at: offset + 8)
        writer.store(senderProtocolAddress, at: offset + 14)
        writer.store(targetHardwareAddress, at: offset + 18)
        writer.store(targetProtocolAddress, at: offset + 24)
    }

    /// Writes a whole frame carrying this packet from `source` to `destination`, padded to the
    /// minimum frame size, and returns its length (0 when the buffer is too small).
    func writeFrame(into buffer: UnsafeMutableRawBufferPointer, source: MACAddress, destination: MACAddress) -> Int {
        guard buffer.count >= EthernetHeader.minimumFrameSize else { return 0 }
        let writer = NetworkOrderWriter(buffer)
        EthernetHeader(destination: destination, source: source, etherType: .arp).write(to: writer)
        write(to: writer, at: EthernetHeader.size)
        return EthernetHeader.finish(writer, length: EthernetHeader.size + ARPPacket.size)
    }
}
