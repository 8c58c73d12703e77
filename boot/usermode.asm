; Ring 3: entering a program, the SYSCALL entry point, and abandoning a program's context.
;
; System call ABI (what boot/program-runtime.asm uses): RAX = number, arguments in RDI, RSI,
; RDX, R10 (SYSCALL overwrites RCX with the return RIP and R11 with RFLAGS), result in RAX.
; Intel SDM vol 2B (SYSCALL, SYSRET) and vol 3A §5.8.8.
bits 64
section .text

; Offsets in the per-CPU block (CPUBlock in Sources/Kernel/Arch/CPU.swift; checked at boot).
CPU_SYSTEM_CALL_STACK equ 8     ; top of this CPU's kernel stack for system calls
CPU_USER_STACK        equ 16    ; the program's RSP, saved across a system call

extern system_call_dispatch

; The SYSCALL target (IA32_LSTAR). Interrupts are off on entry (IA32_FMASK clears IF), so
; nothing can run on the user stack before we leave it.
global system_call_entry
system_call_entry:
    swapgs
    mov [gs:CPU_USER_STACK], rsp
    mov rsp, [gs:CPU_SYSTEM_CALL_STACK]
    push qword [gs:CPU_USER_STACK]
    push rcx                        ; return RIP
    push r11                        ; return RFLAGS
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    ; system_call_dispatch(number, argument0, argument1, argument2, argument3)
    mov r8, r10
    mov rcx, rdx
    mov rdx, rsi
    mov rsi, rdi
    mov rdi, rax
    sti
    call system_call_dispatch
    cli
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r11
    pop rcx
    pop rsp                         ; the program's stack again
    ; Clear the scratch registers the kernel used so no kernel value leaks to the program.
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    swapgs
    o64 sysret

; void enter_user_mode(uint64 rip, uint64 rsp, uint64 argument)
; Drops to ring 3 at `rip` with stack `rsp` and RDI = `argument`, interrupts on.
global enter_user_mode
enter_user_mode:
    mov rax, rdi
    mov rcx, rsi
    push 0x1B                       ; SS: user data, RPL 3
    push rcx                        ; RSP
    push 0x202                      ; RFLAGS: IF
    push 0x23                       ; CS: user code, RPL 3
    push rax                        ; RIP
    mov rdi, rdx
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    swapgs
    iretq

; void return_to_idle_loop(uint64 stackTop) — never returns.
; Abandons the current stack (a stopped program's interrupt or system call frames) and runs the
; application processor's idle loop from the top of `stackTop`.
extern application_processor_idle
global return_to_idle_loop
return_to_idle_loop:
    mov rsp, rdi
    xor ebp, ebp
    call application_processor_idle
.halt:
    cli
    hlt
    jmp .halt

; uint64 system_call_entry_address(void): for IA32_LSTAR.
global system_call_entry_address
system_call_entry_address:
    lea rax, [rel system_call_entry]
    ret

; void switch_kernel_stack(uint64 *save, uint64 stackPointer) — the context switch.
; Pushes the callee-saved registers of the SysV ABI (the caller saved the rest), stores RSP in
; *save, loads `stackPointer` and pops the registers saved there in the same order: it
; "returns" on the other stack, into whoever switched away from it — or, for a program that
; never ran, into task_first_entry (the stack `ProgramTasks.prepareStack` built). Interrupts
; must be off: the switch is not re-entrant on one CPU.
global switch_kernel_stack
switch_kernel_stack:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; A new program's first return from switch_kernel_stack lands here with RSP 16-byte aligned
; (as `ProgramTasks.prepareStack` arranged), so the call below meets the ABI.
extern program_task_start
task_first_entry:
    xor ebp, ebp
    call program_task_start         ; enters ring 3; never returns
.halt:
    cli
    hlt
    jmp .halt

; uint64 task_first_entry_address(void)
global task_first_entry_address
task_first_entry_address:
    lea rax, [rel task_first_entry]
    ret
