// The Multiboot2 module tags: typed modules and the sequence that walks them.

import RawBytes

/// A module loaded by the bootloader — Multiboot2 spec §3.6.5 (mod_start, mod_end, string).
public struct BootModule {
    /// Physical address of the first byte of the module.
    public let start: UInt32
    /// Physical address of the first byte after the module.
    public let end: UInt32
    /// The module's command line, without the trailing NUL.
    public let commandLine: ByteReader
}

/// Layout of the module tag payload — Multiboot2 spec §3.6.5.
enum ModuleLayout {
    /// Offset of mod_start in the payload.
    static let startOffset = 0
    /// Offset of mod_end in the payload.
    static let endOffset = 4
    /// Offset of the NUL-terminated command line in the payload.
    static let commandLineOffset = 8
}

/// The modules of every module tag, in order; a tag too short for mod_start and mod_end is
/// rejected by `Multiboot2Information.init` (and skipped here defensively).
public struct ModuleSequence: Sequence {
    /// The tags to search for modules.
    let tags: TagSequence

    /// Walks the module tags without allocating.
    public struct Iterator: IteratorProtocol {
        var tags: TagSequence.Iterator

        /// The next module, or `nil` after the last one.
        public mutating func next() -> BootModule? {
            while let tag = tags.next() {
                guard tag.type == .module,
                      let start = tag.payload.u32(at: ModuleLayout.startOffset),
                      let end = tag.payload.u32(at: ModuleLayout.endOffset),
                      let text = tag.payload.suffix(from: ModuleLayout.commandLineOffset)
                else { continue }
                return BootModule(start: start, end: end, commandLine: text.prefixBeforeFirstZeroByte())
            }
            return nil
        }
    }

    /// An iterator over all modules.
    public func makeIterator() -> Iterator { Iterator(tags: tags.makeIterator()) }
}
