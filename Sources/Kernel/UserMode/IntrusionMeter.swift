/// The intrusion meter: per CPU, how often the kernel got in the way of what ran there.
import Scheduling
import Synchronization

/// One line per online CPU: interrupts (of which exceptions, IPIs, timer), system calls, time
/// in ring 3 and in the kernel while a program ran, and time running the network stack in the
/// kernel (symmetric mode; 0 on a dedicated network core, whose loop is not "in the kernel").
/// An application CPU served through channels by a dedicated network core should show no
/// interrupts and no system calls growing under load.
enum IntrusionMeter {
    /// The UDP port where the network core answers any datagram with the meter as text.
    static let port: UInt16 = 9100

    static func print() {
        Console.write(line: "intrusion meter (cpu: interrupts exceptions ipis timer syscalls user-ms kernel-ms net-ms program):")
        forEachLine { Console.write(line: Message(stringInterpolation: $0)) }
    }

    /// The meter as text lines (a header line, then one line per CPU, each ending in "\n"),
    /// written into `buffer`; returns the length (lines that do not fit are left out).
    static func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var length = 0
        func append(_ text: TextBuffer) {
            guard length + text.count + 1 <= buffer.count else { return }
            text.forEachByte { buffer[length] = $0; length += 1 }
            buffer[length] = UInt8(ascii: "\n")
            length += 1
        }
        append(Message("cpu interrupts exceptions ipis timer syscalls user-ms kernel-ms net-ms program").text)
        forEachLine { append($0) }
        return length
    }

    private static func forEachLine(_ body: (TextBuffer) -> Void) {
        for index in 0..<Kernel.onlineCPUs {
            let block = CPU.blockPointer(index)
            // Relaxed loads: statistics, read while their CPUs keep counting.
            var line = TextBuffer()
            line.appendInterpolation(Message("""
                  cpu\(index): \(block.pointee.interruptCount.load(ordering: .relaxed)) \
                \(block.pointee.exceptionCount.load(ordering: .relaxed)) \
                \(block.pointee.interprocessorInterruptCount.load(ordering: .relaxed)) \
                \(block.pointee.timerInterruptCount.load(ordering: .relaxed)) \
                \(block.pointee.systemCallCount.load(ordering: .relaxed)) \
                \(block.pointee.userNanoseconds.load(ordering: .relaxed) / 1_000_000) \
                \(block.pointee.kernelNanoseconds.load(ordering: .relaxed) / 1_000_000) \
                \(block.pointee.networkNanoseconds.load(ordering: .relaxed) / 1_000_000)
                """).text)
            if NetworkCore.isNetworkCPU(index) {
                line.appendLiteral(" [network core]")
            } else if let names = Programs.names(onCPU: index) {
                line.appendLiteral(" ")
                line.appendInterpolation(names)
            }
            body(line)
        }
        // Several programs may share a CPU: each one's share of it.
        Programs.forEachLive { slot, name, cpu in
            guard let account = ProgramTasks.account(slot: slot) else { return }
            var line = TextBuffer()
            line.appendLiteral("  program ")
            line.appendInterpolation(name.text)
            line.appendInterpolation(Message(" (id \(slot), cpu\(cpu)): cpu-ms \(account.cpuNanoseconds / 1_000_000) switches \(account.switchesIn) preempted \(account.preemptions) woken \(account.wakeups)").text)
            body(line)
        }
    }
}
