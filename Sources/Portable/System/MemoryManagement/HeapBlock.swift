/// The heap's block layout: boundary tags, free-list links and the checks that catch bad frees.
///
/// A region handed to `Heap.addRegion` (both ends rounded inward to 16 bytes):
///
///     region start
///     +---------------------+
///     | HeapRegion (16 B)   |  next region's address, this region's end
///     +---------------------+ <- first block
///     | size | flags  (8 B) |  block size in bytes (multiple of 16, header included);
///     |                     |  bit 0 = in use, bit 1 = the previous block is free
///     | check         (8 B) |  block address XOR a magic number for "in use" or "free"
///     +---------------------+ <- payload, 16-byte aligned: what allocate returns
///     | next free     (8 B) |  free blocks only: doubly linked list of the block's size class
///     | previous free (8 B) |
///     |        ...          |
///     | size          (8 B) |  free blocks only: footer, so the next block can find this one
///     +---------------------+ <- next block
///     |        ...          |
///     +---------------------+
///     | sentinel (16 B)     |  size 0, in use: ends the walk and stops forward coalescing
///     +---------------------+ <- region end
///
/// In-use blocks carry no footer: their successor's "previous is free" flag says that it
/// must not look backwards. Two free blocks are never neighbours (frees coalesce at once).

/// A block, named by the address of its header. A view of heap memory: no storage of its own.
struct HeapBlock: Equatable {
    /// Address of the block's header.
    let address: UInt

    /// The header: size-and-flags word plus check word; also the payload alignment.
    static let headerSize = 16
    /// The smallest block: header, two list links and a footer, rounded to 16 bytes.
    static let minimumSize = 48
    /// Every block size and payload address is a multiple of this.
    static let granularity = 16

    /// Size-and-flags bit 0: the block is allocated (or is a sentinel).
    private static let inUseFlag: UInt64 = 1 << 0
    /// Size-and-flags bit 1: the block before this one is free, so its footer is valid.
    private static let previousFreeFlag: UInt64 = 1 << 1
    private static let flagMask: UInt64 = 0xF

    /// Check-word magic for an allocated block (XORed with the block address).
    private static let inUseMagic: UInt64 = 0xA110_CA7E_DB10_C000
    /// Check-word magic for a free block, and for headers swallowed by coalescing.
    private static let freeMagic: UInt64 = 0xF8EE_B10C_F8EE_0000
    /// Check-word magic for a region's end sentinel.
    private static let sentinelMagic: UInt64 = 0x5E47_14E1_E4D0_0000

    init(address: UInt) { self.address = address }

    /// The block whose payload starts at `payload`.
    init(payload: UInt) { self.address = payload - UInt(HeapBlock.headerSize) }

    private var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: address)! }

    private func word(at offset: Int) -> UInt64 { raw.load(fromByteOffset: offset, as: UInt64.self) }
    private func setWord(_ value: UInt64, at offset: Int) { raw.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }

    /// The block's size in bytes, header included; 0 for a sentinel. Read without trapping:
    /// a bad pointer's "header" is arbitrary data, checked by the caller.
    var size: Int { Int(truncatingIfNeeded: word(at: 0) & ~HeapBlock.flagMask) }
    /// Whether the block is allocated (sentinels count as allocated).
    var isInUse: Bool { word(at: 0) & HeapBlock.inUseFlag != 0 }
    /// Whether the block before this one is free (and so has a footer right below this header).
    var isPreviousFree: Bool { word(at: 0) & HeapBlock.previousFreeFlag != 0 }
    /// The payload address handed to callers.
    var payload: UInt { address + UInt(HeapBlock.headerSize) }
    /// The block that follows this one in its region.
    var next: HeapBlock { HeapBlock(address: address + UInt(size)) }
    /// The free block before this one, found through its footer; only if `isPreviousFree`.
    var previousByFooter: HeapBlock {
        let footer = UnsafeMutableRawPointer(bitPattern: address - 8)!.load(as: UInt64.self)
        return HeapBlock(address: address &- UInt(truncatingIfNeeded: footer))
    }
    /// The size stored in the footer (free blocks only).
    var footer: Int { Int(truncatingIfNeeded: word(at: size - 8)) }

    /// Whether the check word says "allocated block".
    var hasInUseCheck: Bool { word(at: 8) == UInt64(address) ^ HeapBlock.inUseMagic }
    /// Whether the check word says "free block" (or a header merged into a free block).
    var hasFreeCheck: Bool { word(at: 8) == UInt64(address) ^ HeapBlock.freeMagic }
    /// Whether the check word says "region end sentinel".
    var hasSentinelCheck: Bool { word(at: 8) == UInt64(address) ^ HeapBlock.sentinelMagic }

    /// Writes the header of an allocated block.
    func markInUse(size: Int, previousFree: Bool) {
        setWord(UInt64(size) | HeapBlock.inUseFlag | (previousFree ? HeapBlock.previousFreeFlag : 0), at: 0)
        setWord(UInt64(address) ^ HeapBlock.inUseMagic, at: 8)
    }

    /// Writes the header and footer of a free block. Its predecessor is never free (free
    /// neighbours are always merged), so that flag is clear.
    func markFree(size: Int) {
        setWord(UInt64(size), at: 0)
        setWord(UInt64(address) ^ HeapBlock.freeMagic, at: 8)
        setWord(UInt64(size), at: size - 8)
    }

    /// Writes a region-end sentinel.
    func markSentinel(previousFree: Bool) {
        setWord(HeapBlock.inUseFlag | (previousFree ? HeapBlock.previousFreeFlag : 0), at: 0)
        setWord(UInt64(address) ^ HeapBlock.sentinelMagic, at: 8)
    }

    /// Stamps a header that coalescing swallowed as free, so that freeing its old payload
    /// pointer again is reported as a double free instead of corrupting the heap.
    func markSwallowed() {
        setWord(UInt64(address) ^ HeapBlock.freeMagic, at: 8)
    }

    /// Sets or clears the "previous block is free" flag, keeping size and in-use bit.
    func setPreviousFree(_ previousFree: Bool) {
        let value = word(at: 0)
        setWord(previousFree ? value | HeapBlock.previousFreeFlag : value & ~HeapBlock.previousFreeFlag, at: 0)
    }

    /// Next block in the same free list (address, 0 for none); free blocks only.
    var nextFree: UInt {
        get { UInt(word(at: 16)) }
        nonmutating set { setWord(UInt64(newValue), at: 16) }
    }

    /// Previous block in the same free list (address, 0 for none); free blocks only.
    var previousFree: UInt {
        get { UInt(word(at: 24)) }
        nonmutating set { setWord(UInt64(newValue), at: 24) }
    }
}

/// The 16-byte header at the start of every region: regions form a singly linked list.
struct HeapRegion {
    /// Address of the region header.
    let address: UInt
    /// Bytes taken by the region header.
    static let headerSize = 16
    /// Bytes taken by the end sentinel.
    static let sentinelSize = 16

    private var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: address)! }

    /// The next region's header address, 0 for the last.
    var next: UInt {
        get { UInt(raw.load(fromByteOffset: 0, as: UInt64.self)) }
        nonmutating set { raw.storeBytes(of: UInt64(newValue), toByteOffset: 0, as: UInt64.self) }
    }

    /// One past the region's end sentinel.
    var end: UInt {
        get { UInt(raw.load(fromByteOffset: 8, as: UInt64.self)) }
        nonmutating set { raw.storeBytes(of: UInt64(newValue), toByteOffset: 8, as: UInt64.self) }
    }

    /// The first block.
    var firstBlock: HeapBlock { HeapBlock(address: address + UInt(HeapRegion.headerSize)) }
    /// The end sentinel.
    var sentinel: HeapBlock { HeapBlock(address: end - UInt(HeapRegion.sentinelSize)) }
    /// Whether `payload` lies where a block's payload can be.
    func containsPayload(_ payload: UInt) -> Bool {
        payload >= firstBlock.payload && payload < sentinel.address
    }
}
