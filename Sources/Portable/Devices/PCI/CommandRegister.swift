/// The command register bits a driver turns on or off.

/// Command register — PCI Local Bus 3.0 §6.2.2.
public struct CommandRegister: OptionSet, Equatable, Sendable {
    /// The register's 16 bits.
    public var rawValue: UInt16
    /// The bits `rawValue`.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Bit 0: the function decodes its I/O BARs.
    public static let ioSpace = CommandRegister(rawValue: 1 << 0)
    /// Bit 1: the function decodes its memory BARs.
    public static let memorySpace = CommandRegister(rawValue: 1 << 1)
    /// Bit 2: the function may master the bus — needed for DMA, i.e. for any virtqueue.
    public static let busMaster = CommandRegister(rawValue: 1 << 2)
    /// Bit 10: the function must not assert INTx# (we poll or use MSI).
    public static let interruptDisable = CommandRegister(rawValue: 1 << 10)
}
