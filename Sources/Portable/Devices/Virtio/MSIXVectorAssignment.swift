/// Mapping a virtio device's queue and configuration-change events to MSI-X table entries, checked by read-back.

/// Why an event could not be mapped to an MSI-X table entry — virtio 1.2 §4.1.5.1.2.
public enum MSIXVectorAssignmentError: Error, Equatable, Sendable {
    /// The entry is not in the device's MSI-X table (it has `tableEntryCount` entries); the
    /// driver must not even try to map it (§4.1.5.1.2, driver requirements).
    case entryOutsideTable(entry: UInt16, tableEntryCount: Int)
    /// queue_size reads 0 for queue `queue`: the device has no such queue (§4.1.4.3).
    case noSuchQueue(queue: UInt16)
    /// Queue `queue` read back `readBack` (NO_VECTOR when the device could not allocate
    /// what mapping to `requested` needs) instead of `requested`.
    case queueVectorRefused(queue: UInt16, requested: UInt16, readBack: UInt16)
    /// config_msix_vector read back `readBack` instead of `requested`.
    case configurationVectorRefused(requested: UInt16, readBack: UInt16)
}

extension VirtioTransport {
    /// Maps used-buffer notifications of queue `queue` to MSI-X table entry `entry` (or
    /// unmaps them when `entry` is `CommonConfiguration.noVector`) and checks that the device
    /// took it — virtio 1.2 §4.1.5.1.2.
    ///
    /// The device "MUST report mapping failures by returning the NO_VECTOR value" when the
    /// field is read, and the driver "MUST verify success by reading the Vector field value",
    /// hence the read-back.
    ///
    /// When: after `VirtioDeviceInitializer.initialize` (a reset unmaps every event,
    /// §4.1.5.1.2) and before `finish()` — the device uses no queue before DRIVER_OK, so no
    /// notification can reach a stale vector. §4.1.5.1.3 lists the vector write before the
    /// ring addresses and queue_enable; `setUpQueue` writes NO_VECTOR there and enables the
    /// queue, so calling this right after it (still before DRIVER_OK) remaps the queue, which
    /// the spec does not forbid and QEMU honours. Mappings take effect while MSI-X is enabled
    /// in the PCI capability (§4.1.5.1.2), so enable MSI-X first. `queue_select` is left on
    /// `queue`.
    public func assignMSIXVector(queue: UInt16, entry: UInt16, tableEntryCount: Int) throws(MSIXVectorAssignmentError) {
        try checkInsideTable(entry: entry, tableEntryCount: tableEntryCount)
        write16(.queueSelect, queue)
        guard read16(.queueSize) != 0 else { throw .noSuchQueue(queue: queue) }
        write16(.queueMSIXVector, entry)
        let readBack = read16(.queueMSIXVector)
        guard readBack == entry else { throw .queueVectorRefused(queue: queue, requested: entry, readBack: readBack) }
    }

    /// Maps configuration-change notifications to MSI-X table entry `entry` (or unmaps them
    /// with `CommonConfiguration.noVector`) and checks the read-back, as `assignMSIXVector`.
    public func assignConfigurationMSIXVector(entry: UInt16, tableEntryCount: Int) throws(MSIXVectorAssignmentError) {
        try checkInsideTable(entry: entry, tableEntryCount: tableEntryCount)
        write16(.configurationMSIXVector, entry)
        let readBack = read16(.configurationMSIXVector)
        guard readBack == entry else { throw .configurationVectorRefused(requested: entry, readBack: readBack) }
    }

    /// NO_VECTOR is always allowed (it unmaps); anything else must name a table entry.
    private func checkInsideTable(entry: UInt16, tableEntryCount: Int) throws(MSIXVectorAssignmentError) {
        guard entry == CommonConfiguration.noVector || Int(entry) < tableEntryCount else {
            throw .entryOutsideTable(entry: entry, tableEntryCount: tableEntryCount)
        }
    }
}
