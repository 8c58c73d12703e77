// The addresses of the one interface the network core drives, and the subnet arithmetic on them.

/// The link and IPv4 settings of the interface. The defaults are QEMU user-mode networking's:
/// the guest is 10.0.2.15/24 behind the gateway 10.0.2.2.
public struct InterfaceConfiguration: Sendable {
    /// Our Ethernet address (the NIC's, as read from its configuration space).
    public var hardwareAddress: MACAddress
    /// Our IPv4 address.
    public var address: IPv4Address
    /// The length of the subnet prefix in bits, 0 to 32 (values outside are clamped when used).
    public var prefixLength: Int
    /// The router for destinations outside the subnet; `nil` means only the subnet is reachable.
    public var gateway: IPv4Address?

    /// Creates a configuration; every argument defaults to QEMU user-mode networking's value
    /// (MAC 52:54:00:12:34:56, QEMU's default for the first NIC).
    public init(hardwareAddress: MACAddress = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
                address: IPv4Address = IPv4Address(10, 0, 2, 15),
                prefixLength: Int = 24,
                gateway: IPv4Address? = IPv4Address(10, 0, 2, 2)) {
        self.hardwareAddress = hardwareAddress
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }

    /// The subnet mask: `prefixLength` one bits from the top (255.255.255.0 for /24).
    public var subnetMask: UInt32 {
        let length = min(max(prefixLength, 0), 32)
        // A smart shift by 32 gives 0, so /0 yields an all-zero mask without trapping.
        return ~UInt32(0) << UInt32(32 - length)
    }

    /// The directed broadcast address of our subnet (10.0.2.255 for 10.0.2.15/24), RFC 919.
    public var subnetBroadcast: IPv4Address {
        IPv4Address(rawValue: address.rawValue | ~subnetMask)
    }

    /// Whether `destination` is on our link, so that it is reached directly rather than
    /// through the gateway (RFC 1122 §3.3.1.1).
    public func isOnLink(_ destination: IPv4Address) -> Bool {
        destination.rawValue & subnetMask == address.rawValue & subnetMask
    }

    /// Whether `destination` is an address we accept datagrams for: ours, the limited broadcast,
    /// or the subnet broadcast (RFC 1122 §3.2.1.3; we never forward).
    public func accepts(_ destination: IPv4Address) -> Bool {
        destination == address || isBroadcast(destination)
    }

    /// Whether `address` is the limited or our subnet's directed broadcast address.
    public func isBroadcast(_ candidate: IPv4Address) -> Bool {
        candidate == .broadcast || (prefixLength < 31 && candidate == subnetBroadcast)
    }
}
