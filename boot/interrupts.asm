; Interrupt entry: one stub per vector pushes (error code, vector), saves every general-purpose
; register and calls the Swift dispatcher with a pointer to the saved frame.
;
; Frame layout on the stack, lowest address first, must match InterruptFrame in
; Sources/Kernel/Arch/InterruptFrame.swift: r15 ... rax, vector, errorCode, then what the CPU
; pushed (rip, cs, rflags, rsp, ss — Intel SDM vol 3A §6.14.1).
bits 64
section .text

extern interrupt_dispatch

; Vectors for which the CPU pushes an error code (Intel SDM vol 3A §6.15, table 6-1).
%define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro interrupt_stub 1
interrupt_stub_%1:
%if HAS_ERROR_CODE(%1) == 0
    push 0
%endif
    push %1
    jmp interrupt_common
%endmacro

%assign vector 0
%rep 256
    interrupt_stub vector
%assign vector vector + 1
%endrep

interrupt_common:
    ; From ring 3 (the saved CS has RPL 3): switch GS.base to this CPU's block. The kernel
    ; runs with GS.base = its CPU block and IA32_KERNEL_GS_BASE = the program's GS (Intel SDM
    ; vol 2B, SWAPGS). [rsp] = vector, [rsp+8] = error code, [rsp+24] = CS.
    test byte [rsp + 24], 3
    jz .from_kernel
    swapgs
.from_kernel:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    ; The CPU aligned RSP to 16 bytes before pushing its 5-word frame; 2 + 15 more words
    ; keep it aligned (22 words = 176 bytes), so the call below meets the ABI.
    call interrupt_dispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    ; Back to ring 3: give the program its GS back. [rsp+8] = CS.
    test byte [rsp + 8], 3
    jz .to_kernel
    swapgs
.to_kernel:
    iretq

section .rodata
align 8
; Table of the 256 stub addresses, read by the IDT builder.
global interrupt_stub_table
interrupt_stub_table:
%assign vector 0
%rep 256
    dq interrupt_stub_ %+ vector
%assign vector vector + 1
%endrep
