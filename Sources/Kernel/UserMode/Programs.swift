/// User programs: the modules the boot loader brought, loaded into their own address spaces
/// and run in ring 3 on application CPUs; stopped cleanly when they exit or fault.
import BootConfiguration
import BootProtocol
import Channels
import MemoryManagement
import NetworkContext
import Paging
import RawBytes
import Scheduling
import Synchronization
import SystemCallABI

@_extern(c, "enter_user_mode") func enter_user_mode(_ rip: UInt64, _ rsp: UInt64, _ argument: UInt64)
@_extern(c, "return_to_idle_loop") func return_to_idle_loop(_ stackTop: UInt64)

/// What became of a program.
enum ProgramState: UInt32 {
    case loaded = 1, running, exited, faulted, violatedProtocol, killed

    /// Placed and not ended.
    var isLive: Bool { self == .loaded || self == .running }
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
    /// The bytes, for `body` (not stored).
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let array = (0..<count).map { bytes[$0] }
        return array.withUnsafeBytes(body)
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
    /// Placed and not ended.
    var isLive: Bool { state.isLive }
    /// Its channel's memory, to free once the context released it and the program is gone.
    var channelMemory: ProgramChannelMemory.Allocation? = nil
    /// The context released its channel (`channelReleased`).
    var channelReleased = false
    /// Ended and off its CPU: its frames and page tables were given back.
    var memoryReturned = false
    /// Everything it held is back: the slot may be reused.
    var isReclaimed: Bool { memoryReturned && (channelMemory == nil || channelReleased) }
}

enum Programs {
    private static let lock = SpinLock()
    /// The program table: one entry per name, in the boot loader's module order.
    nonisolated(unsafe) private(set) static var modules: [ProgramModule] = []
    nonisolated(unsafe) private(set) static var slots: [ProgramSlot] = []
    /// Channels of programs that never started (their channel could not be mapped), until
    /// their context releases them.
    nonisolated(unsafe) private static var orphanedChannels: [ProgramChannelMemory.Allocation] = []

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

    /// Whether programs may run on `cpu`: an online application CPU (never cpu0, which runs
    /// the kernel's own loop, nor a dedicated network core).
    static func mayRun(onCPU cpu: Int) -> Bool {
        cpu >= 1 && cpu < Kernel.onlineCPUs && CPU.state(of: cpu) == .online && !NetworkCore.isNetworkCPU(cpu)
    }

    /// The application CPU with the fewest programs (the lowest number on a tie); nil when
    /// there is none.
    static func leastLoadedCPU(among candidates: [Int]? = nil) -> Int? {
        let cpus = candidates ?? Array(1..<max(Kernel.onlineCPUs, 1)).filter { mayRun(onCPU: $0) }
        return Scheduling.leastLoadedCPU(loads: cpus.map { (cpu: $0, load: ProgramTasks.load(of: $0)) })
    }

    /// Loads `name` and starts it on application processor `cpu` (nil: the least-loaded one),
    /// beside the programs already there. Returns its slot, or nil (the reason logged).
    @discardableResult
    static func launch(name: UnsafeRawBufferPointer, cpu wanted: Int?) -> Int? {
        guard let module = modules.first(where: { $0.name.matches(name) }) else {
            Log.error("programs: no module named '\(text: ByteReader(name))'")
            return nil
        }
        guard let cpu = wanted ?? leastLoadedCPU() else {
            Log.error("programs: cannot run \(module.name.text): no application CPU")
            return nil
        }
        guard mayRun(onCPU: cpu) else {
            Log.error("programs: cannot run \(module.name.text) on cpu\(cpu): not an application CPU")
            return nil
        }
        guard lock.withLock({ slots.count < ProgramTasks.capacity || slots.contains { $0.isReclaimed } }) else {
            Log.error("programs: cannot run \(module.name.text): \(ProgramTasks.capacity) programs is the most this memory holds")
            return nil
        }
        let bytes = ByteReader(start: UnsafeRawPointer(bitPattern: UInt(module.start))!, count: Int(module.end - module.start))
        var image: LoadedProgram
        do throws(ProgramLoadError) { image = try ProgramLoader.load(bytes) } catch {
            Log.error("programs: \(module.name.text) rejected: \(ProgramLoader.describe(error))")
            return nil
        }
        // Its channel to the network context that serves its CPU, when there is a network.
        let channel = ProgramChannelMemory.create(cpu: cpu)
        if let channel {
            do throws(ProgramLoadError) {
                try ProgramLoader.mapChannel(&image, physical: channel.shared, byteCount: channel.sharedFrames * Page.size)
            } catch {
                Log.error("programs: \(module.name.text) rejected: \(ProgramLoader.describe(error))")
                ProgramLoader.release(image)
                // The context has the channel already: let it release it like an ended program's.
                NetworkCore.contexts[channel.context].programEnded(channel: channel.channel)
                lock.withLock { orphanedChannels.append(channel) }
                return nil
            }
        } else if !NetworkCore.contexts.isEmpty {
            Log.warning("programs: \(module.name.text) runs without a channel: no memory or no channel number left")
        }
        let entry = ProgramSlot(name: module.name, image: image, cpu: cpu, state: .loaded,
                                channel: channel.map { ($0.context, $0.channel) }, channelMemory: channel)
        let slot = lock.withLock { () -> Int in
            // An ended program's slot whose memory is all back is reused.
            if let free = slots.firstIndex(where: { $0.isReclaimed }) {
                slots[free] = entry
                return free
            }
            slots.append(entry)
            return slots.count - 1
        }
        if let channel { ProgramTasks.setProgram(slot, context: channel.context, channel: channel.channel) }
        Log.info("programs: \(module.name.text) loaded (entry \(hex: image.entryPoint)), starting on cpu\(cpu)")
        guard ProgramTasks.start(slot: slot, root: image.root, cpu: cpu) else {
            Log.error("programs: \(module.name.text) not started: out of memory for its kernel stack")
            ended(slot: slot, state: .faulted, status: 0)
            programOffCPU(slot: slot)
            return nil
        }
        return slot
    }

    /// Runs program `slot` on the calling application processor, which the scheduler just
    /// switched to it (its page tables and kernel stack are current). Never returns: it leaves
    /// through `stopCurrent`.
    static func enter(slot: Int) -> Never {
        let block = CPU.current
        let image = lock.withLock { () -> LoadedProgram in
            slots[slot].state = .running
            return slots[slot].image
        }
        // The program's GS base, which SWAPGS in enter_user_mode makes current.
        ModelSpecificRegister.kernelGSBase.write(0)
        block.pointee.lastModeSwitch = MonotonicClock.nanosecondsSinceBoot
        // Symmetric mode: no network core serves the channel while the program spins, so it
        // enters the kernel (`wait`) as soon as it has nothing to do.
        let policy: ProgramStartArgument.WaitPolicy = NetworkCore.isSymmetric ? .enterKernel
            : Kernel.options.programsSpin ? .spin : .sleep
        // A dedicated core that may halt when idle needs its programs' kicks (`ConsumerSleep.swift`).
        let halts = !NetworkCore.isSymmetric && Kernel.options.networkIdle != .poll
        let argument = image.channelAddress == 0 ? 0
            : ProgramStartArgument(channelAddress: image.channelAddress, waitPolicy: policy, networkCoreHalts: halts).rawValue
        enter_user_mode(image.entryPoint, image.stackTop, argument)
        Processor.stop()   // not reached
    }

    /// The calling CPU's program has exited.
    static func stopCurrent(exitStatus: UInt64) -> Never {
        stopCurrent(state: .exited, status: exitStatus)
    }

    /// The calling CPU's program faulted (already reported by the exception handler).
    static func stopCurrentAfterFault(vector: UInt64) -> Never {
        stopCurrent(state: .faulted, status: vector)
    }

    /// A stop was requested for the calling CPU's program while it was in a system call
    /// (`ProgramTasks.requestStop`): it stops as the call returns.
    static func stopCurrentAsRequested() -> Never {
        let slot = CPU.current.pointee.runningProgram - 1
        let reason = slot >= 0 ? ProgramTasks.context(slot).pointee.stopReason ?? .killed : .killed
        stopCurrent(state: reason, status: 0)
    }

    /// The calling CPU's program ends (`state` says why): report it, then the CPU runs its
    /// next program or its idle loop.
    static func stopCurrent(state: ProgramState, status: UInt64) -> Never {
        interrupts_disable()
        let slot = CPU.current.pointee.runningProgram - 1
        if slot >= 0 { ended(slot: slot, state: state, status: status) }
        ProgramTasks.leaveCurrent()
    }

    /// Records and reports that program `slot` ended, and tells its network context, which
    /// releases its ports and resets its connections.
    static func ended(slot: Int, state: ProgramState, status: UInt64) {
        let (name, channel) = lock.withLock { () -> (ProgramName, (context: Int, channel: Int)?) in
            slots[slot].state = state
            slots[slot].exitStatus = status
            return (slots[slot].name, slots[slot].channel)
        }
        if let channel {
            ProgramTasks.setProgram(nil, context: channel.context, channel: channel.channel)
            NetworkCore.contexts[channel.context].programEnded(channel: channel.channel)
        }
        switch state {
        case .exited:
            Log.info("programs: \(name.text) exited with status \(status)")
        case .violatedProtocol:
            Log.error("programs: \(name.text) stopped: its channel broke the ring protocol; the kernel and other programs go on")
        case .killed:
            Log.info("programs: \(name.text) killed")
        default:
            Log.error("programs: \(name.text) stopped after exception vector \(status); the kernel and other programs go on")
        }
    }

    /// Program `slot` ended and no CPU runs on its page tables any more: its frames and
    /// tables go back now, its channel's memory too if its context already released it.
    static func programOffCPU(slot: Int) {
        let (image, channel) = lock.withLock { () -> (LoadedProgram?, ProgramChannelMemory.Allocation?) in
            guard !slots[slot].isLive, !slots[slot].memoryReturned else { return (nil, nil) }
            slots[slot].memoryReturned = true
            return (slots[slot].image, slots[slot].channelReleased ? slots[slot].channelMemory : nil)
        }
        if let image { ProgramLoader.release(image) }
        if let channel { ProgramChannelMemory.free(channel) }
    }

    /// Context `context` released channel `channel` (its program ended or broke the protocol):
    /// its final counts go to the log (the network core's record of what the program asked,
    /// which tests check instead of the program's own words), and its memory goes back once
    /// the program is off its CPU too.
    static func channelReleased(context: Int, channel: Int, counters: ChannelCounters) {
        let name = lock.withLock { () -> ProgramName? in
            slots.first { $0.channelMemory?.context == context && $0.channelMemory?.channel == channel && !$0.channelReleased }?.name
        }
        var errors = TextBuffer()
        var raw: UInt8 = 1
        while Int(raw) <= ChannelError.count {
            if let error = ChannelError(rawValue: raw), counters[error: error] > 0 {
                errors.appendInterpolation(errors.count == 0 ? " (" : ", ")
                errors.appendInterpolation(error.name)
                errors.appendInterpolation("=")
                errors.appendInterpolation(counters[error: error])
            }
            raw += 1
        }
        if errors.count > 0 { errors.appendInterpolation(")") }
        if let name {
            Log.info("net: channel \(channel) of context \(context) (\(name.text)) released: \(counters.requests) requests, \(counters.completions) completions, \(counters.totalErrors) errors\(errors)")
        } else {
            Log.info("net: channel \(channel) of context \(context) released: \(counters.requests) requests, \(counters.completions) completions, \(counters.totalErrors) errors\(errors)")
        }
        let free = lock.withLock { () -> ProgramChannelMemory.Allocation? in
            if let orphan = orphanedChannels.firstIndex(where: { $0.context == context && $0.channel == channel }) {
                return orphanedChannels.remove(at: orphan)
            }
            guard let index = slots.firstIndex(where: {
                !$0.channelReleased && $0.channelMemory?.context == context && $0.channelMemory?.channel == channel
            }) else { return nil }
            slots[index].channelReleased = true
            return slots[index].memoryReturned ? slots[index].channelMemory : nil
        }
        if let free { ProgramChannelMemory.free(free) }
    }

    /// Stops program `id` (the shell's `kill`): its connections are reset and its memory
    /// returned. Returns nil, or why not.
    static func kill(id: Int) -> StaticString? {
        let target = lock.withLock { () -> (cpu: Int, live: Bool)? in
            guard id >= 0, id < slots.count else { return nil }
            return (slots[id].cpu, slots[id].isLive)
        }
        guard let target else { return "no program with that id" }
        guard target.live else { return "that program has already ended" }
        ProgramTasks.requestStop(slot: id, cpu: target.cpu, reason: .killed)
        return nil
    }

    /// A snapshot of every slot, for `ps`.
    static func snapshot() -> [(id: Int, name: ProgramName, cpu: Int, state: ProgramState, channel: (context: Int, channel: Int)?)] {
        lock.withLock { slots.enumerated().map { ($0.offset, $0.element.name, $0.element.cpu, $0.element.state, $0.element.channel) } }
    }

    /// The network core found the program of channel `channel` of context `context` breaking
    /// its ring protocol: stop it (on its CPU).
    static func stopForProtocolViolation(context: Int, channel: Int) {
        let found = lock.withLock { () -> (slot: Int, cpu: Int)? in
            for (index, slot) in slots.enumerated()
                where slot.isLive && slot.channel?.context == context && slot.channel?.channel == channel {
                return (index, slot.cpu)
            }
            return nil
        }
        if let found { ProgramTasks.requestStop(slot: found.slot, cpu: found.cpu, reason: .violatedProtocol) }
    }

    /// The name of the program running on the calling CPU, for reports.
    static var currentName: TextBuffer? {
        let slot = CPU.current.pointee.runningProgram - 1
        guard slot >= 0 else { return nil }
        return lock.withLock { slots[slot].name.text }
    }

    /// The programs placed on CPU `index` that have not ended, as `a+b+c` (nil: none).
    static func names(onCPU index: Int) -> TextBuffer? {
        lock.withLock {
            var text = TextBuffer()
            var any = false
            for slot in slots where slot.cpu == index && slot.isLive {
                if any { text.appendLiteral("+") }
                text.appendInterpolation(slot.name.text)
                any = true
            }
            return any ? text : nil
        }
    }

    /// Calls `body` with each program that has not ended: its slot, name and CPU (a snapshot
    /// taken under the lock, so `body` may take other locks).
    static func forEachLive(_ body: (_ slot: Int, _ name: ProgramName, _ cpu: Int) -> Void) {
        let live = lock.withLock { slots.enumerated().filter { $0.element.isLive }.map { ($0.offset, $0.element.name, $0.element.cpu) } }
        for (slot, name, cpu) in live { body(slot, name, cpu) }
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
        guard slot >= 0, capacity > 0, capacity <= 4096 else { return SystemCallResult.refused }
        let (image, name) = lock.withLock { (slots[slot].image, slots[slot].name) }
        guard ProgramLoader.isUserAccessible(image, address: address, length: capacity, writable: true) else { return SystemCallResult.refused }
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
        guard slot >= 0, address & 3 == 0 else { return SystemCallResult.refused }
        let image = lock.withLock { slots[slot].image }
        guard ProgramLoader.isUserAccessible(image, address: address, length: 4) else { return SystemCallResult.refused }
        let word = UnsafeMutablePointer<UInt32>(bitPattern: UInt(address))!
        let block = CPU.current
        let deadline = MonotonicClock.nanosecondsSinceBoot + min(timeout, 1_000_000_000)
        // This program's doorbell flag (only its own channel's completions ring it).
        let sleeping = ProgramTasks.sleepingFlag(slot)
        defer { sleeping.pointee.store(0, ordering: .relaxed) }
        while MonotonicClock.nanosecondsSinceBoot < deadline && !ProgramTasks.currentMustStop {
            // Symmetric mode: a program entering the kernel to wait serves the network first,
            // as a conventional kernel's receive path and timers run on application CPUs.
            NetworkCore.serveInKernel()
            interrupts_disable()
            // Announce the sleep, then look at the word: paired with `Doorbell.ring` (fence
            // between store and load on both sides, so a wake-up cannot fall between them).
            sleeping.pointee.store(1, ordering: .relaxed)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if UInt64(UnsafeAtomicWord(word).load()) != expected { interrupts_enable(); return SystemCallResult.woken }
            // Others ready: block and let them run (the doorbell or the deadline wakes this
            // one); otherwise halt the CPU here, as a lone program always did — cheaper than a
            // switch to the idle loop and back.
            if ProgramTasks.othersReady() {
                // The word through the kernel's identity map: a doorbell taken while another
                // program's page tables are loaded must still read this program's word.
                let physical = ProgramLoader.physicalAddress(image, of: address)
                ProgramTasks.blockCurrent(until: deadline, word: physical.flatMap { UnsafeMutablePointer<UInt32>(bitPattern: UInt($0)) },
                                          expected: UInt32(truncatingIfNeeded: expected))
                interrupts_enable()
                continue
            }
            var sleep = deadline - min(deadline, MonotonicClock.nanosecondsSinceBoot) + 1
            if NetworkCore.isSymmetric { sleep = min(sleep, NetworkCore.symmetricTickNanoseconds) }
            // On a shared CPU the timer also serves the blocked programs' timeouts: one timer
            // for the earliest of them and this one (`ProgramTasks.armTimer`).
            ProgramTasks.haltingUntil(MonotonicClock.nanosecondsSinceBoot &+ sleep, orArm: sleep)
            // Relaxed loads and adds: this CPU's own statistics (see `CPUBlock`).
            let networkBefore = block.pointee.networkNanoseconds.load(ordering: .relaxed)
            let halted = MonotonicClock.nanosecondsSinceBoot
            interrupts_enable_and_halt()
            let asleep = MonotonicClock.nanosecondsSinceBoot &- halted
            ProgramTasks.haltingUntil(0, orArm: 0)
            ProgramTasks.currentSlept(asleep)
            let networkWork = block.pointee.networkNanoseconds.load(ordering: .relaxed) &- networkBefore
            block.pointee.idleNanoseconds.wrappingAdd(asleep &- min(asleep, networkWork), ordering: .relaxed)
        }
        ProgramTasks.currentWaitTimedOut()
        return SystemCallResult.timedOut
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
