/// The composition root: kmain wires the portable modules to the hardware, in boot order.
import BootConfiguration
import Paging
import Synchronization
import BootProtocol
import MemoryManagement
import RawBytes

/// What the rest of the kernel may ask about the boot.
enum Kernel {
    nonisolated(unsafe) static var options = BootOptions()
    nonisolated(unsafe) static var platform = Platform()
    nonisolated(unsafe) static var onlineCPUs = 1
}

/// Entered from boot/multiboot2.asm on the boot CPU, in long mode on the boot page tables,
/// with interrupts off. Never returns.
@_cdecl("kmain")
func kmain(magic: UInt32, informationAddress: UInt64) {
    MonotonicClock.markBoot()
    SerialPort.com1.initialize()
    let layout = KernelLayout.current

    // 1. This CPU's block, stacks and tables, so that any fault from here on is reported.
    CPU.initializeBootProcessor(layout: layout)
    let boot = CPU.blockPointer(0)
    boot.pointee.kernelStackTop = layout.bootStack.end
    let interruptStackStride = Page.size64 + layout.bootInterruptStackBytes
    boot.pointee.doubleFaultStackTop = layout.bootInterruptStacks + interruptStackStride
    boot.pointee.nonMaskableInterruptStackTop = layout.bootInterruptStacks + 2 * interruptStackStride
    boot.pointee.machineCheckStackTop = layout.bootInterruptStacks + 3 * interruptStackStride
    boot.pointee.descriptorTables = layout.bootDescriptorTables
    DescriptorTables.install(on: boot, stubTable: layout.interruptStubTable)
    Console.write(line: "swiglet: booting (Embedded Swift kernel, image \(bytes: layout.image.length))")

    // 2. The boot information.
    guard magic == Multiboot2.bootloaderMagic,
          let informationPointer = UnsafeRawPointer(bitPattern: UInt(informationAddress)) else {
        Log.error("boot: not started by a multiboot2 loader (magic \(hex: magic))")
        Processor.stop()
    }
    let informationSize = Int(Multiboot2Information.totalSize(at: informationPointer))
    let information: Multiboot2Information
    do throws(Multiboot2Error) {
        information = try Multiboot2Information(magic: magic, bytes: ByteReader(start: informationPointer, count: informationSize))
    } catch {
        Log.error("boot: the multiboot2 information is malformed; cannot continue")
        Processor.stop()
    }

    // 3. Physical memory and the heap (the modules' frames stay reserved: they are programs).
    var reserved = RangeList()
    reserved.append(PhysicalRange(start: layout.image.start, end: layout.image.end))
    reserved.append(PhysicalRange(start: informationAddress, length: UInt64(informationSize)))
    for module in information.modules { reserved.append(PhysicalRange(start: UInt64(module.start), end: UInt64(module.end))) }
    PhysicalMemory.initialize(information: information, reserved: reserved)
    KernelHeap.initialize()
    SystemCalls.enableOnThisProcessor()

    // 4. Boot options: the boot loader's command line, then fw_cfg's, which wins.
    BootCommandLine.load(information: information, into: &Kernel.options)
    Console.minimumLevel = LogLevel(rawValue: Kernel.options.logLevel.rawValue) ?? .info
    Log.info("memory: \(bytes: PhysicalMemory.usableBytes) usable, \(PhysicalMemory.freeFrameCount) frames free")

    // 5. ACPI, then our own page tables (which map the devices ACPI names).
    // The initial APIC ID from CPUID leaf 1, EBX bits 24-31 (Intel SDM vol 2A, CPUID).
    boot.pointee.apicID = CPUIDResult(leaf: 1).ebx >> 24
    Kernel.platform = Platform.discover(rootPointer: information.acpiRootPointer, bootAPICID: boot.pointee.apicID,
                                        dumpTables: Kernel.options.dumpACPITables)
    KernelAddressSpace.build(regions: information.memoryRegions.lazy.map { PhysicalRange(start: $0.base, length: $0.length) },
                             layout: layout)
    LocalAPIC.base = Kernel.platform.localAPICAddress
    KernelAddressSpace.mapDevice(physical: LocalAPIC.base, byteCount: Page.size64)
    for ioAPIC in Kernel.platform.ioAPICs { KernelAddressSpace.mapDevice(physical: ioAPIC.base, byteCount: Page.size64) }
    Log.info("paging: kernel page tables at \(hex: KernelAddressSpace.root), W^X, guard pages under stacks")

    // 6. Interrupt controllers and time.
    LegacyPIC.remapAndMask()
    LocalAPIC.enableOnThisProcessor()
    for ioAPIC in Kernel.platform.ioAPICs { ioAPIC.maskAll() }
    MonotonicClock.calibrate()
    LocalAPIC.prepareOneShotTimer()
    Log.info("""
        time: TSC \(MonotonicClock.timestampFrequency / 1_000_000) MHz, APIC timer \
        \(LocalAPIC.timerFrequency / 1000) kHz (calibrated against the PIT)
        """)
    Log.info("acpi: \(Kernel.platform.tablesFound) tables (\(Kernel.platform.tablesRejected) rejected), \(Kernel.platform.processorAPICIDs.count) CPUs, \(Kernel.platform.ioAPICs.count) I/O APICs")

    // 7. The other CPUs.
    CPU.count = min(Kernel.platform.processorAPICIDs.count, CPU.maximumCount)
    Kernel.onlineCPUs = ApplicationProcessors.startAll(apicIDs: Kernel.platform.processorAPICIDs, layout: layout)
    interrupts_enable()

    // 8. Devices, and the network core's CPU.
    PCIBus.list()
    Programs.registerModules(information)
    // The secrets' source (virtio-rng, RDRAND or timing jitter), logged; TCP's keys come from it.
    var entropy = Entropy.discover()
    // Where the network runs (net-mode=, net-cpu=/net-cpus=): the NIC first, asked for one
    // queue pair per context the options want; then the plan, refused outright when the
    // options cannot be honoured, since measurements from another placement would mislead.
    let device = NetworkCore.startDevice(
        options: Kernel.options,
        queuePairs: NetworkCore.wantedQueuePairs(options: Kernel.options, onlineCPUs: Kernel.onlineCPUs))
    let queuePairs = device?.pairs.count ?? 1
    let placement: NetworkPlacement
    switch NetworkPlacement.plan(options: Kernel.options, onlineCPUs: Kernel.onlineCPUs, queuePairs: queuePairs) {
    case .success(let planned):
        placement = planned
    case .failure(let error):
        refuseToBoot(error)
    }
    let symmetric = placement.mode == .symmetric
    if let device { NetworkCore.prepare(device: device, options: Kernel.options, placement: placement, entropy: &entropy) }
    let networkUp = device != nil
    let networkCPUs = symmetric || !networkUp ? [] : placement.contexts.map { $0.cpu }
    if networkUp && Kernel.options.selfTest != nil && networkCPUs.contains(0) {
        Log.warning("net: a self test runs on cpu0, so the network core does not start (use net-cpu=N)")
    }

    Log.info("shell: type help on this console (c alone shows the network counters)")
    Console.write(line: """
        swiglet: ready cpus=\(Kernel.onlineCPUs) memory=\(PhysicalMemory.usableBytes >> 20)MiB \
        net=\(networkUp ? "up" : "off") net-mode=\(placement.mode.name) \
        \(symmetric ? "net-irq-cpu" : "net-cpu")=\(placement.contexts.isEmpty ? -1 : placement.contexts[0].cpu) \
        net-cpus=\(cpuList(placement)) queues=\(networkUp ? queuePairs : 0) boot=\(seconds: MonotonicClock.nanosecondsSinceBoot)s
        """)

    if networkUp && symmetric { NetworkCore.startSymmetric() }
    if networkUp && !symmetric { NetworkCore.assign(placement: placement) }
    if let test = Kernel.options.selfTest {
        for (index, cpu) in networkCPUs.enumerated() where cpu > 0 {
            _ = ProcessorWork.run(.networkCore, onlyCPU: cpu, argument: index, expected: 1)
        }
        SelfTests.run(test)
    }
    // Programs first: their channels must all exist before the network cores start serving.
    startPrograms(placement: placement)
    for (index, cpu) in networkCPUs.enumerated() where cpu > 0 {
        _ = ProcessorWork.run(.networkCore, onlyCPU: cpu, argument: index, expected: 1, timeout: 1_000_000_000)
    }
    if let index = networkCPUs.firstIndex(of: 0) { NetworkCore.run(context: index) }
    if networkUp && symmetric { NetworkCore.symmetricIdleLoop() }
    // The boot CPU has nothing else to do: it reads the console (unless a network core on
    // another CPU does), waking every 10 ms to look.
    let readsConsole = networkCPUs.isEmpty
    while true {
        if readsConsole && ConsoleShell.poll() { IntrusionMeter.print() }
        interrupts_disable()
        if readsConsole { LocalAPIC.armOneShot(nanoseconds: 10_000_000) }
        interrupts_enable_and_halt()
    }
}

/// The CPUs that run the contexts, as the ready line names them: `1+2` (network cores, or in
/// symmetric mode the CPUs that take the queues' interrupts).
private func cpuList(_ placement: NetworkPlacement) -> TextBuffer {
    var text = TextBuffer()
    for (position, context) in placement.contexts.enumerated() {
        if position > 0 { text.appendLiteral("+") }
        text.appendInterpolation(context.cpu)
    }
    if placement.contexts.isEmpty { text.appendLiteral("-1") }
    return text
}

/// Logs why the boot options' network placement cannot be honoured and ends the machine with
/// a failure status (QEMU's debug-exit device; a machine without one halts).
private func refuseToBoot(_ error: NetworkPlacementError) -> Never {
    switch error {
    case .cpuNotOnline(let cpu):
        Log.error("boot: refusing the network placement: \(error.message) (cpu\(cpu); \(Kernel.onlineCPUs) CPUs online)")
    case .moreNetworkCPUsThanQueues(let cpus, let queues):
        Log.error("boot: refusing the network placement: \(error.message) (\(cpus) network CPUs, \(queues) queue pairs)")
    case .networkCPUsInSymmetricMode:
        Log.error("boot: refusing the network placement: \(error.message)")
    }
    QEMUDebugExit.fail()
}

/// Starts the programs the boot options name, or by default the servers of the image — the
/// HTTP server (port 80), TCP echo and UDP echo (port 7) — spread over the CPUs the
/// placement gives programs by default (never a network core, never cpu0, which runs the
/// kernel's own loop): each on the one with the fewest programs so far, so with one
/// application CPU all three share it. UDP echo comes last because the network answers UDP
/// port 7 itself when no program has bound it.
private func startPrograms(placement: NetworkPlacement) {
    ProgramTasks.prepare(cpuCount: Kernel.onlineCPUs, usableBytes: PhysicalMemory.usableBytes,
                         timeSlice: UInt64(Kernel.options.timeSliceMilliseconds) * 1_000_000)
    if let assignments = Kernel.options.programs {
        for assignment in assignments {
            assignment.name.withUnsafeBytes { _ = Programs.launch(name: $0, cpu: assignment.cpu) }
        }
        return
    }
    let defaults: (StaticString, StaticString, StaticString) = ("http", "tcp-echo", "udp-echo")
    var cpus = placement.defaultProgramCPUs.filter { $0 >= 1 }
    if placement.contexts.isEmpty {   // no network: every CPU but the boot CPU
        cpus = Kernel.onlineCPUs > 1 ? Array(1..<Kernel.onlineCPUs) : []
    }
    guard !cpus.isEmpty else {
        Log.info("programs: no application CPU (boot with more CPUs)")
        return
    }
    for index in 0..<3 {
        let name = index == 0 ? defaults.0 : index == 1 ? defaults.1 : defaults.2
        let inImage = name.withUTF8Buffer { Programs.has(name: UnsafeRawBufferPointer($0)) }
        guard inImage else { continue }
        let cpu = Programs.leastLoadedCPU(among: cpus)
        name.withUTF8Buffer { _ = Programs.launch(name: UnsafeRawBufferPointer($0), cpu: cpu) }
    }
}
