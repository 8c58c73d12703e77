/// In-kernel self tests (`test=NAME`): each prints one result line and ends QEMU with its status.
///
/// Result line, for people and for Tests/SystemTests:
///     swiglet-test: NAME pass|fail key=value ...
import BootConfiguration
import MemoryManagement
import Paging
import Synchronization

enum SelfTests {
    /// An address no page table maps (far from RAM and from every device window QEMU has).
    static let unmappedAddress: UInt64 = 0xDEAD_0000

    static func run(_ test: SelfTest) -> Never {
        var details = TextBuffer()
        let passed: Bool = switch test {
        case .processors: processors(&details)
        case .pageFault: fault(.pageFault, &details)
        case .invalidOpcode: fault(.invalidOpcode, &details)
        case .stackOverflow: fault(.stackOverflow, &details)
        case .heapStress: heapStress(&details)
        case .clock: clock(&details)
        case .interprocessorInterrupts: interprocessorInterrupts(&details)
        case .memoryFunctions: memoryFunctions(&details)
        }
        Console.write(line: "swiglet-test: \(test.name) \(passed ? "pass" : "fail") \(details)")
        if passed { QEMUDebugExit.pass() } else { QEMUDebugExit.fail() }
    }

    private static var applicationProcessors: Int { Kernel.onlineCPUs - 1 }

    /// Every listed CPU came online, and every application processor does a job on request.
    private static func processors(_ details: inout TextBuffer) -> Bool {
        let listed = CPU.count
        let answered = ProcessorWork.run(.ping, expected: applicationProcessors).completed
        details.appendInterpolation(Message("listed=\(listed) online=\(Kernel.onlineCPUs) answered=\(answered + 1)").text)
        return Kernel.onlineCPUs == listed && answered == applicationProcessors
    }

    /// One application processor faults on purpose; the report must name the right vector and
    /// address, that CPU must stop, and every other CPU must go on working.
    private static func fault(_ job: ProcessorJob, _ details: inout TextBuffer) -> Bool {
        let target = Kernel.options.faultCPU ?? (Kernel.onlineCPUs - 1)
        guard Kernel.onlineCPUs >= 2, target >= 1, target < Kernel.onlineCPUs else {
            details.appendInterpolation(Message("reason=needs-an-application-cpu cpus=\(Kernel.onlineCPUs) fault-cpu=\(target)").text)
            return false
        }
        if job == .pageFault && KernelAddressSpace.translate(unmappedAddress) != nil {
            details.appendInterpolation(Message("reason=test-address-is-mapped").text)
            return false
        }
        // Hand out the job without waiting for completion: the target never completes it.
        _ = ProcessorWork.run(job, onlyCPU: target, expected: 1, timeout: 0)
        let deadline = MonotonicClock.nanosecondsSinceBoot + 5_000_000_000
        while CPU.state(of: target) != .stopped && MonotonicClock.nanosecondsSinceBoot < deadline { Processor.relax() }
        let block = CPU.blockPointer(target)
        let stopped = CPU.state(of: target) == .stopped
        let rightVector: Bool
        let rightAddress: Bool
        switch job {
        case .pageFault:
            rightVector = block.pointee.faultVector == UInt64(ExceptionVector.pageFault.rawValue)
            rightAddress = block.pointee.faultAddress == unmappedAddress
        case .invalidOpcode:
            rightVector = block.pointee.faultVector == UInt64(ExceptionVector.invalidOpcode.rawValue)
            rightAddress = block.pointee.faultInstruction == raise_invalid_opcode_address()
        default:
            // The #PF on the guard page cannot push its frame onto the overflowed stack, so the
            // CPU raises a double fault, which runs on its own IST stack. CR2 is in the guard page.
            let guardPage = block.pointee.kernelStackTop - UInt64(ApplicationProcessors.kernelStackBytes) - Page.size64
            rightVector = block.pointee.faultVector == UInt64(ExceptionVector.doubleFault.rawValue)
            rightAddress = block.pointee.faultAddress >= guardPage && block.pointee.faultAddress < guardPage + Page.size64
        }

        // The others go on: every other application processor still answers, and this CPU's
        // clock still advances.
        let others = applicationProcessors - 1
        let before = MonotonicClock.nanosecondsSinceBoot
        let answered = others > 0 ? ProcessorWork.run(.ping, expected: others).completed : 0
        MonotonicClock.spin(nanoseconds: 1_000_000)
        let clockMoved = MonotonicClock.nanosecondsSinceBoot > before
        details.appendInterpolation(Message("""
            cpu=\(target) stopped=\(stopped) vector=\(block.pointee.faultVector) \
            address=\(hex: job == .invalidOpcode ? block.pointee.faultInstruction : block.pointee.faultAddress) \
            others-answered=\(answered)/\(others)
            """).text)
        return stopped && rightVector && rightAddress && answered == others && clockMoved
    }

    /// Uses 512 bytes of stack per call until the guard page stops it. Not a tail call: the
    /// result is used after the recursive call returns.
    @inline(never)
    static func recurseForever(depth: Int) -> Int {
        // The bound is never reached (the stack runs out first); it keeps the compiler's
        // infinite-recursion check satisfied.
        if depth == Int.max { return 0 }
        var frame = InlineArray<64, Int>(repeating: depth)
        frame[depth & 63] = recurseForever(depth: depth + 1)
        return frame[(depth + 1) & 63] &+ frame[0]
    }

    /// boot/memory.asm's functions against their definitions (`MemoryFunctionsTest`).
    private static func memoryFunctions(_ details: inout TextBuffer) -> Bool {
        let result = MemoryFunctionsTest.run()
        details.appendInterpolation(Message("lengths=\(MemoryFunctionsTest.lengths.count) failures=\(result.failures)").text)
        if let first = result.first { details.appendInterpolation(Message(" first=\(first)").text) }
        return result.failures == 0
    }

    static func touchUnmappedMemory() {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(unmappedAddress))!.pointee = 0x5157_1E7
    }

    /// Allocation from every CPU at once. Passes when no CPU saw corrupted memory, the heap's
    /// structure is intact, every byte came back (in use before = after), and the heap served
    /// far more bytes than it holds — which it can only do by reusing freed memory.
    private static func heapStress(_ details: inout TextBuffer) -> Bool {
        guard let before = KernelHeap.statistics else { return false }
        bytesServed.store(0, ordering: .relaxed)
        let rounds = 3
        var failures = 0
        for _ in 0..<rounds {
            // The application processors and this CPU stress the heap at the same time.
            let started = ProcessorWork.startHeapStressOnOthers()
            if !heapStressRound(seed: 0x5EED) { failures += 1 }
            let result = ProcessorWork.waitForJob(expected: started)
            failures += result.failed + (started - result.completed)
        }
        guard let after = KernelHeap.statistics else { return false }
        let served = bytesServed.load(ordering: .acquiring)
        let valid = KernelHeap.validate()
        details.appendInterpolation(Message("""
            cpus=\(Kernel.onlineCPUs) served=\(bytes: served) in-use-before=\(before.bytesInUse) \
            in-use-after=\(after.bytesInUse) heap=\(bytes: UInt64(after.regionBytes)) valid=\(valid) failures=\(failures)
            """).text)
        return failures == 0 && valid && after.bytesInUse == before.bytesInUse
            && served > 4 * UInt64(after.regionBytes)
    }

    /// Total bytes handed out by all CPUs during heapStress (relaxed adds, acquire read after
    /// the job's completion counter, which orders them).
    static let bytesServed = Atomic<UInt64>(0)

    /// One CPU's share: 64 slots, each randomly allocated (16 B to 16 KiB, alignment up to
    /// 4 KiB) or freed; every allocation is stamped and checked before it is freed.
    static func heapStressRound(seed: UInt64) -> Bool {
        var random = seed | 1
        func next() -> UInt64 { random ^= random << 13; random ^= random >> 7; random ^= random << 17; return random }
        var pointers = InlineArray<64, UInt>(repeating: 0)
        var sizes = InlineArray<64, Int>(repeating: 0)
        var served: UInt64 = 0
        var ok = true
        let stamp = UInt8(truncatingIfNeeded: CPU.currentIndex &+ 0xA0)
        for _ in 0..<4000 {
            let slot = Int(next() % 64)
            if pointers[slot] != 0 {
                let pointer = UnsafeMutableRawPointer(bitPattern: pointers[slot])!
                let size = sizes[slot]
                if pointer.load(as: UInt8.self) != stamp || pointer.load(fromByteOffset: size / 2, as: UInt8.self) != stamp
                    || pointer.load(fromByteOffset: size - 1, as: UInt8.self) != stamp { ok = false }
                KernelHeap.free(pointer)
                pointers[slot] = 0
            } else {
                let size = 16 + Int(next() % (next() % 4 == 0 ? 16384 : 512))
                let alignment = 1 << Int(next() % 13)
                guard let pointer = KernelHeap.allocate(byteCount: size, alignment: max(alignment, 16)) else { ok = false; continue }
                if UInt(bitPattern: pointer) % UInt(max(alignment, 16)) != 0 { ok = false }
                pointer.initializeMemory(as: UInt8.self, repeating: stamp, count: size)
                pointers[slot] = UInt(bitPattern: pointer)
                sizes[slot] = size
                served += UInt64(size)
            }
        }
        for slot in 0..<64 where pointers[slot] != 0 { KernelHeap.free(UnsafeMutableRawPointer(bitPattern: pointers[slot])!) }
        // Swift's own allocations go through posix_memalign/free too: an array round trip.
        let array = [UInt64](repeating: seed, count: 1000)
        if array.reduce(0, &+) != seed &* 1000 { ok = false }
        bytesServed.wrappingAdd(served, ordering: .relaxed)
        return ok
    }

    /// The clock against the CMOS clock (3 seconds), the APIC timer against the clock, and
    /// every CPU's clock against the boot CPU's.
    private static func clock(_ details: inout TextBuffer) -> Bool {
        // Wait for a seconds edge, then time three more.
        var second = RealTimeClock.seconds()
        while RealTimeClock.seconds() == second { Processor.relax() }
        second = RealTimeClock.seconds()
        let start = MonotonicClock.nanosecondsSinceBoot
        for _ in 0..<3 {
            while RealTimeClock.seconds() == second { Processor.relax() }
            second = RealTimeClock.seconds()
        }
        let rtcNanoseconds = MonotonicClock.nanosecondsSinceBoot - start
        let rtcPermille = rtcNanoseconds / 3_000_000

        // A one-shot APIC timer of 100 ms, waited for with HLT.
        let ticksBefore = CPU.current.pointee.timerInterruptCount.load(ordering: .relaxed)
        let timerStart = MonotonicClock.nanosecondsSinceBoot
        LocalAPIC.armOneShot(nanoseconds: 100_000_000)
        while CPU.current.pointee.timerInterruptCount.load(ordering: .relaxed) == ticksBefore {
            interrupts_disable()
            if CPU.current.pointee.timerInterruptCount.load(ordering: .relaxed) == ticksBefore { interrupts_enable_and_halt() }
            else { interrupts_enable() }
        }
        let timerPermille = (MonotonicClock.nanosecondsSinceBoot - timerStart) / 100_000

        // Every CPU reads a time not behind this one.
        ProcessorWork.referenceTime.store(MonotonicClock.nanosecondsSinceBoot, ordering: .releasing)
        let result = ProcessorWork.run(.clockCheck, expected: applicationProcessors)
        let everyCPU = result.completed == applicationProcessors && result.failed == 0

        details.appendInterpolation(Message("""
            rtc-3s-permille=\(rtcPermille) apic-timer-permille=\(timerPermille) \
            tsc-mhz=\(MonotonicClock.timestampFrequency / 1_000_000) cpus-monotonic=\(result.completed + 1)/\(Kernel.onlineCPUs)
            """).text)
        // Tolerance ±10%: the CMOS edge is only as sharp as our polling, and TCG's timing is
        // the host's, shared with other work on a busy machine.
        return (900...1100).contains(rtcPermille) && (900...1100).contains(timerPermille) && everyCPU
    }

    /// A wake-up IPI to each application processor raises its IPI count.
    private static func interprocessorInterrupts(_ details: inout TextBuffer) -> Bool {
        var delivered = 0
        for index in 1..<Kernel.onlineCPUs {
            let block = CPU.blockPointer(index)
            let before = block.pointee.interprocessorInterruptCount.load(ordering: .relaxed)
            LocalAPIC.sendWakeUp(to: block.pointee.apicID)
            let deadline = MonotonicClock.nanosecondsSinceBoot + 1_000_000_000
            while block.pointee.interprocessorInterruptCount.load(ordering: .relaxed) == before
                    && MonotonicClock.nanosecondsSinceBoot < deadline { Processor.relax() }
            if block.pointee.interprocessorInterruptCount.load(ordering: .relaxed) != before { delivered += 1 }
        }
        details.appendInterpolation(Message("delivered=\(delivered)/\(applicationProcessors)").text)
        return delivered == applicationProcessors
    }
}

@_extern(c, "raise_invalid_opcode_address") func raise_invalid_opcode_address() -> UInt64
