/// Finding room for the frame bitmap itself, before any allocator exists.

extension FrameAllocator {
    /// The lowest frame-aligned address at or above `above` where `bytes` bytes fit inside one
    /// of the `available` ranges without touching any `reserved` range, or nil if none.
    ///
    /// `available` is walked once; `reserved` is walked again for every candidate, so it must
    /// be a multi-pass sequence (any collection, or a value-type sequence). Nothing is allocated.
    public static func findPlacement(bytes: Int, in available: some Sequence<PhysicalRange>,
                                     avoiding reserved: some Sequence<PhysicalRange>,
                                     above: UInt64) -> UInt64? {
        guard bytes >= 0, let size = PhysicalRange.alignUp(UInt64(bytes), to: frameSize) else { return nil }
        var best: UInt64? = nil
        for region in available {
            guard var candidate = PhysicalRange.alignUp(max(region.start, above), to: frameSize) else { continue }
            while true {
                let (end, overflow) = candidate.addingReportingOverflow(size)
                guard !overflow, end <= region.end else { break }
                if let best, candidate >= best { break }
                // Jump past the first reserved range in the way, then look again.
                var blocker: PhysicalRange? = nil
                for range in reserved where range.start < end && candidate < range.end && !range.isEmpty {
                    blocker = range
                    break
                }
                guard let blocker else {
                    best = candidate
                    break
                }
                guard let next = PhysicalRange.alignUp(blocker.end, to: frameSize) else { break }
                candidate = next
            }
        }
        return best
    }
}
