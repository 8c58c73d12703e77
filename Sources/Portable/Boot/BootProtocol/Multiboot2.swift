// Multiboot2 constants shared by the boot information parser.

/// Constants of the Multiboot2 boot protocol — Multiboot2 spec §3.2 (machine state) and §3.6.
public enum Multiboot2 {
    /// The value a Multiboot2 bootloader leaves in EAX — Multiboot2 spec §3.2.
    public static let bootloaderMagic: UInt32 = 0x36d7_6289

    /// Alignment of the boot information and of every tag in it — Multiboot2 spec §3.6.1.
    public static let tagAlignment = 8

    /// Size of the fixed part at the start of the boot information (total_size, reserved) — §3.6.1.
    public static let informationHeaderSize = 8

    /// Size of the header every tag starts with (type, size) — Multiboot2 spec §3.6.2.
    public static let tagHeaderSize = 8
}
