/// A physical address: where a frame, a DMA buffer or a device's registers lie on the bus, as opposed to an address a program or the kernel dereferences.

/// A physical memory address. Devices see only these (a virtqueue's rings, a receive buffer);
/// page tables map virtual addresses to them; the frame allocator hands them out. The kernel
/// identity-maps physical memory, so there a physical address is also a kernel pointer (the
/// kernel's `pointer`), but a program's addresses never are: keeping the two apart in the type
/// makes a mix-up a compile error rather than a DMA into the wrong place.
public struct PhysicalAddress: Equatable, Hashable, Comparable, Sendable {
    /// The address as a number.
    public var rawValue: UInt64

    /// The physical address `rawValue`.
    @inline(__always)
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The address `bytes` further on.
    @inline(__always)
    public static func + (address: PhysicalAddress, bytes: Int) -> PhysicalAddress {
        PhysicalAddress(address.rawValue &+ UInt64(bytes))
    }

    /// Bytes from `start` to `end`.
    @inline(__always)
    public static func - (end: PhysicalAddress, start: PhysicalAddress) -> UInt64 { end.rawValue &- start.rawValue }

    public static func < (left: PhysicalAddress, right: PhysicalAddress) -> Bool { left.rawValue < right.rawValue }

    /// Whether the address starts a page.
    public var isPageAligned: Bool { Page.isAligned(rawValue) }
}
