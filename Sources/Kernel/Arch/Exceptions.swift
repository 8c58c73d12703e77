/// CPU exceptions: report the vector, error code, RIP, CR2 and CPU, then stop that CPU only.
import Synchronization

enum Exceptions {
    /// Reports the exception and stops the faulting CPU; the other CPUs go on. Debug and
    /// breakpoint traps and NMIs are reported and resumed instead.
    static func handle(_ frame: UnsafeMutablePointer<InterruptFrame>) {
        let vectorNumber = frame.pointee.vector
        let vector = ExceptionVector(rawValue: Int(vectorNumber))
        let faultAddress = read_cr2()
        let cpu = CPU.current
        let index = cpu.pointee.index
        let mnemonic: StaticString = vector?.mnemonic ?? "#??"
        let name: StaticString = vector?.name ?? "reserved"

        Console.writeUrgent(line: """
            cpu\(index): exception \(mnemonic) \(name) (vector \(vectorNumber)) error=\(hex: frame.pointee.errorCode) \
            rip=\(hex: frame.pointee.rip) cr2=\(hex: faultAddress)
            """)
        Console.writeUrgent(line: """
            cpu\(index):   rsp=\(hex: frame.pointee.rsp) rbp=\(hex: frame.pointee.rbp) rflags=\(hex: frame.pointee.rflags) \
            cs=\(hex: frame.pointee.cs) \(frame.pointee.fromUserMode ? "user" : "kernel") mode
            """)
        if vector == .pageFault {
            let error = PageFaultError(rawValue: frame.pointee.errorCode)
            Console.writeUrgent(line: """
                cpu\(index):   page fault: \(error.contains(.present) ? "protection violation" : "page not present") on \
                \(error.contains(.instructionFetch) ? "instruction fetch" : error.contains(.write) ? "write" : "read")
                """)
        }

        switch vector {
        case .nonMaskableInterrupt, .breakpoint, .debug:
            return
        default:
            break
        }

        // A program's fault stops the program, not the CPU: the kernel (whose state the
        // program cannot have touched) takes the CPU back for other work.
        if frame.pointee.fromUserMode, let name = Programs.currentName {
            Console.writeUrgent(line: "cpu\(index): program \(name) faulted with \(mnemonic) at rip=\(hex: frame.pointee.rip); stopping it")
            Programs.stopCurrentAfterFault(vector: vectorNumber)
        }

        Console.writeUrgent(line: """
            cpu\(index): stopped. Source line: llvm-symbolizer --obj=images/swiglet.elf \(hex: frame.pointee.rip)
            """)
        cpu.pointee.faultVector = vectorNumber
        cpu.pointee.faultAddress = faultAddress
        cpu.pointee.faultInstruction = frame.pointee.rip
        // Release: whoever reads `stopped` with acquire also sees the fault fields above.
        cpu.pointee.state.store(CPUState.stopped.rawValue, ordering: .releasing)
        Processor.stop()
    }
}
