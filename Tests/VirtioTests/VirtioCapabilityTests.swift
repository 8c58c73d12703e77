/// Tests of virtio PCI capability parsing against a configuration space laid out like QEMU's
/// virtio-net-pci (transitional, modern structures in BAR 4).
import PCI
import Virtio
import XCTest

final class VirtioCapabilityTests: XCTestCase {
    /// Writes a virtio_pci_cap (virtio 1.2 §4.1.4) at `offset`.
    func virtioCapability(_ function: FakeFunction, at offset: Int, next: UInt8, type: UInt8, bar: UInt8,
                          structureOffset: UInt32, length: UInt32, multiplier: UInt32? = nil) {
        function.bytes[offset] = 0x09
        function.bytes[offset + 1] = next
        function.bytes[offset + 2] = multiplier == nil ? 16 : 20
        function.bytes[offset + 3] = type
        function.bytes[offset + 4] = bar
        function.store32(structureOffset, at: offset + 8)
        function.store32(length, at: offset + 12)
        if let multiplier { function.store32(multiplier, at: offset + 16) }
    }

    /// virtio-net-pci as QEMU 7.2 shows it (`lspci -vv`): capabilities at 0x98 (MSI-X),
    /// 0x84 (PCI config access), 0x70 (notify), 0x60 (device), 0x50 (ISR), 0x40 (common);
    /// BAR 0 legacy I/O, BAR 1 MSI-X table, BAR 4 64-bit prefetchable with the structures.
    func makeVirtioNet() -> (FakeConfigurationSpace, PCIAddress) {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1000, classCode: 0x02)
        function.store16(0x1AF4, at: 0x2C)
        function.store16(0x0001, at: 0x2E)
        function.ioBar(0, port: 0xC040, size: 0x20)
        function.memoryBar32(1, address: 0xFEBD_1000, size: 0x1000)
        function.memoryBar64(4, address: 0xFE00_0000, size: 0x4000)
        function.capabilities([(0x98, 0x11, 0x84)])
        virtioCapability(function, at: 0x84, next: 0x70, type: 5, bar: 0, structureOffset: 0, length: 0, multiplier: 0)
        virtioCapability(function, at: 0x70, next: 0x60, type: 2, bar: 4, structureOffset: 0x3000, length: 0x1000, multiplier: 4)
        virtioCapability(function, at: 0x60, next: 0x50, type: 4, bar: 4, structureOffset: 0x2000, length: 0x1000)
        virtioCapability(function, at: 0x50, next: 0x40, type: 3, bar: 4, structureOffset: 0x1000, length: 0x1000)
        virtioCapability(function, at: 0x40, next: 0x00, type: 1, bar: 4, structureOffset: 0x0000, length: 0x1000)
        let address = PCIAddress(bus: 0, device: 3, function: 0)
        space.add(function, bus: 0, device: 3, function: 0)
        return (space, address)
    }

    func testStructuresOfQEMUVirtioNet() {
        let (space, address) = makeVirtioNet()
        var structures = VirtioPCIStructures()
        var seen: [VirtioPCICapability] = []
        for capability in CapabilitySequence(space: space, address: address) where capability.id == VirtioPCICapability.capabilityID {
            guard let parsed = VirtioPCICapability.parse(capabilityOffset: capability.offset,
                                                         read32: { space.read32(address, offset: $0) }) else { continue }
            seen.append(parsed)
            structures.record(parsed)
        }
        XCTAssertEqual(seen.map(\.type), [.configurationAccess, .notification, .deviceConfiguration, .interruptStatus, .commonConfiguration])
        XCTAssertTrue(structures.isModern)
        XCTAssertEqual(structures.commonConfiguration, VirtioPCICapability(type: .commonConfiguration, bar: 4, offset: 0, length: 0x1000))
        XCTAssertEqual(structures.interruptStatus, VirtioPCICapability(type: .interruptStatus, bar: 4, offset: 0x1000, length: 0x1000))
        XCTAssertEqual(structures.deviceConfiguration, VirtioPCICapability(type: .deviceConfiguration, bar: 4, offset: 0x2000, length: 0x1000))
        let notification = structures.notification!
        XCTAssertEqual(notification, VirtioPCICapability(type: .notification, bar: 4, offset: 0x3000, length: 0x1000,
                                                         notifyOffsetMultiplier: 4))
        // §4.1.4.4: cap.offset + queue_notify_off × notify_off_multiplier.
        XCTAssertEqual(notification.notificationOffset(queueNotifyOffset: 0), 0x3000)
        XCTAssertEqual(notification.notificationOffset(queueNotifyOffset: 1), 0x3004)
        XCTAssertEqual(notification.notificationOffset(queueNotifyOffset: 2), 0x3008)

        // The structures' BAR, sized by the PCI module.
        XCTAssertEqual(readBaseAddressRegisters(space, address)[4],
                       .memory(address: 0xFE00_0000, size: 0x4000, prefetchable: true, is64Bit: true))
    }

    func testMalformedCapabilitiesAreRejected() {
        let (space, address) = makeVirtioNet()
        let function = space.function(address)!
        let read: (UInt8) -> UInt32 = { space.read32(address, offset: $0) }
        // MSI-X is not a virtio capability.
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0x98, read32: read))
        // A notify capability too short to hold its multiplier.
        function.bytes[0x72] = 16
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0x70, read32: read))
        // A reserved BAR number (the driver must ignore it).
        function.bytes[0x44] = 6
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0x40, read32: read))
        // An unknown structure type.
        function.bytes[0x53] = 7
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0x50, read32: read))
        // Misaligned, or too close to the end of configuration space.
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0x61, read32: read))
        XCTAssertNil(VirtioPCICapability.parse(capabilityOffset: 0xF4, read32: read))
        // The first of each type wins.
        var structures = VirtioPCIStructures()
        structures.record(VirtioPCICapability(type: .commonConfiguration, bar: 4, offset: 0, length: 0x1000))
        structures.record(VirtioPCICapability(type: .commonConfiguration, bar: 2, offset: 0, length: 0x1000))
        XCTAssertEqual(structures.commonConfiguration?.bar, 4)
        XCTAssertFalse(structures.isModern)
    }
}
