/// Secret random numbers for the network core's keys: virtio-rng when QEMU offers it, else RDRAND, else timing jitter.
import PCI
import Paging
import Virtio

/// Where the kernel gets the secrets TCP needs (RFC 6528 ISNs, SYN cookies, hash keys), in
/// order of preference:
///
/// 1. **virtio-rng** (virtio 1.2 §5.4), when the machine has one (`make run` adds
///    `-device virtio-rng-pci`): bytes from the host's /dev/urandom.
/// 2. **RDRAND** (CPUID.01H:ECX bit 30), when the CPU model has it (`-cpu max`, or a host CPU
///    under KVM). QEMU's default TCG model does not.
/// 3. **Timing jitter**: the timestamp counter read around many short waits, folded. Weak: an
///    attacker who can reproduce our boot timing could narrow it down.
///
/// Built once by the boot CPU (`discover`), which logs the source, and passed to whoever needs
/// secrets; a virtio-rng that stops answering is given up (logged) for the next source.
struct Entropy {
    /// Where secrets come from.
    enum Source {
        case virtioRNG, randomInstruction, timingJitter

        /// For the boot log and `/metrics`.
        var name: StaticString {
            switch self {
            case .virtioRNG: "virtio-rng"
            case .randomInstruction: "RDRAND"
            case .timingJitter: "timing jitter"
            }
        }
    }

    /// The source the next secret comes from.
    private(set) var source: Source
    /// The entropy device, while it answers.
    private var device: VirtioEntropy<MemoryMappedVirtioTransport>?
    /// One DMA page the device writes secrets into.
    private var page = PhysicalAddress(0)
    /// How many times to poll for the device's answer: QEMU answers from its main loop within
    /// microseconds, so this many pauses (about a second under TCG) mean it never will.
    private static let pollLimit = 20_000_000

    /// Whether the CPU offers RDRAND — Intel SDM vol 2A, CPUID leaf 01H, ECX bit 30.
    static var hasRandomInstruction: Bool { CPUIDResult(leaf: 1).ecx & (1 << 30) != 0 }

    /// The best source without a device.
    private static var instructionOrJitter: Source { hasRandomInstruction ? .randomInstruction : .timingJitter }

    /// Whether `function` is a virtio entropy device (transitional or modern ID, §4.1.2.1).
    static func isVirtioRNG(_ function: PCIFunction) -> Bool {
        typealias Device = VirtioEntropy<MemoryMappedVirtioTransport>
        return function.vendorID == VirtioPCIDevice.vendorID
            && (function.deviceID == Device.transitionalDeviceID || function.deviceID == Device.modernDeviceID)
    }

    /// Finds the best source (after PCI enumeration, on the boot CPU) and logs it.
    static func discover() -> Entropy {
        var entropy = Entropy(source: instructionOrJitter)
        if let function = PCIBus.find(isVirtioRNG), let opened = openDevice(function) {
            entropy.device = opened.device
            entropy.page = opened.page
            entropy.source = .virtioRNG
        }
        switch entropy.source {
        case .virtioRNG: Log.info("entropy: secrets from virtio-rng (the host's random source)")
        case .randomInstruction: Log.info("entropy: secrets from RDRAND (no virtio-rng device)")
        case .timingJitter: Log.warning("entropy: secrets from timing jitter only (no virtio-rng device, no RDRAND): weak keys")
        }
        return entropy
    }

    /// Sets up the virtio-rng at `function` and the DMA page it answers into; nil (with a
    /// warning that says why) when it cannot be.
    private static func openDevice(_ function: PCIFunction) -> (device: VirtioEntropy<MemoryMappedVirtioTransport>, page: PhysicalAddress)? {
        let address = function.address
        let transport: MemoryMappedVirtioTransport
        do throws(VirtioPCIError) {
            (transport, _) = try MemoryMappedVirtioTransport.open(function)
        } catch {
            Log.warning("entropy: virtio-rng at \(address.bus):\(address.device).\(address.function) has no usable virtio 1.x registers")
            return nil
        }
        guard let page = PhysicalMemory.allocate(count: 1),
              let device = try? VirtioEntropy(initializer: VirtioDeviceInitializer(transport: transport), allocate: { bytes in
                  guard let ring = PhysicalMemory.allocate(count: Page.count(covering: bytes)) else { return nil }
                  return (ring.pointer, ring)
              }) else {
            Log.warning("entropy: virtio-rng at \(address.bus):\(address.device).\(address.function) could not be set up")
            return nil
        }
        return (device, page)
    }

    /// A 64-bit secret from the current source.
    mutating func secret() -> UInt64 {
        if source == .virtioRNG {
            if let value = deviceSecret() { return value }
            device = nil
            source = Self.instructionOrJitter
            Log.warning("entropy: virtio-rng stopped answering; secrets from \(source.name) from now on")
        }
        if source == .randomInstruction {
            var value: UInt64 = 0
            // Intel recommends ten attempts before concluding the generator failed.
            for _ in 0..<10 where read_random(&value) == 1 { return value }
        }
        return Self.timingJitter()
    }

    /// Eight bytes from the device, or nil when it did not give all eight. A short answer is
    /// retried (§5.4.6.2 allows it); no answer at all gives the device up (its buffer stays
    /// the device's: the page is never reused).
    private mutating func deviceSecret() -> UInt64? {
        guard var queue = device else { return nil }
        defer { device = queue }
        let target = page.pointer
        for _ in 0..<4 {
            guard let written = queue.fill(physicalAddress: page, length: 8, pollLimit: Self.pollLimit, pause: { Processor.relax() }) else {
                return nil
            }
            if written == 8 { return target.load(as: UInt64.self) }
        }
        return nil
    }

    /// Folds 256 timestamp readings, each after a short, data-dependent wait, with a
    /// SplitMix64-style finalizer (each step multiplies, so every reading spreads over all bits).
    private static func timingJitter() -> UInt64 {
        var state = Processor.timestamp()
        for round in 0..<256 {
            var spins = Int(state & 0x3F) + 1
            while spins > 0 { Processor.relax(); spins -= 1 }
            state ^= Processor.timestamp() &+ UInt64(round)
            state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
            state ^= state >> 31
        }
        return state
    }
}
