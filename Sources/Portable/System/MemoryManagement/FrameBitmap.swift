/// One bit per physical frame over caller-supplied memory, scanned a 64-bit word at a time.

/// Bit `i` set means frame `i` is not available (reserved or allocated); clear means free.
/// Bits past `frameCount` in the last word stay set, so a full word always reads as `~0`.
/// The bitmap does not own its memory: it is a view, and copies see the same bits.
struct FrameBitmap {
    /// The words, least significant bit first: frame `i` is bit `i % 64` of word `i / 64`.
    let words: UnsafeMutablePointer<UInt64>
    /// The number of frames the bitmap describes.
    let frameCount: Int

    /// The number of 64-bit words needed for `frameCount` frames.
    static func wordCount(frameCount: Int) -> Int { (frameCount + 63) / 64 }

    /// Marks every frame unavailable.
    func setAll() {
        words.initialize(repeating: ~0, count: FrameBitmap.wordCount(frameCount: frameCount))
    }

    /// The bits `low ..< high` of one word (0 <= low < high <= 64).
    private static func mask(_ low: Int, _ high: Int) -> UInt64 {
        let upper: UInt64 = high == 64 ? ~0 : (1 << UInt64(high)) &- 1
        let lower: UInt64 = (1 << UInt64(low)) &- 1
        return upper & ~lower
    }

    /// Calls `body(word, mask)` for each word that frames `first ..< end` touch.
    @inline(__always)
    private func forEachWord(_ first: Int, _ end: Int, _ body: (Int, UInt64) -> Void) {
        var frame = first
        while frame < end {
            let word = frame / 64
            let high = min(end - word * 64, 64)
            body(word, FrameBitmap.mask(frame % 64, high))
            frame = word * 64 + 64
        }
    }

    /// Marks frames `first ..< end` unavailable; returns how many were free before.
    func set(_ first: Int, _ end: Int) -> Int {
        var changed = 0
        forEachWord(first, end) { word, mask in
            changed += (~words[word] & mask).nonzeroBitCount
            words[word] |= mask
        }
        return changed
    }

    /// Marks frames `first ..< end` free; returns how many were unavailable before.
    func clear(_ first: Int, _ end: Int) -> Int {
        var changed = 0
        forEachWord(first, end) { word, mask in
            changed += (words[word] & mask).nonzeroBitCount
            words[word] &= ~mask
        }
        return changed
    }

    /// The first free frame in `first ..< end`, or nil.
    func firstClear(from first: Int, to end: Int) -> Int? {
        firstMatching(from: first, to: end, invert: true)
    }

    /// The first unavailable frame in `first ..< end`, or nil.
    func firstSet(from first: Int, to end: Int) -> Int? {
        firstMatching(from: first, to: end, invert: false)
    }

    /// Scans whole words: a word with no matching bit is skipped with one comparison.
    private func firstMatching(from first: Int, to end: Int, invert: Bool) -> Int? {
        var frame = first
        while frame < end {
            let word = frame / 64
            let high = min(end - word * 64, 64)
            let bits = (invert ? ~words[word] : words[word]) & FrameBitmap.mask(frame % 64, high)
            if bits != 0 { return word * 64 + bits.trailingZeroBitCount }
            frame = word * 64 + 64
        }
        return nil
    }
}
