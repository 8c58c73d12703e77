// Faulty: a ring-3 program that breaks the rules on purpose, to show the kernel contains it.
// The fault it makes depends on the name it runs as (the same image is loaded under four names).
import ProgramRuntime

@_extern(c, "fault_divide_by_zero") func fault_divide_by_zero()
@_extern(c, "fault_privileged_instruction") func fault_privileged_instruction()
@_extern(c, "fault_invalid_opcode") func fault_invalid_opcode()

/// The kernel image's first byte (linked at 1 MiB, linker/kernel.ld): mapped in every
/// program's address space, but supervisor-only, so a user-mode read raises #PF with error
/// code 0x5 (present, user) — Intel SDM vol 3A §4.7.
let kernelImageAddress: UInt = 0x10_0000

/// Prints what it is about to do, then does it. `faulty` reads kernel memory (#PF),
/// `faulty-ud` executes UD2 (#UD), `faulty-gp` executes CLI (#GP), `faulty-de` divides by zero
/// (#DE). The kernel should report the fault, stop this program only, and keep running
/// everything else; the line after the fault never prints.
@_cdecl("program_main")
func programMain() -> Int32 {
    let kind = System.runs(as: "faulty-ud") ? 1 : System.runs(as: "faulty-gp") ? 2 : System.runs(as: "faulty-de") ? 3 : 0
    switch kind {
    case 1:
        System.write("executing UD2, which must raise #UD\n")
        fault_invalid_opcode()
    case 2:
        System.write("executing CLI in ring 3, which must raise #GP\n")
        fault_privileged_instruction()
    case 3:
        System.write("dividing by zero, which must raise #DE\n")
        fault_divide_by_zero()
    default:
        System.write("reading kernel memory at ")
        System.write(hex: UInt64(kernelImageAddress))
        System.write(", which must fault\n")
        let kernelByte = UnsafePointer<UInt8>(bitPattern: kernelImageAddress)!.pointee
        System.write("read ")
        System.write(hex: UInt64(kernelByte))
        System.write(" from kernel memory: ")
    }
    System.write("the kernel did not stop this program\n")
    return 1
}
