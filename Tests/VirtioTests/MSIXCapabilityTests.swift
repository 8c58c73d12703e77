/// Tests of MSI-X: capability discovery and decoding, enable/mask writes, table entries, x86 messages, virtio vector mapping.
import PCI
import Virtio
import XCTest

final class MSIXCapabilityTests: XCTestCase {
    let address = PCIAddress(bus: 0, device: 3, function: 0)

    /// virtio-net-pci as QEMU 7.2 shows it with `vectors=3` (`lspci -vv`: "MSI-X: Enable-
    /// Count=3 Masked-, Vector table: BAR=1 offset=00000000, PBA: BAR=1 offset=00000800"),
    /// behind a vendor capability so the walk has to skip one.
    func makeFunction(control: UInt16 = 0x0002, table: UInt32 = 0x0000_0001, pendingBitArray: UInt32 = 0x0000_0801)
        -> (FakeConfigurationSpace, FakeFunction) {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1000, classCode: 0x02)
        function.memoryBar32(1, address: 0xFEBD_1000, size: 0x1000)
        function.capabilities([(0x40, 0x09, 0x98), (0x98, 0x11, 0x00)])
        function.store16(control, at: 0x98 + 2)
        function.store32(table, at: 0x98 + 4)
        function.store32(pendingBitArray, at: 0x98 + 8)
        space.add(function, bus: 0, device: 3, function: 0)
        return (space, function)
    }

    func testFindsAndDecodesTheCapability() {
        let (space, _) = makeFunction()
        let capability = MSIXCapability.find(in: space, at: address)
        XCTAssertEqual(capability?.offset, 0x98)
        XCTAssertEqual(capability?.address, address)
        XCTAssertEqual(capability?.tableEntryCount, 3)          // N − 1 = 2
        XCTAssertEqual(capability?.table, MSIXRegion(bar: 1, offset: 0))
        XCTAssertEqual(capability?.pendingBitArray, MSIXRegion(bar: 1, offset: 0x800))
        XCTAssertEqual(capability?.tableByteCount, 48)
        XCTAssertEqual(capability?.pendingBitArrayByteCount, 8)
        XCTAssertEqual(capability?.control.isEnabled, false)
        XCTAssertEqual(capability?.control.isFunctionMasked, false)
    }

    func testOffsetAndIndicatorFields() {
        // §6.8.2.4: BIR in bits 2:0, a QWORD-aligned offset in bits 31:3.
        XCTAssertEqual(MSIXRegion(offsetAndIndicator: 0x0000_2004), MSIXRegion(bar: 4, offset: 0x2000))
        XCTAssertEqual(MSIXRegion(offsetAndIndicator: 0xFFFF_FFF8), MSIXRegion(bar: 0, offset: 0xFFFF_FFF8))
        XCTAssertTrue(MSIXRegion(offsetAndIndicator: 0x5).hasValidBAR)
        XCTAssertFalse(MSIXRegion(offsetAndIndicator: 0x6).hasValidBAR)
        XCTAssertFalse(MSIXRegion(offsetAndIndicator: 0x7).hasValidBAR)
    }

    func testMessageControlFields() {
        // The largest table (0x7FF + 1 entries); reserved bits 13:11 do not leak into the size.
        var control = MSIXMessageControl(rawValue: 0x3FFF)
        XCTAssertEqual(control.tableEntryCount, 2048)
        XCTAssertFalse(control.isEnabled)
        XCTAssertFalse(control.isFunctionMasked)
        control.isEnabled = true
        XCTAssertEqual(control.rawValue, 0xBFFF)
        control.isFunctionMasked = true
        XCTAssertEqual(control.rawValue, 0xFFFF)
        control.isEnabled = false
        XCTAssertEqual(control.rawValue, 0x7FFF)
        XCTAssertEqual(MSIXMessageControl(rawValue: 0).tableEntryCount, 1)
    }

    func testNoCapabilityWithoutMSIX() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1000)
        function.capabilities([(0x40, 0x09, 0x50), (0x50, 0x05, 0x00)])   // vendor, plain MSI
        space.add(function, bus: 0, device: 3, function: 0)
        XCTAssertNil(MSIXCapability.find(in: space, at: address))
        // No capability list at all.
        space.add(FakeFunction(vendor: 0x8086, device: 0x100E), bus: 0, device: 4, function: 0)
        XCTAssertNil(MSIXCapability.find(in: space, at: PCIAddress(bus: 0, device: 4, function: 0)))
    }

    func testCapabilityRunningPastConfigurationSpaceIsIgnored() {
        let space = FakeConfigurationSpace()
        let function = FakeFunction(vendor: 0x1AF4, device: 0x1000)
        function.capabilities([(0xF8, 0x11, 0x00)])   // needs 12 bytes, only 8 are left
        space.add(function, bus: 0, device: 3, function: 0)
        XCTAssertNil(MSIXCapability.find(in: space, at: address))
    }

    func testEnableAndFunctionMaskWrites() {
        let (space, function) = makeFunction()
        let capability = MSIXCapability.find(in: space, at: address)!
        capability.setEnabled(space, true, functionMasked: true)
        XCTAssertEqual(capability.readControl(space).rawValue, 0xC002)
        capability.setEnabled(space, true, functionMasked: false)
        XCTAssertEqual(capability.readControl(space).rawValue, 0x8002)
        XCTAssertTrue(capability.readControl(space).isEnabled)
        // Whole-dword writes at the capability's start, carrying the read-only ID and next
        // pointer unchanged, so the list still walks.
        XCTAssertEqual(space.writes.map(\.offset), [0x98, 0x98])
        XCTAssertEqual(space.writes.map(\.value), [0xC002_0011, 0x8002_0011])
        XCTAssertEqual(function.bytes[0x98], 0x11)
        XCTAssertEqual(function.bytes[0x99], 0x00)
        XCTAssertEqual(CapabilitySequence(space: space, address: address).map(\.offset), [0x40, 0x98])
        capability.setEnabled(space, false, functionMasked: false)
        XCTAssertEqual(capability.readControl(space).rawValue, 0x0002)
    }

    func testTableEntryLayout() {
        XCTAssertEqual(MSIXTableEntry.byteCount, 16)
        XCTAssertEqual(MSIXTableEntry.offset(ofEntry: 0), 0)
        XCTAssertEqual(MSIXTableEntry.offset(ofEntry: 5), 80)
        XCTAssertEqual(MSIXTableEntry.Field.messageAddressLow.rawValue, 0)
        XCTAssertEqual(MSIXTableEntry.Field.messageAddressHigh.rawValue, 4)
        XCTAssertEqual(MSIXTableEntry.Field.messageData.rawValue, 8)
        XCTAssertEqual(MSIXTableEntry.Field.vectorControl.rawValue, 12)
        let entry = MSIXTableEntry(message: MessageSignaledInterrupt(address: 0x1_2345_6788, data: 0xABCD))
        XCTAssertEqual(entry.messageAddressLow, 0x2345_6788)
        XCTAssertEqual(entry.messageAddressHigh, 0x1)
        XCTAssertEqual(entry.messageData, 0xABCD)
        // Mask is bit 0; the reserved bits 31:1 are kept as read.
        XCTAssertEqual(MSIXTableEntry.vectorControl(0, masked: true), 1)
        XCTAssertEqual(MSIXTableEntry.vectorControl(0xF0, masked: true), 0xF1)
        XCTAssertEqual(MSIXTableEntry.vectorControl(0xF1, masked: false), 0xF0)
        XCTAssertEqual(MSIXTableEntry.vectorControl(1, masked: false), 0)
    }

    func testX86MessageComposition() {
        // APIC ID 0, vector 0x50: 0xFEE00000, fixed, edge, physical, no redirection hint.
        XCTAssertEqual(MessageSignaledInterrupt.x86(destinationAPICID: 0, vector: 0x50),
                       MessageSignaledInterrupt(address: 0xFEE0_0000, data: 0x50))
        // APIC ID 3 goes in bits 19:12.
        XCTAssertEqual(MessageSignaledInterrupt.x86(destinationAPICID: 3, vector: 0x57),
                       MessageSignaledInterrupt(address: 0xFEE0_3000, data: 0x57))
        let highest = MessageSignaledInterrupt.x86(destinationAPICID: 0xFF, vector: 0xFE)!
        XCTAssertEqual(highest.address, 0xFEEF_F000)
        XCTAssertEqual(highest.address & (X86InterruptMessage.redirectionHint | X86InterruptMessage.destinationModeLogical), 0)
        XCTAssertEqual(highest.data & 0x700, 0)                                  // delivery mode fixed
        XCTAssertEqual(highest.data & X86InterruptMessage.triggerModeLevel, 0)   // edge
        XCTAssertEqual(highest.data & X86InterruptMessage.vectorMask, 0xFE)
        // An x2APIC-sized ID does not fit the 8-bit field; vectors 0–15 are illegal (§11.5.2).
        XCTAssertNil(MessageSignaledInterrupt.x86(destinationAPICID: 0x100, vector: 0x50))
        XCTAssertNil(MessageSignaledInterrupt.x86(destinationAPICID: 0, vector: 15))
        XCTAssertNotNil(MessageSignaledInterrupt.x86(destinationAPICID: 0, vector: 16))
    }
}

/// A virtio common configuration that maps queue events to vectors the way QEMU's
/// virtio-pci does: any entry below `allocatableEntries` sticks, anything else reads back
/// NO_VECTOR (as if the device could not allocate it).
final class VectorMappingDevice: VirtioTransport {
    var queueSelect: UInt16 = 0
    var queueVectors: [UInt16]
    var configurationVector = CommonConfiguration.noVector
    var allocatableEntries: UInt16
    var vectorWrites = 0

    init(queueCount: Int, allocatableEntries: UInt16) {
        queueVectors = Array(repeating: CommonConfiguration.noVector, count: queueCount)
        self.allocatableEntries = allocatableEntries
    }

    private func accepted(_ entry: UInt16) -> UInt16 {
        entry < allocatableEntries ? entry : CommonConfiguration.noVector
    }

    func read16(_ register: CommonConfiguration.Register) -> UInt16 {
        switch register {
        case .queueSelect: return queueSelect
        case .queueSize: return Int(queueSelect) < queueVectors.count ? 256 : 0
        case .queueMSIXVector: return Int(queueSelect) < queueVectors.count ? queueVectors[Int(queueSelect)] : CommonConfiguration.noVector
        case .configurationMSIXVector: return configurationVector
        default: fatalError("16-bit read of \(register)")
        }
    }

    func write16(_ register: CommonConfiguration.Register, _ value: UInt16) {
        switch register {
        case .queueSelect: queueSelect = value
        case .queueMSIXVector:
            vectorWrites += 1
            if Int(queueSelect) < queueVectors.count { queueVectors[Int(queueSelect)] = accepted(value) }
        case .configurationMSIXVector:
            vectorWrites += 1
            configurationVector = accepted(value)
        default: fatalError("16-bit write of \(register)")
        }
    }

    func read8(_ register: CommonConfiguration.Register) -> UInt8 { fatalError("8-bit read of \(register)") }
    func read32(_ register: CommonConfiguration.Register) -> UInt32 { fatalError("32-bit read of \(register)") }
    func write8(_ register: CommonConfiguration.Register, _ value: UInt8) { fatalError("8-bit write of \(register)") }
    func write32(_ register: CommonConfiguration.Register, _ value: UInt32) { fatalError("32-bit write of \(register)") }
    func write64(_ register: CommonConfiguration.Register, _ value: UInt64) { fatalError("64-bit write of \(register)") }
    func notify(queue: UInt16, queueNotifyOffset: UInt16) { fatalError("notify") }
    func readDeviceConfiguration8(offset: Int) -> UInt8 { fatalError("device configuration read") }
    func readDeviceConfiguration16(offset: Int) -> UInt16 { fatalError("device configuration read") }
    func readDeviceConfiguration32(offset: Int) -> UInt32 { fatalError("device configuration read") }
}

final class MSIXVectorAssignmentTests: XCTestCase {
    func testQueuesMapToTheirEntries() throws {
        let device = VectorMappingDevice(queueCount: 3, allocatableEntries: 3)
        try device.assignMSIXVector(queue: 0, entry: 1, tableEntryCount: 3)
        try device.assignMSIXVector(queue: 1, entry: 2, tableEntryCount: 3)
        try device.assignConfigurationMSIXVector(entry: 0, tableEntryCount: 3)
        XCTAssertEqual(device.queueVectors, [1, 2, CommonConfiguration.noVector])
        XCTAssertEqual(device.configurationVector, 0)
        XCTAssertEqual(device.queueSelect, 1)   // left on the last queue mapped
        // NO_VECTOR unmaps, whatever the table size.
        try device.assignMSIXVector(queue: 0, entry: CommonConfiguration.noVector, tableEntryCount: 3)
        XCTAssertEqual(device.queueVectors[0], CommonConfiguration.noVector)
    }

    func testRefusedMappingIsReported() {
        // The table has 4 entries but the device can back only 2 of them.
        let device = VectorMappingDevice(queueCount: 2, allocatableEntries: 2)
        XCTAssertThrowsError(try device.assignMSIXVector(queue: 1, entry: 3, tableEntryCount: 4)) { error in
            XCTAssertEqual(error as? MSIXVectorAssignmentError,
                           .queueVectorRefused(queue: 1, requested: 3, readBack: CommonConfiguration.noVector))
        }
        XCTAssertThrowsError(try device.assignConfigurationMSIXVector(entry: 2, tableEntryCount: 4)) { error in
            XCTAssertEqual(error as? MSIXVectorAssignmentError,
                           .configurationVectorRefused(requested: 2, readBack: CommonConfiguration.noVector))
        }
    }

    func testEntriesOutsideTheTableAreNeverWritten() {
        let device = VectorMappingDevice(queueCount: 2, allocatableEntries: 100)
        XCTAssertThrowsError(try device.assignMSIXVector(queue: 0, entry: 3, tableEntryCount: 3)) { error in
            XCTAssertEqual(error as? MSIXVectorAssignmentError, .entryOutsideTable(entry: 3, tableEntryCount: 3))
        }
        XCTAssertThrowsError(try device.assignConfigurationMSIXVector(entry: 7, tableEntryCount: 3))
        XCTAssertEqual(device.vectorWrites, 0)   // §4.1.5.1.2: the driver must not even try
    }

    func testMissingQueueIsReported() {
        let device = VectorMappingDevice(queueCount: 2, allocatableEntries: 3)
        XCTAssertThrowsError(try device.assignMSIXVector(queue: 5, entry: 0, tableEntryCount: 3)) { error in
            XCTAssertEqual(error as? MSIXVectorAssignmentError, .noSuchQueue(queue: 5))
        }
        XCTAssertEqual(device.vectorWrites, 0)
    }
}
