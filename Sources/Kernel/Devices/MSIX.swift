/// MSI-X in the kernel: switches it on for a PCI function, maps its table, routes entries to (CPU, vector).
import PCI

/// A function's MSI-X table — PCI Local Bus 3.0 §6.8.2 — mapped (identity, uncached) with
/// MSI-X enabled and, until `route` unmasks them, every entry masked.
struct MSIXTable {
    /// The capability the table belongs to.
    let capability: MSIXCapability
    /// The table's first byte: physical and virtual (device memory is identity-mapped).
    let base: UInt64

    /// How many entries the table has (1 to 2048).
    var entryCount: Int { capability.tableEntryCount }

    /// Makes entry `entry` raise `vector` on the CPU whose local APIC ID is `apicID`, then
    /// unmasks it. False, with the entry untouched, when `entry` is outside the table or the
    /// pair cannot be expressed as an x86 message (APIC ID above 255, vector below 16).
    ///
    /// The entry is masked while its address and data change: a message built from a
    /// half-written entry would be undefined (§6.8.3). The table is uncached (UC) memory,
    /// where x86 keeps stores in program order, and volatile keeps the compiler from
    /// reordering them, so the device sees mask, address, data, unmask in that order. An
    /// event that arrived while the entry was masked is held in the pending bit array and
    /// sent on the unmask — none is lost.
    @discardableResult
    func route(entry: Int, apicID: UInt32, vector: UInt8) -> Bool {
        guard entry >= 0, entry < entryCount,
              let message = MessageSignaledInterrupt.x86(destinationAPICID: apicID, vector: vector) else { return false }
        let fields = MSIXTableEntry(message: message)
        let control = DeviceMemory.read32(address(entry, .vectorControl))
        DeviceMemory.write32(address(entry, .vectorControl), MSIXTableEntry.vectorControl(control, masked: true))
        DeviceMemory.write32(address(entry, .messageAddressLow), fields.messageAddressLow)
        DeviceMemory.write32(address(entry, .messageAddressHigh), fields.messageAddressHigh)
        DeviceMemory.write32(address(entry, .messageData), fields.messageData)
        DeviceMemory.write32(address(entry, .vectorControl), MSIXTableEntry.vectorControl(control, masked: false))
        return true
    }

    /// Masks entry `entry` (events are then held as pending, not sent).
    func mask(entry: Int) { setMasked(entry: entry, true) }

    /// Unmasks entry `entry`; only meaningful once `route` has given it an address.
    func unmask(entry: Int) { setMasked(entry: entry, false) }

    private func setMasked(entry: Int, _ masked: Bool) {
        guard entry >= 0, entry < entryCount else { return }
        let control = DeviceMemory.read32(address(entry, .vectorControl))
        DeviceMemory.write32(address(entry, .vectorControl), MSIXTableEntry.vectorControl(control, masked: masked))
    }

    /// Where a field of entry `entry` is — §6.8.2.6 to §6.8.2.9: 16 bytes per entry.
    private func address(_ entry: Int, _ field: MSIXTableEntry.Field) -> UInt64 {
        base + UInt64(MSIXTableEntry.offset(ofEntry: entry) + field.rawValue)
    }
}

/// Turning MSI-X on for PCI functions.
enum MSIX {
    /// Enables MSI-X on `function` and returns its mapped table with every entry masked, or
    /// nil (logged) when the function has no MSI-X capability, the table's BAR is not a
    /// usable memory BAR, or mapping fails.
    ///
    /// `bars` are the function's decoded BARs if the driver already read them. Without them
    /// they are read here, and reading sizes them, which switches memory decoding off for a
    /// moment: pass them once the device is in use.
    ///
    /// Order (PCI Local Bus 3.0 §6.8.3): Enable with Function Mask set — the function stops
    /// using INTx# but cannot send yet —, mask every entry, then clear Function Mask. Entries
    /// stay individually masked until `MSIXTable.route` programs them, so nothing is sent to
    /// an address that was never written. Memory decoding (for the table) and bus mastering
    /// (an MSI is a memory write by the device) are switched on too.
    static func enable(function: PCIFunction, bars knownBARs: BaseAddressRegisters? = nil) -> MSIXTable? {
        let space = PortConfigurationSpace()
        guard let capability = MSIXCapability.find(in: space, at: function.address) else {
            Log.warning("msi-x: \(function.address.bus):\(function.address.device).\(function.address.function) has no MSI-X capability")
            return nil
        }
        let region = capability.table
        let bars = knownBARs ?? readBaseAddressRegisters(space, function.address)
        guard region.hasValidBAR, case .memory(let barBase, let barSize, _, _) = bars[Int(region.bar)], barBase != 0,
              UInt64(region.offset) + capability.tableByteCount <= barSize else {
            Log.warning("msi-x: table in BAR \(region.bar) at offset \(hex: region.offset) is unusable")
            return nil
        }
        let base = barBase + UInt64(region.offset)
        guard KernelAddressSpace.mapDevice(physical: base, byteCount: capability.tableByteCount) else {
            Log.warning("msi-x: cannot map the table at \(hex: base)")
            return nil
        }
        var command = space.readCommand(function.address)
        command.formUnion([.memorySpace, .busMaster])
        space.writeCommand(function.address, command)

        capability.setEnabled(space, true, functionMasked: true)
        let table = MSIXTable(capability: capability, base: base)
        for entry in 0..<table.entryCount { table.mask(entry: entry) }
        capability.setEnabled(space, true, functionMasked: false)
        return table
    }
}
