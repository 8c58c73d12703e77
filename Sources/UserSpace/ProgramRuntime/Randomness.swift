// arc4random_buf for the Embedded Swift runtime: hashing seeds for Set and Dictionary.

/// The generator's state; advanced on every call so two calls never return the same bytes.
nonisolated(unsafe) private var randomState: UInt64 = 0

/// Fills `buffer` with SplitMix64 output seeded from the clock. Not cryptographic (a program
/// has no RDRAND guarantee under QEMU's default CPU): it only has to make hash seeds differ.
@_cdecl("arc4random_buf")
func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    randomState ^= System.clock()
    var offset = 0
    while offset < count {
        // SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014).
        randomState &+= 0x9E37_79B9_7F4A_7C15
        var value = randomState
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        value ^= value >> 31
        var byteIndex = 0
        while byteIndex < 8, offset < count {
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * UInt64(byteIndex))), toByteOffset: offset, as: UInt8.self)
            byteIndex += 1
            offset += 1
        }
    }
}
