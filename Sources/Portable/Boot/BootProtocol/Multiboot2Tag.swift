// One tag of the Multiboot2 boot information and the sequence that walks them.

import RawBytes

/// One boot information tag: its type and the bytes after its 8-byte header — Multiboot2 spec §3.6.2.
public struct Multiboot2Tag {
    /// The tag's type.
    public let type: Multiboot2TagType
    /// The bytes after the tag header (`size - 8` bytes, padding excluded).
    public let payload: ByteReader
    /// Offset of the tag header from the start of the boot information.
    public let offset: Int
}

/// The tags of validated boot information, in order, excluding the end tag.
///
/// Iteration stops at the end tag, and also (defensively; `Multiboot2Information.init` already
/// rejects such input) at any tag header that is unreadable or whose size is out of range.
public struct TagSequence: Sequence {
    /// The whole boot information, `total_size` bytes.
    let information: ByteReader

    /// Walks the tags one after another without allocating.
    public struct Iterator: IteratorProtocol {
        let information: ByteReader
        var offset: Int = Multiboot2.informationHeaderSize

        /// The next tag, or `nil` at the end tag or at the first malformed tag.
        public mutating func next() -> Multiboot2Tag? {
            guard let rawType = information.u32(at: offset),
                  let size = information.u32(at: offset + 4),
                  rawType != Multiboot2TagType.end.rawValue,
                  Int(size) >= Multiboot2.tagHeaderSize,
                  let payload = information.slice(
                      at: offset + Multiboot2.tagHeaderSize,
                      count: Int(size) - Multiboot2.tagHeaderSize)
            else {
                offset = information.count  // stay finished
                return nil
            }
            let tag = Multiboot2Tag(type: Multiboot2TagType(rawValue: rawType), payload: payload, offset: offset)
            offset = alignedTagOffset(offset + Int(size))
            return tag
        }
    }

    /// An iterator starting at the first tag.
    public func makeIterator() -> Iterator { Iterator(information: information) }
}

/// `offset` rounded up to the 8-byte tag alignment — Multiboot2 spec §3.6.1.
@inline(__always)
func alignedTagOffset(_ offset: Int) -> Int {
    (offset + Multiboot2.tagAlignment - 1) & ~(Multiboot2.tagAlignment - 1)
}
