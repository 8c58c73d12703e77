/// Short human names for the PCI functions QEMU's pc and q35 machines show, for the boot log.

/// A short name for a function: a known vendor/device pair first, else its class.
public func deviceName(vendor: UInt16, device: UInt16, classCode: UInt8, subclass: UInt8) -> StaticString {
    switch (vendor, device) {
    case (0x8086, 0x1237): return "Intel 440FX host bridge"
    case (0x8086, 0x7000): return "Intel 82371SB PIIX3 ISA"
    case (0x8086, 0x7010): return "Intel 82371SB PIIX3 IDE"
    case (0x8086, 0x7020): return "Intel 82371SB PIIX3 USB"
    case (0x8086, 0x7113): return "Intel 82371AB PIIX4 ACPI"
    case (0x8086, 0x29C0): return "Intel Q35 host bridge"
    case (0x8086, 0x2918): return "Intel ICH9 LPC"
    case (0x8086, 0x2922): return "Intel ICH9 AHCI"
    case (0x8086, 0x2930): return "Intel ICH9 SMBus"
    case (0x8086, 0x100E): return "Intel 82540EM e1000"
    case (0x8086, 0x10D3): return "Intel 82574L e1000e"
    case (0x1234, 0x1111): return "VGA"
    case (0x1B36, 0x000D): return "QEMU xHCI"
    case (0x1AF4, 0x1000), (0x1AF4, 0x1041): return "virtio-net"
    case (0x1AF4, 0x1001), (0x1AF4, 0x1042): return "virtio-blk"
    case (0x1AF4, 0x1002), (0x1AF4, 0x1045): return "virtio-balloon"
    case (0x1AF4, 0x1003), (0x1AF4, 0x1043): return "virtio-console"
    case (0x1AF4, 0x1004), (0x1AF4, 0x1048): return "virtio-scsi"
    case (0x1AF4, 0x1005), (0x1AF4, 0x1044): return "virtio-rng"
    default: break
    }
    // Class names — PCI Code and ID Assignment Specification 1.11 §1.
    switch (classCode, subclass) {
    case (0x01, 0x01): return "IDE controller"
    case (0x01, 0x06): return "SATA controller"
    case (0x01, _): return "storage controller"
    case (0x02, _): return "network controller"
    case (0x03, 0x00): return "VGA"
    case (0x03, _): return "display controller"
    case (0x04, _): return "multimedia controller"
    case (0x05, _): return "memory controller"
    case (0x06, 0x00): return "host bridge"
    case (0x06, 0x01): return "ISA bridge"
    case (0x06, 0x04): return "PCI-PCI bridge"
    case (0x06, _): return "bridge"
    case (0x07, _): return "communication controller"
    case (0x08, _): return "system peripheral"
    case (0x0C, 0x03): return "USB controller"
    case (0x0C, 0x05): return "SMBus controller"
    case (0x0C, _): return "serial bus controller"
    default: return "unknown device"
    }
}
