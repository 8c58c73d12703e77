/// `test=memory`: boot/memory.asm's memset, memcpy, memmove and memcmp against their definitions, at every small length and alignment.

/// The checks of `SelfTests.memoryFunctions`. Each call goes to the assembly directly (through
/// `@_extern`), with guard bytes on both sides of the destination; expected bytes come from a
/// formula of the index, never from a second copy loop (the optimizer turns those into calls
/// to the very functions under test).
enum MemoryFunctionsTest {
    /// Lengths around the 8-byte stores of memset and the 32-byte blocks of the copies, and
    /// around a page.
    static let lengths: [Int] = Array(0...70) + [95, 96, 97, 255, 256, 257, 4093, 4096, 4100]
    /// The guard bytes each side of a destination.
    static let guardBytes = 24
    /// The bytes of the work buffer: the largest length, the largest offset and the guards.
    static let bufferBytes = 4100 + 16 + 4 * guardBytes + 64

    /// The byte at `index` of the pattern the buffers start with.
    static func pattern(_ index: Int, seed: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 7 &+ seed) }

    /// Runs every check; returns the number of failures and the first failing function's name.
    static func run() -> (failures: Int, first: StaticString?) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 64)
        let source = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 64)
        defer {
            buffer.deallocate()
            source.deallocate()
        }
        var failures = 0
        var first: StaticString?
        func fail(_ name: StaticString) {
            failures += 1
            if first == nil { first = name }
        }
        func fill(_ memory: UnsafeMutableRawPointer, seed: Int) {
            for index in 0..<bufferBytes { memory.storeBytes(of: pattern(index, seed: seed), toByteOffset: index, as: UInt8.self) }
        }
        func byte(_ memory: UnsafeMutableRawPointer, _ index: Int) -> UInt8 { memory.load(fromByteOffset: index, as: UInt8.self) }

        for length in lengths {
            for offset in 0..<9 {
                let start = guardBytes + offset
                // memset: only the low byte of the value counts (C11 §7.24.6.1).
                fill(buffer, seed: 1)
                if swiglet_memset(buffer + start, 0x1A5, length) != buffer + start { fail("memset") }
                for index in 0..<(start + length + guardBytes)
                where byte(buffer, index) != (index >= start && index < start + length ? 0xA5 : pattern(index, seed: 1)) {
                    fail("memset")
                    break
                }
                // memcpy: source and destination at different alignments.
                let from = guardBytes + (offset * 5) % 9
                fill(buffer, seed: 1)
                fill(source, seed: 2)
                if swiglet_memcpy(buffer + start, source + from, length) != buffer + start { fail("memcpy") }
                for index in 0..<(start + length + guardBytes)
                where byte(buffer, index) != (index >= start && index < start + length
                                              ? pattern(from + index - start, seed: 2) : pattern(index, seed: 1)) {
                    fail("memcpy")
                    break
                }
                // memmove within one buffer, each way and overlapping at distances that straddle
                // a copy block (1, 8, 33 bytes).
                for shift in [-33, -8, -1, 1, 8, 33] {
                    let to = 2 * guardBytes + offset
                    let moveFrom = to + shift
                    fill(buffer, seed: 3)
                    if swiglet_memmove(buffer + to, buffer + moveFrom, length) != buffer + to { fail("memmove") }
                    for index in 0..<(to + length + 2 * guardBytes)
                    where byte(buffer, index) != (index >= to && index < to + length
                                                  ? pattern(moveFrom + index - to, seed: 3) : pattern(index, seed: 3)) {
                        fail("memmove")
                        break
                    }
                }
            }
            // memcmp: equal ranges compare 0; the first differing byte decides the sign.
            fill(buffer, seed: 4)
            fill(source, seed: 4)
            if swiglet_memcmp(buffer, source, length) != 0 { fail("memcmp") }
            if length > 0 {
                let last = length - 1
                source.storeBytes(of: byte(buffer, last) &+ 1, toByteOffset: last, as: UInt8.self)
                let lower = byte(buffer, last) < byte(source, last)
                let order = swiglet_memcmp(buffer, source, length)
                if lower ? order >= 0 : order <= 0 { fail("memcmp") }
                if swiglet_memcmp(buffer, source, last) != 0 { fail("memcmp") }
            }
        }
        return (failures, first)
    }
}

@_extern(c, "memset") func swiglet_memset(_ destination: UnsafeMutableRawPointer, _ value: Int32, _ count: Int) -> UnsafeMutableRawPointer
@_extern(c, "memcpy") func swiglet_memcpy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) -> UnsafeMutableRawPointer
@_extern(c, "memmove") func swiglet_memmove(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) -> UnsafeMutableRawPointer
@_extern(c, "memcmp") func swiglet_memcmp(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, _ count: Int) -> Int32
