/// Setting virtio-net up again after it set DEVICE_NEEDS_RESET: reset, the same features, the queues anew in the same memory, DRIVER_OK.
import Network
import Virtio

extension ReceivePath {
    /// Gives the receive queue to the reset device again, empty, and posts every buffer (shown
    /// to the device by `publish` after DRIVER_OK). A packet being gathered is dropped.
    mutating func restart(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>) throws(VirtioError) {
        queue = queue.emptied()
        _ = try initializer.setUpQueue(index: queueIndex, addresses: queue.addresses)
        merged?.abandon()
        gatheredChecksum = .unverified
        postAllBuffers()
    }
}

extension TransmitPath {
    /// Gives the transmit queue to the reset device again, empty; every buffer is free (the
    /// frames that were in flight are lost: TCP retransmits them).
    mutating func restart(_ initializer: VirtioDeviceInitializer<MemoryMappedVirtioTransport>) throws(VirtioError) {
        queue = queue.emptied()
        _ = try initializer.setUpQueue(index: queueIndex, addresses: queue.addresses)
        freeAllBuffers()
    }

    /// Fault injection (the shell's `fault nic`): makes a buffer available whose descriptor
    /// index is out of range (`SplitVirtqueue.injectIndexFault`), which QEMU takes for a broken
    /// driver: it sets DEVICE_NEEDS_RESET and stops the device (virtio 1.2 §2.1.2). Only to
    /// test recovery.
    mutating func breakRingForFaultInjection() {
        queue.injectIndexFault()
        transport.notify(queue: queueIndex, queueNotifyOffset: notifyOffset)
    }
}

enum VirtioNetReset {
    /// §3.1.1 again for a device that set DEVICE_NEEDS_RESET: reset, ACKNOWLEDGE, DRIVER, the
    /// features negotiated at boot (the device must take them all), one queue pair set up
    /// anew in its old memory, DRIVER_OK, receive buffers shown. Only for a device with one
    /// queue pair, run by the context that owns it, between its passes.
    static func recover(transport: MemoryMappedVirtioTransport, features: FeatureSet,
                        receive: inout ReceivePath, transmit: inout TransmitPath) throws(VirtioError) {
        let initializer = VirtioDeviceInitializer(transport: transport)
        do throws(VirtioError) {
            _ = try initializer.initialize(wanted: features, required: features)
            try receive.restart(initializer)
            try transmit.restart(initializer)
            try initializer.finish()
        } catch {
            initializer.fail()
            throw error
        }
        receive.publish()
    }
}
