; The ring-3 runtime of every Swiglet program: its entry point, the system call stubs, and the
; C functions the Embedded Swift runtime needs that Swift cannot write itself. Linked first
; into each program (see linker/program.ld and the Makefile); the rest is Swift in
; Sources/UserSpace/ProgramRuntime.
;
; System call ABI (the kernel side is boot/usermode.asm): RAX = number, arguments in RDI, RSI,
; RDX, R10, result in RAX. SYSCALL overwrites RCX (return RIP) and R11 (RFLAGS), and the kernel
; clears RDX, RSI, RDI and R8-R10 before SYSRET; all are caller-saved in the System V AMD64
; calling convention, so each stub is an ordinary C function. Intel SDM vol 2B (SYSCALL).
; The numbers live in one place, Sources/Portable/System/SystemCallABI, which the kernel and
; the Swift side of this runtime share: the runtime passes them to `system_call` below.
bits 64

; The heap lies between program_heap and program_heap_end, zero pages at the end of the data
; segment that linker/program.ld reserves (its size is the HEAP column of
; Sources/UserSpace/Programs/programs.list).
extern program_heap, program_heap_end
extern program_runtime_initialize, program_runtime_finish, program_main

; The program's entry (e_entry), first in the text segment. The kernel gives RSP (the top of
; the program's stack) and RDI (the start argument: where its channel is, and how to wait;
; ProgramStartArgument); nothing else is set up.
section .text.start progbits alloc exec
global _start
_start:
    xor ebp, ebp                    ; the outermost frame, for debuggers
    and rsp, -16                    ; the System V ABI wants RSP 16-aligned before a call
    mov rbx, rdi                    ; callee-saved: the start argument survives the call below
    ; program_runtime_initialize(heapStart, heapBytes, startArgument)
    lea rdi, [rel program_heap]
    lea rsi, [rel program_heap_end]
    sub rsi, rdi
    mov rdx, rbx
    call program_runtime_initialize
    call program_main               ; Int32 program_main(void)
    mov edi, eax
    call program_runtime_finish     ; flushes the console line and exits; never returns
    ud2

section .text

; uint64 system_call(uint64 number, uint64 a0, uint64 a1, uint64 a2, uint64 a3): every system
; call goes through here (Sources/UserSpace/ProgramRuntime/SystemCalls.swift). C passes the
; fourth argument in RCX, which SYSCALL overwrites: hence R10. Exit never comes back.
global system_call
system_call:
    mov rax, rdi
    mov rdi, rsi
    mov rsi, rdx
    mov rdx, rcx
    mov r10, r8
    syscall
    ret

; Deliberate faults for the `faulty` program, instructions Swift does not emit on its own:
; a real DIV by zero (Swift's own division traps with UD2 before dividing) and a privileged
; instruction (CLI at CPL 3 raises #GP, Intel SDM vol 2A, CLI).
global fault_divide_by_zero, fault_privileged_instruction, fault_invalid_opcode
fault_divide_by_zero:
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
    div ecx
    ret
fault_privileged_instruction:
    cli
    ret
fault_invalid_opcode:
    ud2
    ret

; The C allocator names the Embedded Swift runtime calls, forwarded to the program's heap
; (Sources/UserSpace/ProgramRuntime/ProgramHeap.swift); Swift may not define functions with these names.
global posix_memalign, free
extern program_posix_memalign, program_free
posix_memalign:
    jmp program_posix_memalign
free:
    jmp program_free

; memset, memcpy, memmove and memcmp come from boot/memory.asm, shared with the kernel.
