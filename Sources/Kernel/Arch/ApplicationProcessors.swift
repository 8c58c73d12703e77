/// Starting the other CPUs: INIT-SIPI-SIPI through the real-mode trampoline at 0x8000.
import Paging
import Synchronization

/// Brings up application processors one at a time — Intel SDM vol 3A §8.4.4.1 (the MP
/// initialization sequence) — and runs each into `application_processor_entry`.
enum ApplicationProcessors {
    static let kernelStackBytes = 64 * 1024
    static let interruptStackBytes = 16 * 1024

    /// The trampoline's parameter block offsets (boot/trampoline.asm).
    private enum Parameter: UInt64 {
        case pageTable = 8, stackTop = 16, entry = 24, argument = 32
    }

    /// Starts every CPU in `apicIDs` after the first (the boot CPU); returns how many came up.
    static func startAll(apicIDs: [UInt32], layout: KernelLayout) -> Int {
        guard apicIDs.count > 1 else { return 1 }
        let trampoline = UnsafeMutableRawPointer(bitPattern: UInt(KernelAddressSpace.trampolineAddress))!
        trampoline.copyMemory(from: UnsafeRawPointer(bitPattern: UInt(layout.trampolineImage.start))!,
                              byteCount: Int(layout.trampolineImage.length))
        var online = 1
        for index in 1..<min(apicIDs.count, CPU.maximumCount) {
            if start(index: index, apicID: apicIDs[index], trampoline: trampoline) { online += 1 }
        }
        if apicIDs.count > CPU.maximumCount {
            Log.warning("smp: \(apicIDs.count) CPUs listed, only \(CPU.maximumCount) supported")
        }
        return online
    }

    private static func start(index: Int, apicID: UInt32, trampoline: UnsafeMutableRawPointer) -> Bool {
        let block = CPU.blockPointer(index)
        guard let kernelStack = KernelStacks.allocate(byteCount: kernelStackBytes),
              let doubleFaultStack = KernelStacks.allocate(byteCount: interruptStackBytes),
              let nmiStack = KernelStacks.allocate(byteCount: interruptStackBytes),
              let machineCheckStack = KernelStacks.allocate(byteCount: interruptStackBytes),
              let tables = PhysicalMemory.allocate(count: Page.count(covering: DescriptorTables.byteCount)) else {
            Log.error("smp: out of memory preparing cpu\(index)")
            return false
        }
        block.pointee.selfAddress = UInt64(UInt(bitPattern: block))
        block.pointee.index = index
        block.pointee.apicID = apicID
        block.pointee.kernelStackTop = kernelStack
        block.pointee.doubleFaultStackTop = doubleFaultStack
        block.pointee.nonMaskableInterruptStackTop = nmiStack
        block.pointee.machineCheckStackTop = machineCheckStack
        block.pointee.descriptorTables = tables.rawValue
        // Relaxed is enough here: the SIPI below is the point after which the AP runs, and the
        // AP's first accesses happen after the APIC write that sends it.
        block.pointee.state.store(CPUState.starting.rawValue, ordering: .relaxed)

        trampoline.storeBytes(of: KernelAddressSpace.root, toByteOffset: Int(Parameter.pageTable.rawValue), as: UInt64.self)
        trampoline.storeBytes(of: kernelStack, toByteOffset: Int(Parameter.stackTop.rawValue), as: UInt64.self)
        trampoline.storeBytes(of: application_processor_entry_address(), toByteOffset: Int(Parameter.entry.rawValue), as: UInt64.self)
        trampoline.storeBytes(of: UInt64(index), toByteOffset: Int(Parameter.argument.rawValue), as: UInt64.self)

        // INIT (assert, then de-assert), wait 10 ms, then SIPI twice with 200 us between.
        LocalAPIC.send(.init(vector: 0, deliveryMode: .initialize, destination: apicID, assert: true, levelTriggered: true))
        LocalAPIC.send(.init(vector: 0, deliveryMode: .initialize, destination: apicID, assert: false, levelTriggered: true))
        MonotonicClock.spin(nanoseconds: 10_000_000)
        let startupVector = UInt8(KernelAddressSpace.trampolineAddress >> 12)
        for _ in 0..<2 {
            LocalAPIC.send(.init(vector: startupVector, deliveryMode: .startup, destination: apicID))
            MonotonicClock.spin(nanoseconds: 200_000)
            if CPU.state(of: index) != .starting { break }
        }
        // Wait for the CPU to say it is online. Generous: under TCG a CPU can take a while.
        let deadline = MonotonicClock.nanosecondsSinceBoot + 2_000_000_000
        while CPU.state(of: index) == .starting && MonotonicClock.nanosecondsSinceBoot < deadline { Processor.relax() }
        guard CPU.state(of: index) == .online else {
            Log.error("smp: cpu\(index) (apic \(apicID)) did not start")
            return false
        }
        return true
    }
}

@_extern(c, "application_processor_entry_address") func application_processor_entry_address() -> UInt64

/// Where each application processor arrives from the trampoline, on its own kernel stack.
@_cdecl("application_processor_entry")
func applicationProcessorEntry(_ index: UInt64) -> Never {
    let block = CPU.blockPointer(Int(index))
    CPU.activate(index: Int(index))
    DescriptorTables.install(on: block, stubTable: KernelLayout.current.interruptStubTable)
    LocalAPIC.enableOnThisProcessor()
    LocalAPIC.prepareOneShotTimer()
    SystemCalls.enableOnThisProcessor()
    // Release: the boot CPU, reading `online` with acquire, sees this CPU fully set up.
    block.pointee.state.store(CPUState.online.rawValue, ordering: .releasing)
    Log.info("online, apic \(LocalAPIC.id)")
    ProcessorWork.applicationProcessorLoop()
}
