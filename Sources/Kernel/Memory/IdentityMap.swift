/// The kernel's identity map: a physical address is also the kernel's pointer to it.
import Paging

extension PhysicalAddress {
    /// The kernel's pointer to this physical memory. The kernel maps all of physical memory at
    /// the same virtual addresses (`KernelAddressSpace`), so the number is the same; only the
    /// kernel may use this (a program's page tables map nothing of the sort).
    var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(rawValue))! }
}
