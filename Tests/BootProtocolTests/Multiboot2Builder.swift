// Builds Multiboot2 boot information blobs byte by byte for tests.

import Foundation
import TestSupport

/// Builds boot information as GRUB lays it out — Multiboot2 spec §3.6.1: total_size, reserved,
/// then tags each padded to 8 bytes, then an end tag.
struct Multiboot2Builder {
    private(set) var tags: [[UInt8]] = []

    /// Adds a tag (header computed from the payload).
    mutating func add(type: UInt32, payload: [UInt8]) {
        var tag: [UInt8] = []
        tag.appendLittleEndian(type)
        tag.appendLittleEndian(UInt32(8 + payload.count))
        tag += payload
        tags.append(tag)
    }

    /// Adds a tag with an explicit (possibly lying) size field.
    mutating func add(type: UInt32, size: UInt32, payload: [UInt8]) {
        var tag: [UInt8] = []
        tag.appendLittleEndian(type)
        tag.appendLittleEndian(size)
        tag += payload
        tags.append(tag)
    }

    mutating func addString(type: UInt32, _ text: String) {
        add(type: type, payload: ascii(text) + [0])
    }

    mutating func addMemoryMap(_ entries: [(UInt64, UInt64, UInt32)], entrySize: UInt32 = 24) {
        var payload: [UInt8] = []
        payload.appendLittleEndian(entrySize)
        payload.appendLittleEndian(UInt32(0))
        for (base, length, type) in entries {
            var entry: [UInt8] = []
            entry.appendLittleEndian(base)
            entry.appendLittleEndian(length)
            entry.appendLittleEndian(type)
            entry.appendLittleEndian(UInt32(0))
            while entry.count < Int(entrySize) { entry.append(0xEE) }
            payload += entry.prefix(Int(entrySize))
        }
        add(type: 6, payload: payload)
    }

    mutating func addModule(start: UInt32, end: UInt32, commandLine: String) {
        var payload: [UInt8] = []
        payload.appendLittleEndian(start)
        payload.appendLittleEndian(end)
        payload += ascii(commandLine) + [0]
        add(type: 3, payload: payload)
    }

    /// The blob; `endTag: false` leaves the end tag out.
    func build(endTag: Bool = true) -> [UInt8] {
        var blob: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]
        for tag in tags {
            blob += tag
            blob.pad(toMultipleOf: 8)
        }
        if endTag {
            blob.appendLittleEndian(UInt32(0))
            blob.appendLittleEndian(UInt32(8))
        }
        blob.storeLittleEndian(UInt32(blob.count), at: 0)
        return blob
    }
}

/// An ACPI 1.0 RSDP (20 bytes) with a valid checksum.
func sampleOldRootPointer(rsdt: UInt32 = 0x07FE_14D5) -> [UInt8] {
    var bytes = ascii("RSD PTR ") + [0] + ascii("BOCHS ") + [0]
    bytes.appendLittleEndian(rsdt)
    bytes[8] = 0 &- bytes.reduce(0, &+)
    return bytes
}

/// An ACPI 2.0 RSDP (36 bytes) with valid checksums.
func sampleNewRootPointer(xsdt: UInt64 = 0x07FE_1600) -> [UInt8] {
    var bytes = ascii("RSD PTR ") + [0] + ascii("BOCHS ") + [2]
    bytes.appendLittleEndian(UInt32(0x07FE_14D5))
    bytes.appendLittleEndian(UInt32(36))
    bytes.appendLittleEndian(xsdt)
    bytes += [0, 0, 0, 0]
    bytes[8] = 0 &- bytes[0..<20].reduce(0, &+)
    bytes[32] = 0 &- bytes.reduce(0, &+)
    return bytes
}

/// The memory map QEMU's SeaBIOS reports for 128 MiB, as GRUB passes it on.
let qemuMemoryMap: [(UInt64, UInt64, UInt32)] = [
    (0x0, 0x9_FC00, 1),
    (0x9_FC00, 0x400, 2),
    (0xF_0000, 0x1_0000, 2),
    (0x10_0000, 0x7EE_0000, 1),
    (0x7FE_0000, 0x2_0000, 2),
    (0xFFFC_0000, 0x4_0000, 2),
]

/// Boot information shaped like GRUB 2.06's under QEMU: command line, name, module, basic
/// memory, memory map, both RSDP copies, and an unknown tag.
func sampleInformation(newRootPointer: Bool = true) -> [UInt8] {
    var builder = Multiboot2Builder()
    builder.addString(type: 1, "console=serial smp=4")
    builder.addString(type: 2, "GRUB 2.06")
    builder.addModule(start: 0x20_0000, end: 0x20_1000, commandLine: "initrd")
    var basic: [UInt8] = []
    basic.appendLittleEndian(UInt32(639))
    basic.appendLittleEndian(UInt32(129_920))
    builder.add(type: 4, payload: basic)
    builder.addMemoryMap(qemuMemoryMap)
    builder.add(type: 99, payload: [1, 2, 3])  // unknown, odd size: exercises padding
    builder.add(type: 14, payload: sampleOldRootPointer())
    if newRootPointer { builder.add(type: 15, payload: sampleNewRootPointer()) }
    var loadBase: [UInt8] = []
    loadBase.appendLittleEndian(UInt32(0x10_0000))
    builder.add(type: 21, payload: loadBase)
    return builder.build()
}
