// Validated Multiboot2 boot information and typed accessors for the tags the kernel uses.

import RawBytes

/// The boot information a Multiboot2 bootloader passes in EBX — Multiboot2 spec §3.6.
///
/// `init` validates the whole structure once (no allocation, usable before the heap exists) and
/// throws on anything malformed, so that the accessors afterwards only walk well-formed tags. The
/// iterators still check every read, so they never read outside the boot information.
public struct Multiboot2Information {
    /// The whole boot information, exactly `total_size` bytes.
    public let bytes: ByteReader

    /// Validates the boot information in `bytes` (which may be longer than `total_size`).
    ///
    /// Throws when: `magic` is wrong; the start is not 8-byte aligned; `total_size` is below 8 or
    /// beyond `bytes`; a tag header runs past `total_size`; a tag's size is below 8 or runs past
    /// `total_size`; an end tag's size is not 8; there is no end tag; a tag the accessors interpret
    /// (module, basic memory information, memory map, image load base) is too short for its fields;
    /// or a memory map's entry_size is below 24 or not a multiple of 8.
    public init(magic: UInt32, bytes: ByteReader) throws(Multiboot2Error) {
        guard magic == Multiboot2.bootloaderMagic else { throw .badMagic(magic) }
        if let base = bytes.baseAddress {
            let address = UInt(bitPattern: base)
            guard address % UInt(Multiboot2.tagAlignment) == 0 else { throw .misaligned(address: address) }
        }
        guard let totalSize = bytes.u32(at: 0), bytes.u32(at: 4) != nil else { throw .truncated }
        guard Int(totalSize) >= Multiboot2.informationHeaderSize,
              let information = bytes.slice(at: 0, count: Int(totalSize))
        else { throw .badTotalSize(totalSize) }

        var offset = Multiboot2.informationHeaderSize
        while true {
            guard offset < information.count else { throw .missingEndTag }
            guard let rawType = information.u32(at: offset),
                  let size = information.u32(at: offset + 4)
            else { throw .truncated }
            guard Int(size) >= Multiboot2.tagHeaderSize,
                  let payload = information.slice(
                      at: offset + Multiboot2.tagHeaderSize, count: Int(size) - Multiboot2.tagHeaderSize)
            else { throw .badTag(type: rawType, offset: offset) }
            let type = Multiboot2TagType(rawValue: rawType)
            if type == .end {
                guard Int(size) == Multiboot2.tagHeaderSize else { throw .badTag(type: rawType, offset: offset) }
                break
            }
            try Self.validatePayload(type: type, payload: payload, offset: offset)
            offset = alignedTagOffset(offset + Int(size))
        }
        self.bytes = information
    }

    /// Reads `total_size` and validates the boot information at `address` (the value of EBX).
    /// `magic` is checked first, so `address` is not read when EAX did not hold the magic value.
    public init(magic: UInt32, address: UnsafeRawPointer) throws(Multiboot2Error) {
        guard magic == Multiboot2.bootloaderMagic else { throw .badMagic(magic) }
        let size = Self.totalSize(at: address)
        try self.init(magic: magic, bytes: ByteReader(start: address, count: Int(size)))
    }

    /// The `total_size` field at the start of boot information at `pointer`, so that the caller
    /// can build a `ByteReader` of the right length — Multiboot2 spec §3.6.1.
    public static func totalSize(at pointer: UnsafeRawPointer) -> UInt32 {
        UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self))
    }

    /// Checks that a tag the accessors interpret is long enough for its fields.
    private static func validatePayload(
        type: Multiboot2TagType, payload: ByteReader, offset: Int
    ) throws(Multiboot2Error) {
        let minimumPayload: Int
        switch type {
        case .module: minimumPayload = ModuleLayout.commandLineOffset
        case .basicMemoryInformation: minimumPayload = BasicMemoryInformation.payloadSize
        case .imageLoadBasePhysicalAddress: minimumPayload = 4
        case .memoryMap: minimumPayload = MemoryMapLayout.entriesOffset
        default: minimumPayload = 0
        }
        guard payload.count >= minimumPayload else { throw .badTag(type: type.rawValue, offset: offset) }
        if type == .memoryMap, let entrySize = payload.u32(at: MemoryMapLayout.entrySizeOffset),
           !MemoryMapLayout.isValid(entrySize: entrySize) {
            throw .badMemoryMapEntrySize(entrySize)
        }
    }

    /// `total_size`: the length of the boot information in bytes.
    public var totalSize: Int { bytes.count }

    /// All tags in order, excluding the end tag.
    public var tags: TagSequence { TagSequence(information: bytes) }

    /// The first tag of `type`, if any.
    public func firstTag(_ type: Multiboot2TagType) -> Multiboot2Tag? {
        for tag in tags where tag.type == type { return tag }
        return nil
    }

    /// The regions of the memory map tag(s) — Multiboot2 spec §3.6.8.
    public var memoryRegions: MemoryRegionSequence { MemoryRegionSequence(tags: tags) }

    /// The boot command line without its trailing NUL — Multiboot2 spec §3.6.3.
    public var commandLine: ByteReader? { firstTag(.commandLine)?.payload.prefixBeforeFirstZeroByte() }

    /// The bootloader's name without its trailing NUL — Multiboot2 spec §3.6.4.
    public var bootloaderName: ByteReader? { firstTag(.bootloaderName)?.payload.prefixBeforeFirstZeroByte() }

    /// The loaded modules — Multiboot2 spec §3.6.5.
    public var modules: ModuleSequence { ModuleSequence(tags: tags) }

    /// The copy of the ACPI root system description pointer: the new (ACPI 2.0+) copy from tag 15
    /// when present, else the old (ACPI 1.0) copy from tag 14 — Multiboot2 spec §3.6.16, §3.6.17.
    public var acpiRootPointer: ByteReader? {
        (firstTag(.acpiNewRootPointer) ?? firstTag(.acpiOldRootPointer))?.payload
    }

    /// The basic memory information tag, if present — Multiboot2 spec §3.6.6.
    public var basicMemoryInformation: BasicMemoryInformation? {
        guard let payload = firstTag(.basicMemoryInformation)?.payload,
              let lower = payload.u32(at: 0), let upper = payload.u32(at: 4)
        else { return nil }
        return BasicMemoryInformation(lowerKilobytes: lower, upperKilobytes: upper)
    }

    /// The physical address the image was loaded at, if the bootloader says — Multiboot2 spec §3.6.20.
    public var imageLoadBasePhysicalAddress: UInt32? {
        firstTag(.imageLoadBasePhysicalAddress)?.payload.u32(at: 0)
    }
}

/// Basic memory information — Multiboot2 spec §3.6.6 (mem_lower, mem_upper).
public struct BasicMemoryInformation: Equatable {
    /// Size of the payload: two u32 fields.
    static let payloadSize = 8
    /// Kilobytes of lower memory, starting at address 0.
    public let lowerKilobytes: UInt32
    /// Kilobytes of upper memory, starting at 1 MiB, up to the first hole.
    public let upperKilobytes: UInt32
}
