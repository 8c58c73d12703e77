/// Why the frame allocator refused to free frames.

/// A rejected `FrameAllocator.free`; the allocator's state is unchanged when one is thrown.
public enum FrameError: Error, Equatable, Sendable {
    /// The address is not a multiple of the 4 KiB frame size.
    case misaligned(UInt64)
    /// The frames (or the count) reach outside the memory the allocator describes.
    case outOfRange(UInt64)
    /// This frame is already free: a double free, or frames that were never allocated.
    case notAllocated(UInt64)
}
