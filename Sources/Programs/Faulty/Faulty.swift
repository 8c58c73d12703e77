// Faulty: a ring-3 program that breaks the rules on purpose, to show the kernel contains it.
import ProgramRuntime

/// The kernel image's first byte (linked at 1 MiB, linker/kernel.ld): mapped in every
/// program's address space, but supervisor-only, so a user-mode read raises #PF with error
/// code 0x5 (present, user) — Intel SDM vol 3A §4.7.
let kernelImageAddress: UInt = 0x10_0000

/// Prints a line, then reads kernel memory. The kernel should report the page fault, stop
/// this program only, and keep running everything else; the line after the read never prints.
/// (The kernel prefixes each console line with the program's name.)
@_cdecl("program_main")
func programMain() -> Int32 {
    System.write("reading kernel memory at ")
    System.write(hex: UInt64(kernelImageAddress))
    System.write(", which must fault\n")
    let kernelByte = UnsafePointer<UInt8>(bitPattern: kernelImageAddress)!.pointee
    System.write("read ")
    System.write(hex: UInt64(kernelByte))
    System.write(" from kernel memory: the kernel did not protect itself\n")
    return 1
}
