/// Segregated free-list size classes: four classes per power of two (as TLSF does).

/// Maps block sizes to free-list classes. Sizes below 64 get one class per 16 bytes; above,
/// each power of two [2^k, 2^(k+1)) splits into four classes of equal width, so a class's
/// blocks differ by at most 25% and the first block of a higher class always fits.
enum HeapSizeClass {
    /// Classes up to blocks of 2^48 bytes; larger blocks share the last class.
    static let count = 4 + (47 - 6 + 1) * 4
    /// 64-bit words in the bitmap of non-empty classes.
    static let bitmapWords = (count + 63) / 64

    /// The class of a block of `size` bytes (a multiple of 16).
    static func of(size: Int) -> Int {
        if size < 64 { return size >> 4 }
        let powerOfTwo = Int.bitWidth - 1 - size.leadingZeroBitCount
        let quarter = (size >> (powerOfTwo - 2)) & 3
        return min(4 + (powerOfTwo - 6) * 4 + quarter, count - 1)
    }

    /// The smallest block size that belongs to `sizeClass`.
    static func lowerBound(of sizeClass: Int) -> Int {
        if sizeClass < 4 { return sizeClass << 4 }
        let powerOfTwo = (sizeClass - 4) / 4 + 6
        let quarter = (sizeClass - 4) % 4
        return (4 + quarter) << (powerOfTwo - 2)
    }
}
