// The type field of a Multiboot2 boot information tag.

/// The type of a boot information tag — Multiboot2 spec §3.6.
public struct Multiboot2TagType: RawRepresentable, Equatable, Hashable, Sendable {
    /// The raw `type` field of the tag header.
    public let rawValue: UInt32

    /// Wraps a raw tag type.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// End of the tag list — Multiboot2 spec §3.6.2.
    public static let end = Multiboot2TagType(rawValue: 0)
    /// Boot command line — Multiboot2 spec §3.6.3.
    public static let commandLine = Multiboot2TagType(rawValue: 1)
    /// Bootloader name — Multiboot2 spec §3.6.4.
    public static let bootloaderName = Multiboot2TagType(rawValue: 2)
    /// A boot module — Multiboot2 spec §3.6.5.
    public static let module = Multiboot2TagType(rawValue: 3)
    /// Basic lower/upper memory information — Multiboot2 spec §3.6.6.
    public static let basicMemoryInformation = Multiboot2TagType(rawValue: 4)
    /// BIOS boot device — Multiboot2 spec §3.6.7.
    public static let biosBootDevice = Multiboot2TagType(rawValue: 5)
    /// Memory map — Multiboot2 spec §3.6.8.
    public static let memoryMap = Multiboot2TagType(rawValue: 6)
    /// Framebuffer information — Multiboot2 spec §3.6.12.
    public static let framebuffer = Multiboot2TagType(rawValue: 8)
    /// ELF section headers — Multiboot2 spec §3.6.13.
    public static let elfSections = Multiboot2TagType(rawValue: 9)
    /// Copy of the ACPI 1.0 root system description pointer — Multiboot2 spec §3.6.16.
    public static let acpiOldRootPointer = Multiboot2TagType(rawValue: 14)
    /// Copy of the ACPI 2.0+ root system description pointer — Multiboot2 spec §3.6.17.
    public static let acpiNewRootPointer = Multiboot2TagType(rawValue: 15)
    /// Physical address the image was loaded at — Multiboot2 spec §3.6.20.
    public static let imageLoadBasePhysicalAddress = Multiboot2TagType(rawValue: 21)
}
