/// The C functions the Embedded Swift runtime expects from its environment, besides the
/// memory functions in boot/memory.asm and the allocator in Memory/KernelHeap.swift.

/// `print` writes here; the kernel itself logs through `Log`, which never interleaves lines.
@_cdecl("putchar")
func putchar(_ character: Int32) -> Int32 {
    SerialPort.com1.write(UInt8(truncatingIfNeeded: character))
    return character
}

/// Seeds for hashing (Set, Dictionary). Not cryptographic: a 64-bit xorshift stream mixed
/// with the timestamp counter, which is all hash-flooding resistance needs inside a kernel.
@_cdecl("arc4random_buf")
func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    var state = Processor.timestamp() | 1
    for offset in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        buffer.storeBytes(of: UInt8(truncatingIfNeeded: state), toByteOffset: offset, as: UInt8.self)
    }
}
