/// Test memory for rings and channels (ChannelsTests, NetworkContextTests): page aligned, fenced by inaccessible guard pages on both sides.

import Glibc

/// `byteCount` bytes (rounded up to pages) between two PROT_NONE pages, zero-filled: any access
/// before or after them crashes the test process instead of passing silently.
public final class PageAlignedMemory: @unchecked Sendable {
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    /// The usable bytes, page aligned.
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataSize = (byteCount + page - 1) / page * page
        mappingSize = dataSize + 2 * page
        let raw = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != MAP_FAILED, "mmap failed")
        mapping = raw!
        base = mapping + page
        self.byteCount = dataSize
        precondition(mprotect(mapping, page, PROT_NONE) == 0)
        precondition(mprotect(base + dataSize, page, PROT_NONE) == 0)
    }

    deinit { munmap(mapping, mappingSize) }

    /// A copy of every byte, to check later that nothing changed.
    public func snapshot() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base, count: byteCount))
    }
}
