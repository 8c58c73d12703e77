/// Tests of the PCI module: CONFIG_ADDRESS encoding, enumeration, capability walks, BAR sizing.
import PCI
import XCTest

/// Four lower-case hex digits.
func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
}

final class PCITests: XCTestCase {
    func testConfigurationAddressEncoding() {
        XCTAssertEqual(PCIAddress(bus: 0, device: 0, function: 0).configurationAddress(offset: 0), 0x8000_0000)
        // bus 1, device 2, function 3, register 0x10: 0x80000000 | 1<<16 | 2<<11 | 3<<8 | 0x10
        XCTAssertEqual(PCIAddress(bus: 1, device: 2, function: 3).configurationAddress(offset: 0x10), 0x8001_1310)
        XCTAssertEqual(PCIAddress(bus: 255, device: 31, function: 7).configurationAddress(offset: 0xFC), 0x80FF_FFFC)
        // The two low bits never reach the port: narrower accesses pick bytes of the dword.
        XCTAssertEqual(PCIAddress(bus: 0, device: 3, function: 0).configurationAddress(offset: 0x3E), 0x8000_183C)
    }

    func testNarrowReadsPickBytesOfTheDword() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x8086, device: 0x100E, classCode: 0x02)
        function.store32(0x4433_2211, at: 0x3C)
        space.add(function, bus: 0, device: 3, function: 0)
        let address = PCIAddress(bus: 0, device: 3, function: 0)
        XCTAssertEqual(space.read16(address, offset: 0x00), 0x8086)
        XCTAssertEqual(space.read16(address, offset: 0x02), 0x100E)
        XCTAssertEqual(space.read8(address, offset: 0x3C), 0x11)
        XCTAssertEqual(space.read8(address, offset: 0x3D), 0x22)
        XCTAssertEqual(space.read8(address, offset: 0x3F), 0x44)
        XCTAssertEqual(space.read16(address, offset: 0x3E), 0x4433)
    }

    /// A machine like QEMU's pc: host bridge, PIIX3 (multi-function: ISA, IDE, ACPI at .3),
    /// VGA, virtio-net, and a device on bus 1; device 5 aliases every function to function 0.
    func makeMachine() -> FakeConfigurationSpace {
        let space = FakeConfigurationSpace()
        space.add(FakeFunction(vendor: 0x8086, device: 0x1237, classCode: 0x06, subclass: 0x00), bus: 0, device: 0, function: 0)
        space.add(FakeFunction(vendor: 0x8086, device: 0x7000, classCode: 0x06, subclass: 0x01, multiFunction: true),
                  bus: 0, device: 1, function: 0)
        space.add(FakeFunction(vendor: 0x8086, device: 0x7010, classCode: 0x01, subclass: 0x01), bus: 0, device: 1, function: 1)
        space.add(FakeFunction(vendor: 0x8086, device: 0x7113, classCode: 0x06, subclass: 0x80), bus: 0, device: 1, function: 3)
        space.add(FakeFunction(vendor: 0x1234, device: 0x1111, classCode: 0x03, subclass: 0x00), bus: 0, device: 2, function: 0)
        let net = FakeFunction(vendor: 0x1AF4, device: 0x1000, classCode: 0x02, subclass: 0x00)
        net.store16(0x1AF4, at: 0x2C)
        net.store16(0x0001, at: 0x2E)
        net.bytes[0x3C] = 11
        net.bytes[0x3D] = 1
        net.bytes[0x08] = 0x00
        space.add(net, bus: 0, device: 3, function: 0)
        space.add(FakeFunction(vendor: 0x8086, device: 0x100E, classCode: 0x02), bus: 0, device: 5, function: 0)
        space.aliasedDevice = (bus: 0, device: 5)
        space.add(FakeFunction(vendor: 0x1B36, device: 0x000D, classCode: 0x0C, subclass: 0x03), bus: 1, device: 0, function: 0)
        // Function 2 of a single-function device: never probed, so never found.
        space.add(FakeFunction(vendor: 0xDEAD, device: 0xBEEF), bus: 0, device: 2, function: 2)
        return space
    }

    func testEnumerationFindsPresentFunctionsOnly() {
        let space = makeMachine()
        var found: [PCIFunction] = []
        enumerateFunctions(space) { found.append($0) }
        let names = found.map { "\($0.address.bus):\($0.address.device).\($0.address.function) \(hex4($0.vendorID)):\(hex4($0.deviceID))" }
        XCTAssertEqual(names, [
            "0:0.0 8086:1237", "0:1.0 8086:7000", "0:1.1 8086:7010", "0:1.3 8086:7113",
            "0:2.0 1234:1111", "0:3.0 1af4:1000", "0:5.0 8086:100e", "1:0.0 1b36:000d",
        ])
        let net = found.first { $0.vendorID == 0x1AF4 }!
        XCTAssertEqual(net.classCode, 0x02)
        XCTAssertEqual(net.subsystemVendorID, 0x1AF4)
        XCTAssertEqual(net.subsystemID, 1)
        XCTAssertEqual(net.interruptLine, 11)
        XCTAssertEqual(net.interruptPin, 1)
        XCTAssertFalse(net.multiFunction)
        XCTAssertTrue(found[1].multiFunction)
        XCTAssertEqual(found[1].headerType, 0)
        // 256 buses × 32 devices probed once each, plus functions 1–7 of the one multi-function
        // device, plus the header reads of present functions — not 256 × 32 × 8.
        XCTAssertLessThan(space.readCount, 256 * 32 + 7 + 8 * 10)
    }

    func testMissingDeviceReadsAsAbsent() {
        let space = makeMachine()
        XCTAssertNil(PCIFunction(space: space, address: PCIAddress(bus: 0, device: 4, function: 0)))
        XCTAssertNotNil(PCIFunction(space: space, address: PCIAddress(bus: 0, device: 3, function: 0)))
    }

    func testCapabilityListWalk() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        function.capabilities([(0x98, 0x11, 0x84), (0x84, 0x09, 0x70), (0x70, 0x09, 0x40), (0x40, 0x05, 0x00)])
        space.add(function, bus: 0, device: 4, function: 0)
        let address = PCIAddress(bus: 0, device: 4, function: 0)
        let walked = CapabilitySequence(space: space, address: address).map { "\($0.id)@\($0.offset)" }
        XCTAssertEqual(walked, ["17@152", "9@132", "9@112", "5@64"])
        XCTAssertTrue(PCIFunction(space: space, address: address)!.statusHasCapabilities)
    }

    func testCapabilityListWithoutStatusBitIsEmpty() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        function.bytes[0x34] = 0x40
        function.bytes[0x40] = 0x09
        space.add(function, bus: 0, device: 4, function: 0)
        let address = PCIAddress(bus: 0, device: 4, function: 0)
        XCTAssertEqual(Array(CapabilitySequence(space: space, address: address)).count, 0)
        XCTAssertFalse(PCIFunction(space: space, address: address)!.statusHasCapabilities)
    }

    func testCapabilityLoopStopsAfterFortyEightEntries() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        function.capabilities([(0x40, 0x09, 0x50), (0x50, 0x05, 0x40)])   // 0x40 → 0x50 → 0x40 …
        space.add(function, bus: 0, device: 4, function: 0)
        let walked = Array(CapabilitySequence(space: space, address: PCIAddress(bus: 0, device: 4, function: 0)))
        XCTAssertEqual(walked.count, 48)
        XCTAssertEqual(walked[0].offset, 0x40)
        XCTAssertEqual(walked[1].offset, 0x50)
        XCTAssertEqual(walked[2].offset, 0x40)
    }

    func testMisalignedAndOutOfRangePointersStopSafely() {
        let space = FakeConfigurationSpace()
        // 0x40 → 0x53 (low bits masked, as §6.7 requires: 0x50) → 0x3D (inside the header): end.
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        function.capabilities([(0x40, 0x09, 0x53), (0x50, 0x05, 0x3D)])
        space.add(function, bus: 0, device: 4, function: 0)
        let walked = Array(CapabilitySequence(space: space, address: PCIAddress(bus: 0, device: 4, function: 0)))
        XCTAssertEqual(walked.map(\.offset), [0x40, 0x50])
        XCTAssertEqual(walked.map(\.id), [0x09, 0x05])

        // A first pointer of 0x02 masks to 0: an empty list.
        let other = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        other.capabilities([])
        other.bytes[0x34] = 0x02
        space.add(other, bus: 0, device: 6, function: 0)
        XCTAssertEqual(Array(CapabilitySequence(space: space, address: PCIAddress(bus: 0, device: 6, function: 0))).count, 0)
    }

    func testBaseAddressRegistersAreDecodedAndSized() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1000, classCode: 0x02)
        function.ioBar(0, port: 0xC040, size: 0x20)
        function.memoryBar32(1, address: 0xFEBF_1000, size: 0x1000)
        // BAR 2 and 3 unused; BAR 4–5 a 64-bit prefetchable BAR above 4 GiB.
        function.memoryBar64(4, address: 0x8_0000_0000, size: 0x4000)
        function.capabilities([])
        function.store16(CommandRegister([.ioSpace, .memorySpace, .busMaster]).rawValue, at: 0x04)
        space.add(function, bus: 0, device: 3, function: 0)
        let address = PCIAddress(bus: 0, device: 3, function: 0)
        let before = function.bytes

        let bars = readBaseAddressRegisters(space, address)
        XCTAssertEqual(bars[0], .io(port: 0xC040, size: 0x20))
        XCTAssertEqual(bars[1], .memory(address: 0xFEBF_1000, size: 0x1000, prefetchable: false, is64Bit: false))
        XCTAssertEqual(bars[2], .unused)
        XCTAssertEqual(bars[3], .unused)
        XCTAssertEqual(bars[4], .memory(address: 0x8_0000_0000, size: 0x4000, prefetchable: true, is64Bit: true))
        XCTAssertEqual(bars[5], .unused)

        // Every probe wrote all ones, decoding was off meanwhile, and everything is restored —
        // including the status register's capability bit (no write-one-to-clear accident).
        XCTAssertEqual(space.writes.filter { $0.value == 0xFFFF_FFFF }.count, 6)
        XCTAssertFalse(space.commandDuringBarWrites.isEmpty)
        XCTAssertTrue(space.commandDuringBarWrites.allSatisfy { $0 & 0x3 == 0 })
        XCTAssertEqual(function.bytes, before)
        XCTAssertEqual(space.readCommand(address), [.ioSpace, .memorySpace, .busMaster])
    }

    func testSixtyFourBitBarInTheLastSlotIsIgnored() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1234, device: 0x5678)
        function.store32(0xE000_0004, at: 0x10 + 4 * 5)
        function.barWritableMask[5] = 0xFFFF_F000
        space.add(function, bus: 0, device: 3, function: 0)
        XCTAssertEqual(readBaseAddressRegisters(space, PCIAddress(bus: 0, device: 3, function: 0))[5], .unused)
    }

    func testCommandWriteLeavesStatusAlone() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1041)
        function.store16(0x8010, at: 0x06)    // capability list + a pending parity error
        space.add(function, bus: 0, device: 3, function: 0)
        let address = PCIAddress(bus: 0, device: 3, function: 0)
        space.writeCommand(address, [.memorySpace, .busMaster, .interruptDisable])
        XCTAssertEqual(space.read16(address, offset: 0x04), 0x0406)
        XCTAssertEqual(space.read16(address, offset: 0x06), 0x8010)
    }

    func testDeviceNames() {
        XCTAssertEqual("\(deviceName(vendor: 0x1AF4, device: 0x1000, classCode: 2, subclass: 0))", "virtio-net")
        XCTAssertEqual("\(deviceName(vendor: 0x1AF4, device: 0x1041, classCode: 2, subclass: 0))", "virtio-net")
        XCTAssertEqual("\(deviceName(vendor: 0x8086, device: 0x7000, classCode: 6, subclass: 1))", "Intel 82371SB PIIX3 ISA")
        XCTAssertEqual("\(deviceName(vendor: 0x8086, device: 0x29C0, classCode: 6, subclass: 0))", "Intel Q35 host bridge")
        XCTAssertEqual("\(deviceName(vendor: 0x1234, device: 0x1111, classCode: 3, subclass: 0))", "VGA")
        XCTAssertEqual("\(deviceName(vendor: 0xABCD, device: 0x0001, classCode: 6, subclass: 0))", "host bridge")
        XCTAssertEqual("\(deviceName(vendor: 0xABCD, device: 0x0001, classCode: 2, subclass: 0))", "network controller")
        XCTAssertEqual("\(deviceName(vendor: 0xABCD, device: 0x0001, classCode: 0xFF, subclass: 0))", "unknown device")
    }
}
