/// User programs: the modules the boot loader brought, loaded into their own address spaces
/// and run in ring 3 on application CPUs; stopped cleanly when they exit or fault.
import BootConfiguration
import BootProtocol
import Channels
import MemoryManagement
import NetworkContext
import RawBytes
import Synchronization

@_extern(c, "enter_user_mode") func enter_user_mode(_ rip: UInt64, _ rsp: UInt64, _ argument: UInt64)
@_extern(c, "return_to_idle_loop") func return_to_idle_loop(_ stackTop: UInt64)

/// What became of a program.
enum ProgramState: UInt32 {
    case loaded = 1, running, exited, faulted, violatedProtocol
}

/// A program name of at most 31 bytes (checked by `ProgramNameTable`), kept without the heap.
struct ProgramName {
    var bytes = InlineArray<32, UInt8>(repeating: 0)
    var count = 0
    init(_ name: [UInt8]) {
        for byte in name.prefix(ProgramNameTable.maximumLength) {
            bytes[count] = byte
            count += 1
        }
    }
    func matches(_ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count == count else { return false }
        for index in 0..<count where bytes[index] != other[index] { return false }
        return true
    }
    /// As console text.
    var text: TextBuffer {
        var text = TextBuffer()
        for index in 0..<count { text.append(byte: bytes[index]) }
        return text
    }
}

/// One name of the program table: a module the boot loader loaded (a program image, not yet
/// trusted) under one of the names it runs as. Several names may share one module's bytes:
/// each launch copies the image's segments into fresh frames, so the module stays pristine.
struct ProgramModule {
    var name: ProgramName
    var start: UInt64
    var end: UInt64
}

/// A program loaded into an address space, and where it runs.
struct ProgramSlot {
    var name: ProgramName
    var image: LoadedProgram
    var cpu: Int
    var state: ProgramState
    var exitStatus: UInt64 = 0
    /// Its channel: the network context serving it and the channel's number there, if it has one.
    var channel: (context: Int, channel: Int)? = nil
}

enum Programs {
    private static let lock = SpinLock()
    /// The program table: one entry per name, in the boot loader's module order.
    nonisolated(unsafe) private(set) static var modules: [ProgramModule] = []
    nonisolated(unsafe) private(set) static var slots: [ProgramSlot] = []

    /// Builds the program table from the modules (called on the boot CPU once the heap exists;
    /// their frames are already reserved). Each module's command line lists every name it runs
    /// under (`faulty faulty-ud faulty-gp faulty-de`); names that cannot be used are reported
    /// and skipped, and the rest of the table still works.
    static func registerModules(_ information: Multiboot2Information) {
        var table = ProgramNameTable()
        var images: [(start: UInt64, end: UInt64)] = []
        for module in information.modules {
            images.append((UInt64(module.start), UInt64(module.end)))
            table.addModule(commandLine: module.commandLine)
        }
        for rejection in table.rejections {
            let image = images[rejection.module]
            var word = TextBuffer()
            for byte in rejection.word { word.append(byte: (0x21...0x7E).contains(byte) ? byte : UInt8(ascii: "?")) }
            if rejection.cut { word.appendLiteral("...") }
            if rejection.problem == .noName {
                Log.error("programs: module \(rejection.module + 1) at \(hex: image.start): \(rejection.problem.message)")
            } else {
                Log.error("programs: module \(rejection.module + 1) at \(hex: image.start): name '\(word)' \(rejection.problem.message)")
            }
        }
        var names = TextBuffer()
        for entry in table.entries {
            let image = images[entry.module]
            guard image.end > image.start else { continue }
            modules.append(ProgramModule(name: ProgramName(entry.name), start: image.start, end: image.end))
            names.appendInterpolation(modules[modules.count - 1].name.text)
            names.appendLiteral(" ")
        }
        for (index, image) in images.enumerated() where image.end <= image.start {
            Log.error("programs: module \(index + 1) at \(hex: image.start) is empty; ignored")
        }
        if !images.isEmpty {
            Log.info("programs: \(images.count) modules, \(modules.count) names: \(names)")
        }
    }

    /// Whether the program table has a program called `name`.
    static func has(name: UnsafeRawBufferPointer) -> Bool {
        modules.contains { $0.name.matches(name) }
    }

    /// Loads `name` and starts it on application processor `cpu`. Returns whether it started.
    @discardableResult
    static func launch(name: UnsafeRawBufferPointer, cpu: Int) -> Bool {
        guard let module = modules.first(where: { $0.name.matches(name) }) else {
            Log.error("programs: no module named '\(text: ByteReader(name))'")
            return false
        }
        guard cpu >= 1, cpu < Kernel.onlineCPUs, CPU.state(of: cpu) == .online, !NetworkCore.isNetworkCPU(cpu) else {
            Log.error("programs: cannot run \(module.name.text) on cpu\(cpu): not a free application CPU")
            return false
        }
        let busy = lock.withLock { slots.contains { $0.cpu == cpu && ($0.state == .loaded || $0.state == .running) } }
        guard !busy else {
            Log.error("programs: cannot run \(module.name.text) on cpu\(cpu): it already runs a program")
            return false
        }
        let bytes = ByteReader(start: UnsafeRawPointer(bitPattern: UInt(module.start))!, count: Int(module.end - module.start))
        var image: LoadedProgram
        var channelNumber: (context: Int, channel: Int)? = nil
        do throws(ProgramLoadError) {
            image = try ProgramLoader.load(bytes)
            // Its channel to the network context that serves its CPU, when there is a network.
            if let channel = ProgramChannelMemory.create(cpu: cpu) {
                try ProgramLoader.mapChannel(&image, physical: channel.physical, byteCount: channel.byteCount)
                channelNumber = (channel.context, channel.channel)
            }
        } catch {
            Log.error("programs: \(module.name.text) rejected: \(ProgramLoader.describe(error))")
            return false
        }
        let slot = lock.withLock { () -> Int in
            slots.append(ProgramSlot(name: module.name, image: image, cpu: cpu, state: .loaded, channel: channelNumber))
            return slots.count - 1
        }
        Log.info("programs: \(module.name.text) loaded (entry \(hex: image.entryPoint)), starting on cpu\(cpu)")
        let result = ProcessorWork.run(.runProgram, onlyCPU: cpu, argument: slot, expected: 1, timeout: 2_000_000_000)
        return result.completed == 1
    }

    /// Runs program `slot` on the calling application processor. Never returns: the CPU comes
    /// back to its idle loop through `stopCurrent`.
    static func enter(slot: Int) -> Never {
        let block = CPU.current
        let image = lock.withLock { () -> LoadedProgram in
            slots[slot].state = .running
            return slots[slot].image
        }
        block.pointee.runningProgram = slot + 1
        block.pointee.stopRequested.store(0, ordering: .relaxed)
        block.pointee.systemCallStackTop = block.pointee.kernelStackTop
        write_cr3(image.root)
        // The program's GS base, which SWAPGS in enter_user_mode makes current.
        ModelSpecificRegister.kernelGSBase.write(0)
        block.pointee.lastModeSwitch = MonotonicClock.nanosecondsSinceBoot
        // Symmetric mode: no network core serves the channel while the program spins, so it
        // enters the kernel (`wait`) as soon as it has nothing to do.
        let policy: ProgramStartArgument.WaitPolicy = NetworkCore.isSymmetric ? .enterKernel
            : Kernel.options.programsSpin ? .spin : .sleep
        let argument = image.channelAddress == 0 ? 0 : ProgramStartArgument(channelAddress: image.channelAddress, waitPolicy: policy).rawValue
        enter_user_mode(image.entryPoint, image.stackTop, argument)
        Processor.stop()   // not reached
    }

    /// The calling CPU's program has exited: report, switch back to the kernel's page tables,
    /// and return the CPU to its idle loop.
    static func stopCurrent(exitStatus: UInt64) -> Never {
        finish(state: .exited, status: exitStatus)
    }

    /// The network core found the calling CPU's program breaking its channel's ring protocol
    /// and asked (by IPI) for it to be stopped.
    static func stopCurrentForProtocolViolation() -> Never {
        CPU.current.pointee.stopRequested.store(0, ordering: .relaxed)
        finish(state: .violatedProtocol, status: 0)
    }

    /// The calling CPU's program faulted (already reported by the exception handler).
    static func stopCurrentAfterFault(vector: UInt64) -> Never {
        finish(state: .faulted, status: vector)
    }

    private static func finish(state: ProgramState, status: UInt64) -> Never {
        let block = CPU.current
        let slot = block.pointee.runningProgram - 1
        write_cr3(KernelAddressSpace.root)
        block.pointee.runningProgram = 0
        if slot >= 0 {
            let (name, channel) = lock.withLock { () -> (ProgramName, (context: Int, channel: Int)?) in
                slots[slot].state = state
                slots[slot].exitStatus = status
                return (slots[slot].name, slots[slot].channel)
            }
            if let channel { NetworkCore.contexts[channel.context].programEnded(channel: channel.channel) }
            if state == .exited {
                Log.info("programs: \(name.text) exited with status \(status)")
            } else if state == .violatedProtocol {
                Log.error("programs: \(name.text) stopped: its channel broke the ring protocol; the kernel and other programs go on")
            } else {
                Log.error("programs: \(name.text) stopped after exception vector \(status); the kernel and other programs go on")
            }
        }
        return_to_idle_loop(block.pointee.kernelStackTop)
        Processor.stop()   // not reached
    }

    /// The name of the program running on the calling CPU, for reports.
    static var currentName: TextBuffer? {
        let slot = CPU.current.pointee.runningProgram - 1
        guard slot >= 0 else { return nil }
        return lock.withLock { slots[slot].name.text }
    }

    /// The name of the program running on CPU `index`, if any.
    static func name(onCPU index: Int) -> TextBuffer? {
        let slot = CPU.blockPointer(index).pointee.runningProgram - 1
        guard slot >= 0 else { return nil }
        return lock.withLock { slot < slots.count ? slots[slot].name.text : nil }
    }

    /// The `write` system call: `length` bytes at `address`, which must lie in pages mapped for
    /// the program (user pages of its address space); otherwise nothing is read.
    static func writeConsole(address: UInt64, length: UInt64) -> Bool {
        let slot = CPU.current.pointee.runningProgram - 1
        guard slot >= 0, length <= 4096 else { return false }
        let (image, name) = lock.withLock { (slots[slot].image, slots[slot].name) }
        guard ProgramLoader.isUserAccessible(image, address: address, length: length) else { return false }
        var text = name.text
        text.appendLiteral(": ")
        let bytes = UnsafeRawPointer(bitPattern: UInt(address))
        for offset in 0..<Int(length) {
            let byte = bytes?.load(fromByteOffset: offset, as: UInt8.self) ?? 0
            if byte == UInt8(ascii: "\n") { continue }
            text.append(byte: (0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?"))
        }
        Log.info(Message(stringInterpolation: text))
        return true
    }

    /// The `name` system call: the running program's name into [address, address + capacity),
    /// which must be the program's own writable pages. Returns the length, or UInt64.max.
    static func copyName(to address: UInt64, capacity: UInt64) -> UInt64 {
        let slot = CPU.current.pointee.runningProgram - 1
        guard slot >= 0, capacity > 0, capacity <= 4096 else { return UInt64.max }
        let (image, name) = lock.withLock { (slots[slot].image, slots[slot].name) }
        guard ProgramLoader.isUserAccessible(image, address: address, length: capacity, writable: true) else { return UInt64.max }
        let destination = UnsafeMutableRawPointer(bitPattern: UInt(address))!
        let count = min(name.count, Int(capacity))
        for index in 0..<count { destination.storeBytes(of: name.bytes[index], toByteOffset: index, as: UInt8.self) }
        return UInt64(count)
    }

    /// The `wait` system call: halts until the 32-bit word at `address` differs from
    /// `expected`, or `timeout` nanoseconds pass (capped at one second per call). Wake-ups come
    /// from IPIs (the network core's doorbell) or the APIC timer armed here.
    static func wait(address: UInt64, expected: UInt64, timeout: UInt64) -> UInt64 {
        let slot = CPU.current.pointee.runningProgram - 1
        guard slot >= 0, address & 3 == 0 else { return UInt64.max }
        let image = lock.withLock { slots[slot].image }
        guard ProgramLoader.isUserAccessible(image, address: address, length: 4) else { return UInt64.max }
        let word = UnsafeMutablePointer<UInt32>(bitPattern: UInt(address))!
        let block = CPU.current
        let deadline = MonotonicClock.nanosecondsSinceBoot + min(timeout, 1_000_000_000)
        defer { block.pointee.sleeping.store(0, ordering: .relaxed) }
        while MonotonicClock.nanosecondsSinceBoot < deadline {
            // Symmetric mode: a program entering the kernel to wait serves the network first,
            // as a conventional kernel's receive path and timers run on application CPUs.
            NetworkCore.serveInKernel()
            interrupts_disable()
            // Announce the sleep, then look at the word: paired with `Doorbell.ring` (fence
            // between store and load on both sides, so a wake-up cannot fall between them).
            block.pointee.sleeping.store(1, ordering: .relaxed)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if UInt64(UnsafeAtomicWord(word).load()) != expected { interrupts_enable(); return 0 }
            var sleep = deadline - min(deadline, MonotonicClock.nanosecondsSinceBoot) + 1
            if NetworkCore.isSymmetric { sleep = min(sleep, NetworkCore.symmetricTickNanoseconds) }
            LocalAPIC.armOneShot(nanoseconds: sleep)
            // Relaxed loads and adds: this CPU's own statistics (see `CPUBlock`).
            let networkBefore = block.pointee.networkNanoseconds.load(ordering: .relaxed)
            let halted = MonotonicClock.nanosecondsSinceBoot
            interrupts_enable_and_halt()
            let asleep = MonotonicClock.nanosecondsSinceBoot &- halted
            let networkWork = block.pointee.networkNanoseconds.load(ordering: .relaxed) &- networkBefore
            block.pointee.idleNanoseconds.wrappingAdd(asleep &- min(asleep, networkWork), ordering: .relaxed)
        }
        return 1
    }
}

/// The application processor's idle loop as a C symbol, for `return_to_idle_loop`.
@_cdecl("application_processor_idle")
func applicationProcessorIdle() {
    ProcessorWork.applicationProcessorLoop()
}

/// A 32-bit word shared with another CPU, read with acquire ordering (it pairs with the
/// release store that published it, e.g. a ring's tail).
struct UnsafeAtomicWord {
    let pointer: UnsafeMutablePointer<UInt32>
    init(_ pointer: UnsafeMutablePointer<UInt32>) { self.pointer = pointer }
    func load() -> UInt32 {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring)
    }
}
