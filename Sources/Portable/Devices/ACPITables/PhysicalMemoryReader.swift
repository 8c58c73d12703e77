// Access to physical memory for the ACPI walker: the kernel's identity map, or a fake in tests.

import RawBytes

/// Gives read access to physical memory, so that ACPI tables can be followed by physical address.
///
/// The kernel implements it over its identity map (returning `nil` for unmapped ranges); tests
/// implement it over recorded tables. Implementations must return `nil` rather than a reader over
/// memory that is not safely readable.
public protocol PhysicalMemoryReader {
    /// A view of `count` bytes at `physicalAddress`, or `nil` if that range is not readable.
    func bytes(at physicalAddress: UInt64, count: Int) -> ByteReader?
}
